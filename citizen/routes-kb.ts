import type { FastifyInstance } from 'fastify';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { KnowledgeBase } from './kb.js';
import { KB_CATEGORIES, KB_CATEGORY_ZH } from './labels.js';

/**
 * Routes of 咨询知识库.
 *
 *   citizen page (public)   GET /citizen/v1/kb           published articles, ETag + Cache-Control (the page keeps an offline copy)
 *                           GET /citizen/v1/kb/search?q=
 *   seats, officials        GET /admin/v1/kb/search?q=   (kb.read) ranked Chinese full-text search
 *                           GET /admin/v1/kb, /admin/v1/kb/:id (kb.read)
 *   editors (kb.write)      POST /admin/v1/kb, /admin/v1/kb/:id (new draft), /:id/submit|reject|publish|withdraw — audited
 */
const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } } } as const;
const Q = { type: 'object', additionalProperties: false, required: ['q'], properties: { q: { type: 'string', maxLength: 100 } } } as const;
const ARTICLE_PROPS = {
  category: { type: 'string', enum: [...KB_CATEGORIES] },
  title: { type: 'string', maxLength: 400 },
  body: { type: 'string', maxLength: 40000 },
} as const;

/** Help may be a few minutes old; a changed set is picked up by revalidation (ETag) without downloading it again. */
const CACHE_CONTROL = 'public, max-age=300, stale-while-revalidate=86400';

export function registerKbRoutes(app: FastifyInstance, ctx: Ctx, kb: KnowledgeBase): void {
  // In a context of its own: app.ts marks every answer no-store (API answers
  // carry personal data); published help carries none, and this context's
  // onSend hook runs after that one and puts the cache policy back.
  void app.register(async (pub) => {
    pub.addHook('onSend', async (_req, reply, payload) => {
      if (reply.statusCode === 200 || reply.statusCode === 304) void reply.header('cache-control', CACHE_CONTROL);
      return payload;
    });
    pub.get('/citizen/v1/kb', {
      config: { access: 'public', rate: 'session' },
      schema: { summary: 'Published help articles by category (ETag; 304 when unchanged)', tags: ['citizen'] },
    }, async (req, reply) => {
      const list = await kb.published();
      const etag = KnowledgeBase.etagOf(list);
      void reply.header('etag', etag);
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag)) return reply.code(304).send();
      return {
        categories: KB_CATEGORIES.map((c) => ({ category: c, categoryZh: KB_CATEGORY_ZH[c] })),
        articles: list,
      };
    });
  });

  app.get('/citizen/v1/kb/search', {
    config: { access: 'public', rate: 'session' },
    schema: { summary: 'Search the published help articles (Chinese full text)', tags: ['citizen'], querystring: Q },
  }, async (req) => ({ hits: await kb.search((req.query as { q: string }).q, 20) }));

  app.get('/admin/v1/kb/search', {
    config: { access: 'kb.read', rate: 'admin' },
    schema: { summary: 'Hotline seats: ranked full-text search of the published articles (bigrams, traditional folded, pinyin initials)', tags: ['citizen'], querystring: Q },
  }, async (req) => ({ hits: await kb.search((req.query as { q: string }).q, 50) }));

  app.get('/admin/v1/kb', {
    config: { access: 'kb.read', rate: 'admin' },
    schema: { summary: 'Every article with its newest version and state', tags: ['citizen'] },
  }, async () => ({ articles: await kb.list() }));

  app.get('/admin/v1/kb/:id', {
    config: { access: 'kb.read', rate: 'admin' },
    schema: { summary: 'One article with all its versions', tags: ['citizen'], params: ID_PARAMS },
  }, async (req) => kb.get(Number((req.params as { id: string }).id)));

  app.post('/admin/v1/kb', {
    config: { access: 'kb.write', rate: 'admin' },
    schema: {
      summary: 'New article (version 1, draft)', tags: ['citizen'],
      body: { type: 'object', additionalProperties: false, required: ['category', 'title', 'body'], properties: ARTICLE_PROPS },
    },
  }, async (req) => {
    const who = principalOf(req);
    const a = await kb.create(req.body as { category: string; title: string; body: string }, who.username);
    await ctx.audit(req, { action: 'kb.create', target: `kb:${a.id}`, outcome: 'ok', details: { articleId: a.id, category: a.category } });
    return a;
  });

  app.post('/admin/v1/kb/:id', {
    config: { access: 'kb.write', rate: 'admin' },
    schema: {
      summary: 'Edit: a new draft version (the published one stays online until it is replaced)', tags: ['citizen'], params: ID_PARAMS,
      body: { type: 'object', additionalProperties: false, required: ['title', 'body'], properties: ARTICLE_PROPS },
    },
  }, async (req) => {
    const who = principalOf(req);
    const id = Number((req.params as { id: string }).id);
    const a = await kb.edit(id, req.body as { title: string; body: string; category?: string }, who.username);
    await ctx.audit(req, { action: 'kb.edit', target: `kb:${id}`, outcome: 'ok', details: { articleId: id, version: a.latest.version } });
    return a;
  });

  for (const action of ['submit', 'reject', 'publish', 'withdraw'] as const) {
    app.post(`/admin/v1/kb/:id/${action}`, {
      config: { access: 'kb.write', rate: 'admin' },
      schema: {
        summary: { submit: 'Submit the draft for review', reject: 'Send the version back to draft', publish: 'Publish the reviewed version (not by its author)', withdraw: 'Take the article offline' }[action],
        tags: ['citizen'], params: ID_PARAMS,
      },
    }, async (req) => {
      const who = principalOf(req);
      const id = Number((req.params as { id: string }).id);
      return kb.transition(id, action, who.username, async (tx, v) => {
        await ctx.audit(req, { action: `kb.${action}`, target: `kb:${id}`, outcome: 'ok', details: { articleId: id, version: v.version } }, tx);
      });
    });
  }
}
