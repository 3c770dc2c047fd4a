import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { createPortal } from 'react-dom';
import { api } from '../../admin-api/console/src/api.js';
import { FlowMap, type Flow } from './dashboard-page.js';
import { daysAgo, trcErrorText } from './trc-common.js';

const TrcChart = lazy(() => import('./trc-chart.js'));

/**
 * 大屏 kiosk (route `#/tracing-big-screen`): the command centre's wall, laid
 * out for 1920×1080 and scaled to the window (one transform, so text and the
 * SVG flow map keep their proportions): big numbers, the 7-day red/yellow
 * trend, the data-flow map, and today's abnormal data drilled down; a China-
 * time clock and the time of the last refresh (every 30 s). Dark, and drawn
 * in a portal on <body> above everything, so the console's top bar and menu
 * do not show on the wall; 退出大屏 (or Esc) goes back to the dashboard.
 * Only aggregates are shown — nothing about a person.
 */
interface Anomalies {
  rejected: { dataset: string; department: string; batches: number; rows: number; rejected: number }[];
  unknownVenues: { venueId: string; node: string; scans: number }[];
  ruleVersions: { version: string | null; status: string | null; unusual: boolean; changed: number; people: number }[];
}
interface Trend { trend: { day: string; red: number; yellow: number }[] }
const W = 1920;
const H = 1080;
export const KIOSK_REFRESH_MS = 30_000;
/** HH:mm:ss in China time, whatever the wall's own time zone */
const chinaClock = (ms: number): string => new Date(ms + 8 * 3_600_000).toISOString().slice(11, 19);
const chinaDate = (ms: number): string => {
  const d = new Date(ms + 8 * 3_600_000);
  return `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日 星期${'日一二三四五六'[d.getUTCDay()]}`;
};
const AXIS = { axisLine: { lineStyle: { color: '#475569' } }, axisLabel: { color: '#cbd5e1', fontSize: 16 }, splitLine: { lineStyle: { color: '#1e293b' } } };
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
  const [ry, setRy] = useState<Trend | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [scale, setScale] = useState(1);
  const [now, setNow] = useState(() => Date.now());
  const [loadedAt, setLoadedAt] = useState<number | null>(null);

  useEffect(() => {
    const load = () => Promise.all([
      api<Flow>('GET', '/admin/v1/tracing/stats/flow'),
      api<Anomalies>('GET', '/admin/v1/tracing/stats/anomalies'),
      api<Trend>('GET', `/admin/v1/tracing/stats/red-yellow?${new URLSearchParams({ from: daysAgo(6), to: daysAgo(0) }).toString()}`),
    ])
      .then(([f, a, r]) => { setFlow(f); setAnom(a); setRy(r); setError(null); setLoadedAt(Date.now()); })
      .catch((e: unknown) => setError(trcErrorText(e)));
    void load();
    const t = setInterval(() => void load(), KIOSK_REFRESH_MS);
    const clock = setInterval(() => setNow(Date.now()), 1_000);
    const fit = () => setScale(Math.min(window.innerWidth / W, window.innerHeight / H));
    fit();
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') location.hash = '#/tracing-dashboard'; };
    window.addEventListener('resize', fit);
    window.addEventListener('keydown', onKey);
    document.body.style.overflow = 'hidden';
    return () => {
      clearInterval(t);
      clearInterval(clock);
      window.removeEventListener('resize', fit);
      window.removeEventListener('keydown', onKey);
      document.body.style.overflow = '';
    };
  }, []);

  const trend = useMemo(() => ry && ({
    backgroundColor: 'transparent', textStyle: { color: '#e5e7eb' },
    legend: { top: 0, data: ['红码', '黄码'], textStyle: { color: '#e5e7eb', fontSize: 18 } }, grid: { left: 64, right: 24, top: 44, bottom: 36 },
    xAxis: { type: 'category', data: ry.trend.map((x) => x.day.slice(5)), ...AXIS },
    yAxis: { type: 'value', minInterval: 1, ...AXIS },
    series: [
      { name: '红码', type: 'line', smooth: true, data: ry.trend.map((x) => x.red), itemStyle: { color: '#ef4444' }, lineStyle: { width: 4 } },
      { name: '黄码', type: 'line', smooth: true, data: ry.trend.map((x) => x.yellow), itemStyle: { color: '#facc15' }, lineStyle: { width: 4 } },
    ],
  }), [ry]);

  const unusual = anom?.ruleVersions.filter((v) => v.unusual) ?? [];
  return createPortal(
    <div data-testid="trc-kiosk" style={{ position: 'fixed', inset: 0, background: '#0b1220', overflow: 'hidden', zIndex: 2_147_483_000, colorScheme: 'dark' }}>
      <div data-testid="trc-big-screen" style={{ width: W, height: H, transform: `scale(${scale})`, transformOrigin: '0 0', color: '#e5e7eb', padding: 32, boxSizing: 'border-box', display: 'flex', flexDirection: 'column', gap: 24, fontFamily: '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif' }}>
        <div style={{ display: 'flex', alignItems: 'center' }}>
          <div style={{ flex: 1, fontSize: 22, color: '#94a3b8' }} data-testid="trc-kiosk-clock">{chinaDate(now)} {chinaClock(now)}（北京时间）</div>
          <div style={{ fontSize: 40, fontWeight: 700, textAlign: 'center' }}>健康码数据指挥大屏</div>
          <div style={{ flex: 1, textAlign: 'right', fontSize: 18, color: '#94a3b8' }}>
            <span data-testid="trc-kiosk-updated">{loadedAt === null ? '数据加载中' : `数据更新于 ${chinaClock(loadedAt)}，每 ${KIOSK_REFRESH_MS / 1000} 秒刷新`}</span>
            <button type="button" onClick={() => { location.hash = '#/tracing-dashboard'; }} style={{ marginLeft: 16, background: 'transparent', color: '#94a3b8', border: '1px solid #334155', borderRadius: 4, padding: '4px 12px', fontSize: 16, cursor: 'pointer' }}>退出大屏</button>
          </div>
        </div>
        {error !== null ? <div style={{ fontSize: 28, color: '#f87171' }} role="alert">{error}</div> : null}
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
              <div style={{ flex: 1, display: 'flex', flexDirection: 'column', gap: 24, minHeight: 0, minWidth: 0 }}>
                <div style={{ background: '#111c33', borderRadius: 8, padding: 16 }}>
                  <div style={{ fontSize: 28 }}>近 7 日红黄码趋势（人次）</div>
                  {trend === null ? null : <Suspense fallback={null}><TrcChart option={trend} label="近7日红黄码趋势折线图" testId="trc-kiosk-trend" height={260} /></Suspense>}
                </div>
                <div style={{ flex: 1, background: '#111c33', borderRadius: 8, padding: 16, fontSize: 22, overflow: 'hidden' }} data-testid="trc-big-anomalies">
                  <div style={{ fontSize: 28, marginBottom: 8 }}>今日异常数据</div>
                  <div>新转红码 {flow.anomalies.newRed} 人；失败的流调任务 {flow.anomalies.failedTasks} 个</div>
                  <div style={{ marginTop: 12, color: '#94a3b8' }}>部门数据拒收</div>
                  {(anom?.rejected ?? []).length === 0 ? <div>无</div> : anom!.rejected.slice(0, 4).map((r) => (
                    <div key={`${r.dataset}|${r.department}`}>{r.department}（{r.dataset}）：拒收 {r.rejected} 行 / 共 {r.rows} 行</div>
                  ))}
                  <div style={{ marginTop: 12, color: '#94a3b8' }}>未登记场所码扫码</div>
                  {(anom?.unknownVenues ?? []).length === 0 ? <div>无</div> : anom!.unknownVenues.slice(0, 4).map((u) => (
                    <div key={`${u.venueId}|${u.node}`}>场所码 {u.venueId}（节点 {u.node}）：{u.scans} 次</div>
                  ))}
                  <div style={{ marginTop: 12, color: '#94a3b8' }}>非现行规则版本变更赋码</div>
                  {unusual.length === 0 ? <div>无</div> : unusual.slice(0, 4).map((v) => (
                    <div key={v.version ?? '-'} style={{ color: '#fb923c' }}>规则 {v.version}（{RULE_STATUS[v.status ?? ''] ?? '未登记'}）：变更 {v.changed} 次，涉及 {v.people} 人</div>
                  ))}
                </div>
              </div>
            </div>
          </>
        )}
      </div>
    </div>,
    document.body,
  );
}
