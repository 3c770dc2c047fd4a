import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { KB_CATEGORIES, KB_CATEGORY_ZH } from '../labels.js';
import { citErrorText, fmtMs } from './common.js';

/**
 * 知识库: full-text search for hotline seats (bigrams, 繁体, 拼音首字母),
 * the article list with each article's newest version and state, and for
 * editors: new article / new version, 提交审核, 退回, 发布 (by someone other
 * than the author), 撤回.
 */
interface Hit { id: number; title: string; categoryZh: string; snippet: string; body: string; version: number }
interface Version { version: number; title: string; body: string; status: string; statusZh: string; author: string; reviewedBy: string | null; createdAt: number }
interface Article { id: number; category: string; categoryZh: string; publishedVersion: number | null; updatedAt: number; latest: Version }

export function KbPage({ canWrite }: { canWrite: boolean }) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [open, setOpen] = useState<Hit | null>(null);
  const [articles, setArticles] = useState<Article[]>([]);
  const [edit, setEdit] = useState<{ id: number | null; category: string; title: string; body: string }>({ id: null, category: 'faq', title: '', body: '' });
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    api<{ articles: Article[] }>('GET', '/admin/v1/kb').then((r) => setArticles(r.articles)).catch((e: unknown) => setError(citErrorText(e)));
  }, [tick]);

  useEffect(() => {
    const text = q.trim();
    if (text === '') {
      setHits(null);
      return;
    }
    const t = setTimeout(() => {
      api<{ hits: Hit[] }>('GET', `/admin/v1/kb/search?${new URLSearchParams({ q: text })}`).then((r) => setHits(r.hits)).catch((e: unknown) => setError(citErrorText(e)));
    }, 200);
    return () => clearTimeout(t);
  }, [q, tick]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setOk(null);
    try {
      const body = { category: edit.category, title: edit.title, body: edit.body };
      const a = await api<Article>('POST', edit.id === null ? '/admin/v1/kb' : `/admin/v1/kb/${edit.id}`, body);
      setOk(`已保存为草稿（文章 ${a.id}，第 ${a.latest.version} 版）`);
      setEdit({ id: null, category: 'faq', title: '', body: '' });
      setTick((t) => t + 1);
    } catch (err) {
      setError(citErrorText(err));
    }
  }

  async function act(id: number, action: 'submit' | 'reject' | 'publish' | 'withdraw') {
    setError(null);
    setOk(null);
    try {
      await api('POST', `/admin/v1/kb/${id}/${action}`);
      setOk({ submit: '已提交审核', reject: '已退回修改', publish: '已发布，群众页面和热线检索即时可见', withdraw: '已撤回' }[action]);
      setTick((t) => t + 1);
    } catch (err) {
      setError(citErrorText(err));
    }
  }

  return (
    <>
      <Section title="知识检索">
        <div className="form-row">
          <label className="grow">关键词（支持繁体、拼音首字母）<input value={q} onChange={(e) => setQ(e.target.value)} maxLength={100} placeholder="例如：健康码变黄 / hsjc" /></label>
        </div>
        {hits === null ? null : hits.length === 0 ? <Empty>没有找到相关文章</Empty> : (
          <ol>
            {hits.map((h) => (
              <li key={h.id}>
                <button type="button" className="btn-link" onClick={() => setOpen(h)}>{h.title}</button> <span className="muted">{h.categoryZh}</span>
                <div className="muted">{h.snippet}</div>
              </li>
            ))}
          </ol>
        )}
        {open ? (
          <article>
            <h3>{open.title}</h3>
            <p style={{ whiteSpace: 'pre-wrap' }}>{open.body}</p>
            <button type="button" onClick={() => setOpen(null)}>收起</button>
          </article>
        ) : null}
      </Section>
      <Section title="文章管理">
        <ErrorBox error={error} />
        {ok ? <OkBox>{ok}</OkBox> : null}
        {articles.length === 0 ? <Empty>暂无文章</Empty> : (
          <table>
            <thead><tr><th>分类</th><th>标题（最新版本）</th><th>版本</th><th>状态</th><th>线上版本</th><th>作者</th><th>更新</th><th /></tr></thead>
            <tbody>
              {articles.map((a) => (
                <tr key={a.id}>
                  <td>{a.categoryZh}</td><td>{a.latest.title}</td><td className="num">{a.latest.version}</td><td>{a.latest.statusZh}</td>
                  <td>{a.publishedVersion === null ? '未上线' : `第 ${a.publishedVersion} 版`}</td><td>{a.latest.author}</td><td>{fmtMs(a.updatedAt)}</td>
                  <td>
                    {canWrite ? (
                      <>
                        <button type="button" className="btn-link" onClick={() => setEdit({ id: a.id, category: a.category, title: a.latest.title, body: a.latest.body })}>编辑</button>
                        {a.latest.status === 'draft' ? <button type="button" className="btn-link" onClick={() => void act(a.id, 'submit')}>提交审核</button> : null}
                        {a.latest.status === 'review' ? <button type="button" className="btn-link" onClick={() => void act(a.id, 'publish')}>审核发布</button> : null}
                        {a.latest.status === 'review' ? <button type="button" className="btn-link" onClick={() => void act(a.id, 'reject')}>退回</button> : null}
                        {a.publishedVersion !== null ? <button type="button" className="btn-link" onClick={() => void act(a.id, 'withdraw')}>撤回</button> : null}
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {canWrite ? (
        <Section title={edit.id === null ? '新建文章' : `编辑文章 ${edit.id}（保存为新版本草稿）`}>
          <form onSubmit={save} aria-label="编辑文章">
            <div className="form-row">
              <label>分类
                <select value={edit.category} onChange={(e) => setEdit({ ...edit, category: e.target.value })}>
                  {KB_CATEGORIES.map((c) => <option key={c} value={c}>{KB_CATEGORY_ZH[c]}</option>)}
                </select>
              </label>
              <label className="grow">标题<input value={edit.title} onChange={(e) => setEdit({ ...edit, title: e.target.value })} maxLength={200} required /></label>
            </div>
            <label>正文<textarea className="code-editor" value={edit.body} onChange={(e) => setEdit({ ...edit, body: e.target.value })} rows={8} maxLength={20000} required /></label>
            <div className="form-row">
              <button type="submit" className="btn-primary">保存草稿</button>
              {edit.id !== null ? <button type="button" onClick={() => setEdit({ id: null, category: 'faq', title: '', body: '' })}>取消</button> : null}
            </div>
          </form>
        </Section>
      ) : null}
    </>
  );
}
