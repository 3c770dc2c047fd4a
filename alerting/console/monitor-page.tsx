import { useRef, useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { Empty, ErrorBox, Section, useLoad } from '../../admin-api/console/src/ui.js';
import { alertErrorText, fmtMs } from './alerting-format.js';

/**
 * 监控概览: the latest monitor readings (process, database, outbox, edges,
 * SMS queue) with a small trend line per metric drawn from the readings seen
 * while the page is open, what cannot be measured here and why, and the
 * alert counts.
 */
interface Sample { metric: string; labels: Record<string, string>; value: number }
interface Overview {
  atMs: number | null;
  samples: Sample[];
  unavailable: Record<string, string>;
  metricNames: Record<string, string>;
  counts: { pending: number; firing: number };
  queue: { queued: number };
  gateway: string;
  monitorOverheadCoreRatio: number;
}

const EXTRA_NAMES: Record<string, string> = {
  process_open_fds: '进程已用文件描述符',
  disk_free_bytes: '数据盘剩余空间（字节）',
  db_connections: '数据库连接数',
  outbox_seq: 'outbox 最新序号',
  sms_queue_depth: '短信队列待发条数',
};
const GROUP_NAME: Record<string, string> = { fds: '文件描述符', disk: '磁盘', database: '数据库', outbox: '发布积压', edges: '边缘节点' };

function fmtValue(metric: string, v: number): string {
  if (metric.endsWith('_ratio')) return `${(v * 100).toFixed(1)}%`;
  if (metric.endsWith('_bytes')) return v >= 1024 ** 3 ? `${(v / 1024 ** 3).toFixed(2)} GiB` : `${(v / 1024 ** 2).toFixed(1)} MiB`;
  if (metric.endsWith('_seconds')) return `${v.toFixed(3)} 秒`;
  return String(Math.round(v * 100) / 100);
}

function Spark({ values }: { values: number[] }) {
  if (values.length < 2) return <svg width={120} height={24} aria-hidden="true" />;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || 1;
  const pts = values.map((v, i) => `${(i / (values.length - 1)) * 118 + 1},${23 - ((v - min) / span) * 22}`).join(' ');
  return (
    <svg width={120} height={24} role="img" aria-label="趋势">
      <polyline points={pts} fill="none" stroke="#2563eb" strokeWidth={1.5} />
    </svg>
  );
}

export function MonitorPage() {
  const [o, setO] = useState<Overview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const history = useRef(new Map<string, number[]>());

  useLoad(async () => {
    const r = await api<Overview>('GET', '/admin/v1/alerting/overview');
    for (const s of r.samples) {
      const k = `${s.metric}|${JSON.stringify(s.labels)}`;
      const h = history.current.get(k) ?? [];
      h.push(s.value);
      if (h.length > 60) h.shift();
      history.current.set(k, h);
    }
    setO(r);
  }, setError, { everyMs: 15_000, toText: alertErrorText });

  if (o === null) return <div><ErrorBox error={error} /><Empty>加载中…</Empty></div>;
  const names = { ...EXTRA_NAMES, ...o.metricNames };
  return (
    <div>
      <ErrorBox error={error} />
      <Section title="概况">
        <p data-testid="monitor-summary">
          告警中 {o.counts.firing} 条，待定 {o.counts.pending} 条；短信排队 {o.queue.queued} 条；短信网关：{o.gateway}；
          监控自身开销 {(o.monitorOverheadCoreRatio * 100).toFixed(3)}% 单核；最近采样 {fmtMs(o.atMs)}
        </p>
      </Section>
      <Section title="监控指标">
        <table className="table" data-testid="monitor-samples">
          <thead><tr><th>指标</th><th>对象</th><th>当前值</th><th>趋势（本页打开以来）</th></tr></thead>
          <tbody>
            {o.samples.map((s) => {
              const k = `${s.metric}|${JSON.stringify(s.labels)}`;
              return (
                <tr key={k}>
                  <td>{names[s.metric] ?? s.metric}</td>
                  <td>{s.labels.edge ? `边缘节点 ${s.labels.edge}` : '本进程'}</td>
                  <td>{fmtValue(s.metric, s.value)}</td>
                  <td><Spark values={history.current.get(k) ?? []} /></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Section>
      <Section title="不可用的监控">
        {Object.keys(o.unavailable).length === 0 ? <Empty>全部可用</Empty> : (
          <ul data-testid="monitor-unavailable">
            {Object.entries(o.unavailable).map(([g, why]) => <li key={g}><strong>{GROUP_NAME[g] ?? g}</strong>：{why}</li>)}
          </ul>
        )}
      </Section>
    </div>
  );
}
