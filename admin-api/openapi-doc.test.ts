import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from './admin-fixture.common.js';

/**
 * /admin/openapi.json documents every operation's success answer with a
 * schema (issue 15 item 5), and the docs page renders it.
 */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin({ accounts: false });
});
afterAll(async () => {
  await f?.close();
});

interface Op {
  responses?: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }>; description?: string }>;
  summary?: string;
}

describe('OpenAPI document', () => {
  it('gives every operation a summary and a success response with a schema', async () => {
    const doc = (await f.call('GET', '/admin/openapi.json')).body as { paths: Record<string, Record<string, Op>> };
    const missing: string[] = [];
    let n = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        n++;
        const ok = Object.entries(op.responses ?? {}).filter(([code]) => /^2/.test(code));
        const typed = ok.some(([code, r]) =>
          (code === '204' && typeof r.description === 'string') ||
          Object.values(r.content ?? {}).some((c) => c.schema !== undefined && Object.keys(c.schema).length > 0));
        if (!typed || !op.summary) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(missing).toEqual([]);
    expect(n).toBeGreaterThan(30);
  });

  it('the docs page and both documents are served by the stack, without a token', async () => {
    const page = await fetch(`${f.base}/admin/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('健康码接口文档');
    expect((await fetch(`${f.base}/admin/docs/docs.js`)).status).toBe(200);
    const edge = (await (await fetch(`${f.base}/admin/docs/edge-openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(edge.paths).sort()).toEqual(['/v1/code', '/v1/keys', '/v1/scan', '/v1/verify']);
    expect((await fetch(`${f.base}/admin/docs/nope.js`)).status).toBe(404);
    expect((await fetch(`${f.base}/admin/docs`, { redirect: 'manual' })).status).toBe(301);
  });
});
