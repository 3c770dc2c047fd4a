import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type Fixture } from '../admin-api/admin-fixture.common.js';
import { CITIZEN } from './capability.js';
import { initials, terms } from './kb-text.js';

/**
 * 咨询知识库: drafts → review → publish by another user, versions, Chinese
 * full-text search for seats and the page, the page's cacheable list (ETag).
 */
let f: Fixture;
beforeAll(async () => {
  f = await startAdmin({ capabilities: [CITIZEN] });
});
afterAll(async () => {
  await f?.close();
});

async function article(category: string, title: string, body: string, by: 'operator' | 'admin' = 'operator'): Promise<number> {
  const c = await f.call('POST', '/admin/v1/kb', { token: f.tokens[by], body: { category, title, body } });
  expect(c.status).toBe(200);
  return c.body.id as number;
}

async function publish(id: number, author: 'operator' | 'admin' = 'operator'): Promise<void> {
  const reviewer = author === 'operator' ? 'operator2' : 'operator';
  expect((await f.call('POST', `/admin/v1/kb/${id}/submit`, { token: f.tokens[author] })).status).toBe(200);
  const p = await f.call('POST', `/admin/v1/kb/${id}/publish`, { token: f.tokens[reviewer] });
  expect(p.status).toBe(200);
}

describe('terms', () => {
  it('Han bigrams, Latin words, traditional folded to simplified, pinyin initials', () => {
    expect(terms('核酸检测')).toEqual(['核酸', '酸检', '检测']);
    expect(terms('核酸檢測')).toEqual(['核酸', '酸检', '检测']);
    expect(terms('码 TF1 code')).toEqual(['码', 'tf1', 'code']);
    expect(initials('核酸检测结果')).toBe('hsjcjg');
  });
});

describe('knowledge base', () => {
  let natId = 0;
  it('draft → review → publish by another user; the author may not publish their own; markup refused', async () => {
    natId = await article('testing', '核酸检测结果多久能查到', '一般在采样后 24 小时内出结果。结果出来后，健康码页面会自动更新，无需申诉。');
    expect((await f.call('POST', `/admin/v1/kb/${natId}/publish`, { token: f.tokens.operator2 })).body.error).toBe('CIT_ERR_KB_STATE');
    expect((await f.call('POST', `/admin/v1/kb/${natId}/submit`, { token: f.tokens.operator })).status).toBe(200);
    const own = await f.call('POST', `/admin/v1/kb/${natId}/publish`, { token: f.tokens.operator });
    expect(own.status).toBe(403);
    expect(own.body.error).toBe('CIT_ERR_KB_SAME_REVIEWER');
    const p = await f.call('POST', `/admin/v1/kb/${natId}/publish`, { token: f.tokens.operator2 });
    expect(p.body).toMatchObject({ publishedVersion: 1, latest: { status: 'published', statusZh: '已发布', reviewedBy: 'operator2' } });
    const bad = await f.call('POST', '/admin/v1/kb', { token: f.tokens.operator, body: { category: 'faq', title: '问题', body: '<script>x</script>' } });
    expect(bad.body.error).toBe('CIT_ERR_TEXT_MARKUP');
    expect((await f.call('POST', '/admin/v1/kb', { token: f.tokens.hotline, body: { category: 'faq', title: '问', body: '答' } })).status).toBe(403);
    const audit = await f.audit.list({ limit: 10, order: 'desc' });
    expect(audit.some((e) => e.action === 'kb.publish' && e.actor === 'operator2')).toBe(true);
  });

  it('a new version keeps the old one online until it is published, then supersedes it', async () => {
    const e = await f.call('POST', `/admin/v1/kb/${natId}`, {
      token: f.tokens.admin, body: { title: '核酸检测结果多久能查到？', body: '一般在采样后 12 小时内出结果，最长不超过 24 小时。' },
    });
    expect(e.body).toMatchObject({ publishedVersion: 1, latest: { version: 2, status: 'draft' } });
    let pub = await f.call('GET', '/citizen/v1/kb');
    expect(pub.body.articles.find((a: { id: number }) => a.id === natId).version).toBe(1);
    await publish(natId, 'admin');
    pub = await f.call('GET', '/citizen/v1/kb');
    expect(pub.body.articles.find((a: { id: number }) => a.id === natId)).toMatchObject({ version: 2, body: expect.stringContaining('12 小时') });
    const full = await f.call('GET', `/admin/v1/kb/${natId}`, { token: f.tokens.hotline });
    expect(full.body.versions.map((v: { status: string }) => v.status)).toEqual(['published', 'superseded']);
  });

  it('seats search in Chinese: ranked, traditional and pinyin initials work, drafts and withdrawn articles are not found', async () => {
    const green = await article('code_rules', '为什么我的健康码变黄了', '如果您到过中高风险地区，或入川后未按时完成核酸检测，健康码会转为黄码。完成检测且结果阴性后自动恢复。');
    await publish(green);
    const travel = await article('travel', '行程卡怎么查询', '在健康码页面点击"行程卡"，输入手机号和短信验证码，即可查看 14 天内到访的城市。');
    await publish(travel);
    await article('faq', '未发布的草稿：核酸检测', '草稿内容：核酸检测');
    const h = await f.call('GET', `/admin/v1/kb/search?q=${encodeURIComponent('健康码变黄')}`, { token: f.tokens.hotline });
    expect(h.status).toBe(200);
    expect(h.body.hits[0]).toMatchObject({ id: green, categoryZh: '赋码规则' });
    const nat = await f.call('GET', `/admin/v1/kb/search?q=${encodeURIComponent('核酸結果多久')}`, { token: f.tokens.hotline });
    expect(nat.body.hits[0].id).toBe(natId);
    expect(nat.body.hits.every((x: { title: string }) => !x.title.includes('草稿'))).toBe(true);
    const py = await f.call('GET', '/admin/v1/kb/search?q=xck', { token: f.tokens.hotline });
    expect(py.body.hits.map((x: { id: number }) => x.id)).toEqual([travel]);
    expect((await f.call('GET', `/admin/v1/kb/search?q=${encodeURIComponent('天气预报')}`, { token: f.tokens.hotline })).body.hits).toEqual([]);
    // withdrawn: gone from search and the page
    expect((await f.call('POST', `/admin/v1/kb/${travel}/withdraw`, { token: f.tokens.operator })).status).toBe(200);
    expect((await f.call('GET', '/citizen/v1/kb/search?q=xck')).body.hits).toEqual([]);
  });

  it('the page\'s list is cacheable: ETag, Cache-Control, 304 when unchanged, a new one after a publish', async () => {
    const a = await f.call('GET', '/citizen/v1/kb');
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toContain('max-age=300');
    const etag = a.headers.get('etag')!;
    expect(etag).toMatch(/^"kb-/);
    expect(a.body.categories.map((c: { categoryZh: string }) => c.categoryZh)).toContain('常见问题');
    const b = await f.call('GET', '/citizen/v1/kb', { headers: { 'if-none-match': etag } });
    expect(b.status).toBe(304);
    await publish(await article('faq', '健康码是否全国通用', '各省健康码互认，跨省出行请按目的地要求出示。'));
    const c = await f.call('GET', '/citizen/v1/kb', { headers: { 'if-none-match': etag } });
    expect(c.status).toBe(200);
    expect(c.headers.get('etag')).not.toBe(etag);
  });
});

