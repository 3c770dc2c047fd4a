import { useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { fmtTime } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox } from '../../admin-api/console/src/ui.js';
import { sourceLabel, trcErrorText } from './trc-common.js';

/**
 * 全文检索 on the lineage section: one box over import batches (file
 * names, batch ids), facts lineage, rule versions, risk areas and venues
 * (POST /admin/v1/tracing/search), 20 per kind with 上一页/下一页.
 */
interface Hit { id: string; title: string; detail: Record<string, unknown> }
interface Result { results: { kind: string; hits: Hit[]; more: boolean }[] }

const KIND_LABEL: Record<string, string> = { batches: '导入批次（文件）', lineage: '数据溯源（来源/批次）', rules: '规则版本', riskAreas: '风险区域', venues: '场所' };
const STATUS_LABEL: Record<string, string> = { queued: '排队中', running: '导入中', done: '已完成', failed: '失败', draft: '草稿', published: '已发布', rolled_back: '已回退' };
const LEVEL_LABEL: Record<string, string> = { high: '高风险', medium: '中风险', low: '低风险' };
const PAGE = 20;

function line(kind: string, h: Hit): string {
  const d = h.detail;
  const t = (v: unknown) => (typeof v === 'number' ? fmtTime(v) : '—');
  switch (kind) {
    case 'batches': return `${String(d.department)}，${String(d.regionName)}，${STATUS_LABEL[String(d.status)] ?? '—'}，接收 ${String(d.accepted)} 行、拒收 ${String(d.rejected)} 行，${t(d.createdAt)}`;
    case 'lineage': return `${sourceLabel(String(d.source))}，${String(d.facts)} 条事实，涉及 ${String(d.people)} 人，${t(d.first)} 至 ${t(d.last)}`;
    case 'rules': return `${STATUS_LABEL[String(d.status)] ?? '—'}，生效 ${t(d.activeFrom)}`;
    case 'riskAreas': return `${LEVEL_LABEL[String(d.level)] ?? '—'}，自 ${t(d.since)}`;
    default: return `${String(d.regionName)}`;
  }
}

export function FullSearchBox() {
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [res, setRes] = useState<Result | null>(null);
  const [error, setError] = useState<string | null>(null);

  const run = (off: number) => {
    setError(null);
    api<Result>('POST', '/admin/v1/tracing/search', { q, offset: off, limit: PAGE })
      .then((r) => { setRes(r); setOffset(off); })
      .catch((e: unknown) => { setRes(null); setError(trcErrorText(e)); });
  };
  const more = res?.results.some((r) => r.more) ?? false;
  return (
    <div data-testid="trc-full-search">
      <form onSubmit={(e) => { e.preventDefault(); run(0); }}>
        <input aria-label="全文检索" placeholder="文件名、批次号、规则版本、地区或场所名称" value={q} onChange={(e) => setQ(e.target.value)} style={{ width: '28em' }} />
        <button type="submit">检索</button>
      </form>
      <ErrorBox error={error} />
      {res === null ? null : res.results.every((r) => r.hits.length === 0) ? <Empty>没有找到匹配的内容。</Empty> : (
        <>
          {res.results.filter((r) => r.hits.length > 0).map((r) => (
            <div key={r.kind}>
              <h4>{KIND_LABEL[r.kind] ?? '其他'}</h4>
              <ul>{r.hits.map((h) => <li key={h.id}><b>{h.title === '—' ? '（接口）' : h.title}</b>　{line(r.kind, h)}</li>)}</ul>
            </div>
          ))}
          <p>
            <button type="button" disabled={offset === 0} onClick={() => run(Math.max(0, offset - PAGE))}>上一页</button>
            <button type="button" disabled={!more} onClick={() => run(offset + PAGE)}>下一页</button>
          </p>
        </>
      )}
    </div>
  );
}
