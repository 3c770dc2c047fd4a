import { useEffect, useState } from 'react';
import { api } from './api.js';
import { ACTION_LABEL, COLOR_HEX, COLOR_LABEL, errorText, fmtAny, OUTCOME_LABEL, reasonText, RISK_LEVEL_LABEL } from './format.js';
import { RegionName } from './regions.js';
import { Empty, ErrorBox, Section } from './ui.js';

/**
 * 首页: what an official wants to see first — how many people hold each
 * colour (of their city, for a city officer), why the yellow and red ones
 * are, how many place codes and risk areas are in force, bulk changes
 * waiting for a second approver, and the latest audit entries. Counts only.
 */
interface Overview {
  regionPrefix: string;
  colors: { green: number; yellow: number; red: number };
  reasons: { color: string; reason: string; n: number }[];
  people: number;
  venues: number;
  riskAreas: { high: number; medium: number; low: number };
  pendingBulk: number;
  recentAudit: { seq: number; at: string; actor: string; action: string; outcome: string; target: string | null }[] | null;
}

export function HomePage({ canCodes, canApprove }: { canCodes: boolean; canApprove: boolean }) {
  const [o, setO] = useState<Overview | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Overview>('GET', '/admin/v1/overview').then(setO, (e: unknown) => setError(errorText(e)));
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!o) return <Empty>加载中…</Empty>;
  const total = Math.max(1, o.people);
  const pct = (n: number) => `${((n / total) * 100).toFixed(n > 0 && n < total / 1000 ? 3 : 1)}%`;
  return (
    <>
      {canCodes ? (
        <Section title={o.regionPrefix === '' ? '全省赋码情况' : '辖区赋码情况'}>
          {o.regionPrefix !== '' ? (
            <p className="muted">
              管辖地区：<RegionName code={o.regionPrefix} />
            </p>
          ) : null}
          <div className="stats" data-testid="color-counts">
            {(['green', 'yellow', 'red'] as const).map((c) => (
              <div key={c} className={`stat ${c}`} data-color={c}>
                <div className="muted">{COLOR_LABEL[c]}</div>
                <div className="n">{o.colors[c].toLocaleString('zh-CN')}</div>
                <div className="muted small">{pct(o.colors[c])}</div>
              </div>
            ))}
            <div className="stat">
              <div className="muted">已领码人数</div>
              <div className="n">{o.people.toLocaleString('zh-CN')}</div>
            </div>
          </div>
          <div className="bar" role="img" aria-label={`绿码 ${o.colors.green}，黄码 ${o.colors.yellow}，红码 ${o.colors.red}`}>
            {(['green', 'yellow', 'red'] as const).map((c) => (
              <span key={c} style={{ width: `${(o.colors[c] / total) * 100}%`, background: COLOR_HEX[c], minWidth: o.colors[c] > 0 ? 3 : 0 }} />
            ))}
          </div>
          {o.reasons.length > 0 ? (
            <table data-testid="reason-counts">
              <thead>
                <tr>
                  <th>颜色</th>
                  <th>原因</th>
                  <th>人数</th>
                </tr>
              </thead>
              <tbody>
                {o.reasons.map((r) => (
                  <tr key={`${r.color}-${r.reason}`}>
                    <td>{COLOR_LABEL[r.color] ?? r.color}</td>
                    <td>{reasonText(r.reason)}</td>
                    <td>{r.n.toLocaleString('zh-CN')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </Section>
      ) : null}
      <Section title="概况">
        <div className="stats">
          <div className="stat">
            <div className="muted">场所码</div>
            <div className="n">{o.venues.toLocaleString('zh-CN')}</div>
          </div>
          {(['high', 'medium', 'low'] as const).map((l) => (
            <div key={l} className="stat">
              <div className="muted">{RISK_LEVEL_LABEL[l]}地区</div>
              <div className="n">{o.riskAreas[l]}</div>
            </div>
          ))}
          {canApprove ? (
            <a className="stat" href="#/bulk">
              <div className="muted">待审批批量转码</div>
              <div className="n">{o.pendingBulk}</div>
            </a>
          ) : null}
        </div>
      </Section>
      {o.recentAudit ? (
        <Section title="最近操作" actions={<a href="#/audit">查看全部审计日志</a>}>
          {o.recentAudit.length === 0 ? (
            <Empty>暂无记录</Empty>
          ) : (
            <table data-testid="recent-audit">
              <thead>
                <tr>
                  <th>时间</th>
                  <th>操作人</th>
                  <th>操作</th>
                  <th>对象</th>
                  <th>结果</th>
                </tr>
              </thead>
              <tbody>
                {o.recentAudit.map((e) => (
                  <tr key={e.seq}>
                    <td className="nowrap">{fmtAny(e.at)}</td>
                    <td>{e.actor}</td>
                    <td>{ACTION_LABEL[e.action] ?? e.action}</td>
                    <td>{e.target ?? '—'}</td>
                    <td>{OUTCOME_LABEL[e.outcome] ?? e.outcome}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      ) : null}
    </>
  );
}
