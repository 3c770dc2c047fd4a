import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { renderDisplayBody } from './display-body.js';

/**
 * edge/openapi.json (issue 15 item 5) describes what the edge answers: the
 * routes are the server's own table, and the documented fields of /v1/code
 * and /v1/keys are the fields the code writes — so the document cannot
 * drift from the wire without this failing.
 */
type Schema = { properties?: Record<string, unknown>; required?: string[] };
const doc = JSON.parse(readFileSync(new URL('./openapi.json', import.meta.url), 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json': { schema: Schema } } }> }>>;
  components: { schemas: Record<string, Schema> };
};

function ok(path: string, method: string): Schema {
  return doc.paths[path]![method]!.responses['200']!.content!['application/json'].schema;
}

describe('edge OpenAPI document', () => {
  it('documents exactly the API routes of the server, with their methods', () => {
    const src = readFileSync(new URL('./server.ts', import.meta.url), 'utf8');
    const table = [...src.matchAll(/\['(\/v1\/[a-z]+)', '(GET|POST)'\]/g)].map((m) => `${m[2]} ${m[1]}`).sort();
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    expect(doc.openapi).toBe('3.1.0');
    expect(documented).toEqual(table);
    expect(documented).toEqual(['GET /v1/code', 'GET /v1/keys', 'POST /v1/scan', 'POST /v1/verify']);
  });

  it('/v1/code lists the fields the edge writes', () => {
    const body = JSON.parse(
      renderDisplayBody({ color: 'yellow', reason: 'risk_area', since: 1, until: null, name: '张*三', notices: [], seq: 1 }, 'TF1:X', 2, 1).toString(),
    ) as Record<string, unknown>;
    const s = ok('/v1/code', 'get');
    expect(Object.keys(s.properties!).sort()).toEqual(Object.keys(body).sort());
    for (const r of s.required!) expect(body).toHaveProperty(r);
  });

  it('/v1/keys matches the key set the edge serves', () => {
    const s = ok('/v1/keys', 'get');
    expect(Object.keys(s.properties!)).toEqual(Object.keys(new KeySet([]).toPublicJson()));
    expect(doc.components.schemas.PublicKey!.required!.sort()).toEqual(['alg', 'kid', 'notAfter', 'notBefore', 'publicKey']);
  });

  it('every error answer points at the error schema', () => {
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) {
        for (const [code, r] of Object.entries(op.responses)) {
          if (Number(code) >= 400) expect((r.content?.['application/json'].schema as { $ref?: string }).$ref, `${p} ${code}`).toBe('#/components/schemas/Error');
        }
      }
    }
  });
});
