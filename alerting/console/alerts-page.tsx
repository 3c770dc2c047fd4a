import { useState, type FormEvent } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { Empty, ErrorBox, OkBox, Section, useLoad } from '../../admin-api/console/src/ui.js';
import { alertErrorText, fmtDuration, fmtMs, SEVERITY_LABEL, SOURCE_LABEL, STATUS_LABEL } from './alerting-format.js';

/**
 * 告警: open alerts (newest first) with 确认 (acknowledge: no more repeats
 * or escalation), recently resolved ones, and silences (屏蔽) — create one
 * for a source / kind / rule for a while, end it early.
 */
export interface AlertView {
  id: number;
  ruleId: string;
  ruleName: string;
  key: string;
  source: string;
  kind: string;
  severity: string;
  summary: string;
  status: string;
  startedMs: number;
  firedMs: number | null;
  lastSeenMs: number;
  resolvedMs: number | null;
  notifiedMs: number | null;
  ackedMs: number | null;
  ackedBy: string | null;
  escalatedMs: number | null;
  events: number;
  silenced: boolean;
}

interface SilenceView {
  id: number;
  matchers: Record<string, string>;
  startsMs: number;
  endsMs: number;
  createdBy: string;
  comment: string;
  expiredMs: number | null;
}

const MATCHER_LABEL: Record<string, string> = { ruleId: '规则', source: '来源', kind: '类型', key: '对象', region: '地区' };

function SeverityBadge({ s }: { s: string }) {
  const color = s === 'critical' ? 'red' : s === 'warning' ? 'yellow' : 'green';
  return <span className={`badge badge-${color}`} data-severity={s}>{SEVERITY_LABEL[s] ?? s}</span>;
}

export function AlertsPage({ canWrite }: { canWrite: boolean }) {
  const [open, setOpen] = useState<AlertView[] | null>(null);
  const [resolved, setResolved] = useState<AlertView[]>([]);
  const [silences, setSilences] = useState<SilenceView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [source, setSource] = useState('');
  const [kind, setKind] = useState('');
  const [minutes, setMinutes] = useState('60');
  const [comment, setComment] = useState('');

  const load = useLoad(async () => {
    const [o, r, s] = await Promise.all([
      api<{ alerts: AlertView[] }>('GET', '/admin/v1/alerting/alerts?status=open'),
      api<{ alerts: AlertView[] }>('GET', '/admin/v1/alerting/alerts?status=resolved&limit=50'),
      api<{ silences: SilenceView[] }>('GET', '/admin/v1/alerting/silences'),
    ]);
    setOpen(o.alerts);
    setResolved(r.alerts);
    setSilences(s.silences);
  }, setError, { everyMs: 10_000, toText: alertErrorText });

  async function ack(a: AlertView) {
    setError(null);
    try {
      await api('POST', `/admin/v1/alerting/alerts/${a.id}/ack`, {});
      setOk(`已确认告警 #${a.id}：不再重复提醒和升级`);
      await load();
    } catch (e) {
      setError(alertErrorText(e));
    }
  }

  async function silence(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const matchers: Record<string, string> = {};
    if (source.trim()) matchers.source = source.trim();
    if (kind.trim()) matchers.kind = kind.trim();
    try {
      await api('POST', '/admin/v1/alerting/silences', { matchers, durationMin: Number(minutes), comment });
      setOk('屏蔽已生效');
      setComment('');
      await load();
    } catch (err) {
      setError(alertErrorText(err));
    }
  }

  async function unsilence(id: number) {
    try {
      await api('DELETE', `/admin/v1/alerting/silences/${id}`);
      await load();
    } catch (e) {
      setError(alertErrorText(e));
    }
  }

  const now = Date.now();
  return (
    <div>
      <ErrorBox error={error} />
      {ok ? <OkBox>{ok}</OkBox> : null}
      <Section title={`当前告警（${open?.length ?? 0}）`} actions={<button type="button" onClick={() => void load()}>刷新</button>}>
        {open === null ? <Empty>加载中…</Empty> : open.length === 0 ? <Empty>当前没有告警</Empty> : (
          <table className="table" data-testid="open-alerts">
            <thead>
              <tr><th>级别</th><th>状态</th><th>规则</th><th>来源</th><th>摘要</th><th>开始</th><th>持续</th><th>次数</th><th>确认</th></tr>
            </thead>
            <tbody>
              {open.map((a) => (
                <tr key={a.id} data-alert-id={a.id}>
                  <td><SeverityBadge s={a.severity} /></td>
                  <td>{STATUS_LABEL[a.status] ?? a.status}{a.silenced ? '（已屏蔽）' : ''}{a.escalatedMs ? '（已升级）' : ''}</td>
                  <td>{a.ruleName}</td>
                  <td>{SOURCE_LABEL[a.source] ?? a.source}</td>
                  <td>{a.summary}</td>
                  <td>{fmtMs(a.startedMs)}</td>
                  <td>{fmtDuration(now - a.startedMs)}</td>
                  <td>{a.events}</td>
                  <td>
                    {a.ackedMs ? `${a.ackedBy ?? ''} 于 ${fmtMs(a.ackedMs)}` : canWrite && a.status === 'firing' ? (
                      <button type="button" onClick={() => void ack(a)}>确认</button>
                    ) : '未确认'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section title="屏蔽">
        {canWrite ? (
          <form className="form-row" onSubmit={(e) => void silence(e)}>
            <label>来源 <input value={source} onChange={(e) => setSource(e.target.value)} placeholder="如 exchange" /></label>
            <label>类型 <input value={kind} onChange={(e) => setKind(e.target.value)} placeholder="如 exchange.* " /></label>
            <label>时长（分钟） <input type="number" min={1} value={minutes} onChange={(e) => setMinutes(e.target.value)} /></label>
            <label>原因 <input value={comment} onChange={(e) => setComment(e.target.value)} placeholder="如 计划内维护" /></label>
            <button type="submit">添加屏蔽</button>
          </form>
        ) : null}
        {silences.length === 0 ? <Empty>没有屏蔽</Empty> : (
          <table className="table">
            <thead><tr><th>条件</th><th>开始</th><th>结束</th><th>原因</th><th>创建人</th><th></th></tr></thead>
            <tbody>
              {silences.map((s) => (
                <tr key={s.id}>
                  <td>{Object.entries(s.matchers).map(([k, v]) => `${MATCHER_LABEL[k] ?? k}=${v}`).join('，')}</td>
                  <td>{fmtMs(s.startsMs)}</td>
                  <td>{s.expiredMs ? `已于 ${fmtMs(s.expiredMs)} 结束` : fmtMs(s.endsMs)}</td>
                  <td>{s.comment}</td>
                  <td>{s.createdBy}</td>
                  <td>{canWrite && s.expiredMs === null && s.endsMs > now ? <button type="button" onClick={() => void unsilence(s.id)}>结束屏蔽</button> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section title="最近恢复">
        {resolved.length === 0 ? <Empty>无</Empty> : (
          <table className="table">
            <thead><tr><th>级别</th><th>规则</th><th>摘要</th><th>开始</th><th>恢复</th></tr></thead>
            <tbody>
              {resolved.map((a) => (
                <tr key={a.id}>
                  <td><SeverityBadge s={a.severity} /></td>
                  <td>{a.ruleName}</td>
                  <td>{a.summary}</td>
                  <td>{fmtMs(a.startedMs)}</td>
                  <td>{fmtMs(a.resolvedMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
