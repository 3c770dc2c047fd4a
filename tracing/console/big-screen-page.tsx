import { useEffect, useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { FlowMap, type Flow } from './dashboard-page.js';
import { trcErrorText } from './trc-common.js';

/**
 * 大屏: the command centre's wall, laid out for 1920×1080 and scaled to the
 * window (one transform, so text and the SVG flow map keep their proportions):
 * big numbers, the data-flow map, and today's abnormal data drilled down.
 * Refreshes every minute.
 */
interface Anomalies {
  rejected: { dataset: string; department: string; batches: number; rows: number; rejected: number }[];
  unknownVenues: { venueId: string; node: string; scans: number }[];
  ruleVersions: { version: string | null; status: string | null; unusual: boolean; changed: number; people: number }[];
}
const W = 1920;
const H = 1080;
const RULE_STATUS: Record<string, string> = { draft: '草稿', published: '已发布', rolled_back: '已回退' };

function Big({ label, value, color }: { label: string; value: number; color?: string }) {
  return (
    <div style={{ flex: 1, background: '#111c33', borderRadius: 8, padding: '16px 24px' }}>
      <div style={{ fontSize: 24, color: '#94a3b8' }}>{label}</div>
      <div style={{ fontSize: 64, fontWeight: 700, color: color ?? '#e5e7eb' }}>{value.toLocaleString('zh-CN')}</div>
    </div>
  );
}

export function BigScreenPage() {
  const [flow, setFlow] = useState<Flow | null>(null);
  const [anom, setAnom] = useState<Anomalies | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [scale, setScale] = useState(1);

  useEffect(() => {
    const load = () => Promise.all([api<Flow>('GET', '/admin/v1/tracing/stats/flow'), api<Anomalies>('GET', '/admin/v1/tracing/stats/anomalies')])
      .then(([f, a]) => { setFlow(f); setAnom(a); setError(null); })
      .catch((e: unknown) => setError(trcErrorText(e)));
    void load();
    const t = setInterval(() => void load(), 60_000);
    const fit = () => setScale(Math.min(window.innerWidth / W, window.innerHeight / H));
    fit();
    window.addEventListener('resize', fit);
    return () => { clearInterval(t); window.removeEventListener('resize', fit); };
  }, []);

  const unusual = anom?.ruleVersions.filter((v) => v.unusual) ?? [];
  return (
    <div style={{ position: 'fixed', inset: 0, background: '#0b1220', overflow: 'hidden', zIndex: 50 }}>
      <div data-testid="trc-big-screen" style={{ width: W, height: H, transform: `scale(${scale})`, transformOrigin: '0 0', color: '#e5e7eb', padding: 32, boxSizing: 'border-box', display: 'flex', flexDirection: 'column', gap: 24 }}>
        <div style={{ fontSize: 40, fontWeight: 700, textAlign: 'center' }}>健康码数据指挥大屏</div>
        {error !== null ? <div style={{ fontSize: 28, color: '#f87171' }}>{error}</div> : null}
        {flow === null ? <div style={{ fontSize: 28 }}>加载中…</div> : (
          <>
            <div style={{ display: 'flex', gap: 24 }} data-testid="trc-big-numbers">
              <Big label="登记人员" value={flow.master.people} />
              <Big label="当前红码" value={flow.master.codes.red ?? 0} color="#ef4444" />
              <Big label="当前黄码" value={flow.master.codes.yellow ?? 0} color="#facc15" />
              <Big label="当前绿码" value={flow.master.codes.green ?? 0} color="#22c55e" />
              <Big label="今日下发" value={flow.outbox.reduce((a, x) => a + x.deltas, 0)} />
              <Big label="今日回传扫码" value={flow.returns.reduce((a, x) => a + x.scans, 0)} />
            </div>
            <div style={{ display: 'flex', gap: 24, flex: 1, minHeight: 0 }}>
              <div style={{ flex: 2, background: '#111c33', borderRadius: 8, padding: 16, fontSize: 20, overflow: 'hidden' }}>
                <div style={{ fontSize: 28, marginBottom: 8 }}>数据流通一张图（今日）</div>
                <FlowMap f={flow} />
              </div>
              <div style={{ flex: 1, background: '#111c33', borderRadius: 8, padding: 16, fontSize: 22, overflow: 'hidden' }} data-testid="trc-big-anomalies">
                <div style={{ fontSize: 28, marginBottom: 8 }}>今日异常数据</div>
                <div>新转红码 {flow.anomalies.newRed} 人；失败的流调任务 {flow.anomalies.failedTasks} 个</div>
                <div style={{ marginTop: 12, color: '#94a3b8' }}>部门数据拒收</div>
                {(anom?.rejected ?? []).length === 0 ? <div>无</div> : anom!.rejected.slice(0, 6).map((r) => (
                  <div key={`${r.dataset}|${r.department}`}>{r.department}（{r.dataset}）：拒收 {r.rejected} 行 / 共 {r.rows} 行</div>
                ))}
                <div style={{ marginTop: 12, color: '#94a3b8' }}>未登记场所码扫码</div>
                {(anom?.unknownVenues ?? []).length === 0 ? <div>无</div> : anom!.unknownVenues.slice(0, 6).map((u) => (
                  <div key={`${u.venueId}|${u.node}`}>场所码 {u.venueId}（节点 {u.node}）：{u.scans} 次</div>
                ))}
                <div style={{ marginTop: 12, color: '#94a3b8' }}>非现行规则版本变更赋码</div>
                {unusual.length === 0 ? <div>无</div> : unusual.slice(0, 6).map((v) => (
                  <div key={v.version ?? '-'} style={{ color: '#fb923c' }}>规则 {v.version}（{RULE_STATUS[v.status ?? ''] ?? '未登记'}）：变更 {v.changed} 次，涉及 {v.people} 人</div>
                ))}
              </div>
            </div>
          </>
        )}
      </div>
    </div>
  );
}
