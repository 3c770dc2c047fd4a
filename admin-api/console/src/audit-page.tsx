import { useCallback, useEffect, useState } from 'react';
import { api, apiBlob } from './api.js';
import { detailsZh } from '../../audit-labels.js';
import { ACTION_LABEL, fmtAny, localInputToSec, OUTCOME_LABEL, reasonText, ROLE_LABEL, triggerDownload } from './format.js';
import { Empty, ErrorBox, Section, useBusy } from './ui.js';

/**
 * 审计日志: the hash-chained trail of every write and every read of personal
 * data (issue 5 item 4), newest first, and 校验 — the server recomputes the
 * chain and says whether any row was edited, inserted or deleted.
 */

/** master/audit-log.ts AuditEntry, as GET /admin/v1/audit answers it. */
export interface AuditRow {
  seq: number;
  /** ISO 8601 */
  at: string;
  actor: string;
  role: string;
  action: string;
  target: string | null;
  fromAddr: string | null;
  outcome: string;
  details: Record<string, unknown>;
  hash?: string;
}

/** master/audit-log.ts AuditVerifyResult */
export interface VerifyAnswer {
  ok: boolean;
  entries: number;
  firstBadSeq?: number;
  problem?: 'missing' | 'prev_hash' | 'hash' | 'head';
  detail?: string;
}

const PROBLEM_TEXT: Record<string, string> = {
  missing: '记录缺失（被删除）',
  prev_hash: '前序哈希不符（记录被插入、删除或重排）',
  hash: '记录内容与哈希不符（被修改）',
  head: '链尾与登记的链头不符（末尾记录被删除或追加）',
};

const PAGE = 50;

function detailText(d: Record<string, unknown> | null | undefined): string {
  return detailsZh(d, reasonText);
}

const OK_OUTCOMES = new Set(['ok', 'pending']);

export function AuditPage() {
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const { busy, run } = useBusy(setError);
  const [verify, setVerify] = useState<VerifyAnswer | null>(null);
  const [more, setMore] = useState(true);
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [outcome, setOutcome] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [applied, setApplied] = useState<Record<string, string>>({});

  const fetchPage = useCallback(async (before: number | null) => {
    const q = new URLSearchParams({ limit: String(PAGE), order: 'desc', ...applied });
    if (before !== null) q.set('before', String(before));
    const got = (await api<{ entries: AuditRow[] }>('GET', `/admin/v1/audit?${q}`)).entries;
    setMore(got.length >= PAGE);
    return got;
  }, [applied]);

  function filters(): Record<string, string> {
    const f: Record<string, string> = {};
    if (actor.trim() !== '') f.actor = actor.trim().toLowerCase();
    if (action !== '') f.action = action;
    if (outcome !== '') f.outcome = outcome;
    const a = localInputToSec(from);
    const b = localInputToSec(to);
    if (a !== null) f.from = String(a);
    if (b !== null) f.to = String(b);
    return f;
  }

  async function exportXlsx() {
    await run(async () => {
      const blob = await apiBlob(`/admin/v1/audit/export.xlsx?${new URLSearchParams(applied)}`);
      triggerDownload(blob, `审计日志-${new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)}.xlsx`);
    });
  }

  const refresh = useCallback(async () => {
    await run(async () => {
      setRows(await fetchPage(null));
    });
  }, [fetchPage, run]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  async function loadMore() {
    const last = rows[rows.length - 1];
    if (!last) return;
    const before = last.seq;
    await run(async () => {
      const got = await fetchPage(before);
      setRows((r) => [...r, ...got]);
    });
  }

  async function runVerify() {
    setVerify(null);
    await run(async () => {
      setVerify(await api<VerifyAnswer>('POST', '/admin/v1/audit/verify', {}));
      // the verification is itself an audit entry: show it
      setRows(await fetchPage(null));
    });
  }

  const broken = verify && !verify.ok ? verify.firstBadSeq ?? null : null;
  const why = verify && !verify.ok ? [verify.problem ? PROBLEM_TEXT[verify.problem] ?? verify.problem : '', verify.detail ?? ''].filter(Boolean).join('；') : '';

  return (
    <Section
      title="审计日志"
      actions={
        <>
          <button type="button" onClick={() => void refresh()} disabled={busy}>
            刷新
          </button>
          <button type="button" onClick={() => void exportXlsx()} disabled={busy} data-testid="audit-export">
            导出 Excel
          </button>
          <button type="button" className="btn-primary" onClick={() => void runVerify()} disabled={busy} data-testid="verify">
            校验
          </button>
        </>
      }
    >
      {verify ? (
        verify.ok ? (
          <div className="msg msg-ok" role="status" data-testid="verify-result" data-ok="true">
            校验通过：共 {verify.entries} 条记录，哈希链完整，未发现篡改、插入或删除。
          </div>
        ) : (
          <div className="msg msg-error" role="alert" data-testid="verify-result" data-ok="false">
            校验失败：哈希链断裂{broken !== null ? `（序号 ${broken}）` : ''}，日志可能被篡改、插入或删除。已校验 {verify.entries} 条。
            {why ? ` 原因：${why}` : ''}
          </div>
        )
      ) : null}
      <form
        className="filters"
        aria-label="筛选"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters());
        }}
      >
        <label>
          操作人
          <input name="actor" value={actor} onChange={(e) => setActor(e.target.value)} placeholder="用户名" />
        </label>
        <label>
          操作
          <select name="action" value={action} onChange={(e) => setAction(e.target.value)}>
            <option value="">全部</option>
            {Object.entries(ACTION_LABEL).map(([k, l]) => (
              <option key={k} value={k}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          结果
          <select name="outcome" value={outcome} onChange={(e) => setOutcome(e.target.value)}>
            <option value="">全部</option>
            {Object.entries(OUTCOME_LABEL).map(([k, l]) => (
              <option key={k} value={k}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          开始时间（北京时间）
          <input type="datetime-local" name="from" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          结束时间
          <input type="datetime-local" name="to" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="submit" className="btn-primary" disabled={busy}>
          筛选
        </button>
        <button
          type="button"
          onClick={() => {
            setActor('');
            setAction('');
            setOutcome('');
            setFrom('');
            setTo('');
            setApplied({});
          }}
        >
          清除
        </button>
      </form>
      <ErrorBox error={error} />
      {rows.length === 0 && !busy ? (
        <Empty>暂无审计记录</Empty>
      ) : (
        <table className="audit" data-testid="audit-table">
          <thead>
            <tr>
              <th>序号</th>
              <th>时间</th>
              <th>操作人</th>
              <th>操作</th>
              <th>对象</th>
              <th>结果</th>
              <th>来源地址</th>
              <th>详情</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.seq} data-action={r.action}>
                <td>{r.seq}</td>
                <td className="nowrap">{fmtAny(r.at)}</td>
                <td>
                  {r.actor}
                  {r.role && r.role !== 'none' ? <span className="muted">（{ROLE_LABEL[r.role] ?? r.role}）</span> : null}
                </td>
                <td title={r.action}>{ACTION_LABEL[r.action] ?? r.action}</td>
                <td>{r.target ?? '—'}</td>
                <td className={OK_OUTCOMES.has(r.outcome) ? 'ok' : 'bad'}>{OUTCOME_LABEL[r.outcome] ?? r.outcome}</td>
                <td>{r.fromAddr ?? '—'}</td>
                <td className="detail">{detailText(r.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more && rows.length > 0 ? (
        <button type="button" onClick={() => void loadMore()} disabled={busy}>
          加载更早的记录
        </button>
      ) : null}
    </Section>
  );
}
