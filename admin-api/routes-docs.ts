import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Ctx } from './context.js';

/**
 * 接口文档 served by the stack (issue 15 item 5): GET /admin/docs/ renders
 * /admin/openapi.json (this API, generated from the routes' schemas) and
 * edge/openapi.json (the edge's /v1/code, /v1/scan, /v1/verify, /v1/keys,
 * a static document kept honest by edge/openapi.test.ts). Public, like
 * /admin/openapi.json: it documents, it grants nothing. Files are read once
 * at start (they ship beside the code: admin-api/docs/, edge/openapi.json).
 */
const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function read(rel: string): string {
  // from source (admin-api/*.ts) and from the build (dist/admin-api/*.js) alike: the files sit beside the source tree
  for (const base of ['./', '../../admin-api/']) {
    try {
      return readFileSync(new URL(base + rel, import.meta.url), 'utf8');
    } catch {
      // next candidate
    }
  }
  throw new Error(`admin-api docs file ${rel} not found`);
}

function readEdge(): string {
  for (const rel of ['../edge/openapi.json', '../../edge/openapi.json']) {
    try {
      return readFileSync(new URL(rel, import.meta.url), 'utf8');
    } catch {
      // next candidate
    }
  }
  throw new Error('edge/openapi.json not found');
}

export function registerDocsRoutes(app: FastifyInstance, _ctx: Ctx): void {
  const files: Record<string, [string, string]> = {
    '': [read('docs/index.html'), 'text/html; charset=utf-8'],
    'docs.js': [read('docs/docs.js'), 'text/javascript; charset=utf-8'],
    'docs.css': [read('docs/docs.css'), 'text/css; charset=utf-8'],
    'edge-openapi.json': [readEdge(), 'application/json; charset=utf-8'],
  };
  const hidden = { hide: true } as Record<string, unknown>;
  app.get('/admin/docs', { config: { access: 'public' }, schema: hidden }, async (_req, reply) => reply.redirect('/admin/docs/', 301));
  app.get('/admin/docs/:file', { config: { access: 'public' }, schema: hidden }, async (req, reply) => {
    const f = files[(req.params as { file: string }).file];
    if (f === undefined) return reply.callNotFound();
    return reply.type(f[1]).header('content-security-policy', DOCS_CSP).send(f[0]);
  });
  app.get('/admin/docs/', { config: { access: 'public' }, schema: hidden }, async (_req, reply) =>
    reply.type(files['']![1]).header('content-security-policy', DOCS_CSP).send(files['']![0]));
}
