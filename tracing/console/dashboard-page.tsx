import { lazy, Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { COLOR_HEX, FACT_KIND_LABEL, fmtTime } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox, Section } from '../../admin-api/console/src/ui.js';
import { daysAgo, reasonLabel, sourceLabel, trcErrorText } from './trc-common.js';

/**
 * 统计看板: red/yellow trend, distribution per city, reason ranking, daily
 * intake per source, the busiest venues, and the data-flow map (数据流通一张图)
 * drawn from real counts (SVG). 大屏 shows it full-screen on a dark background for
 * the command centre's wall.
 */
const TrcChart = lazy(() => import('./trc-chart.js'));

interface Daily { rows: { day: string; cityName: string; color: string; reason: string; source: string; assigned: number; changed: number }[] }
interface RedYellow { now: { cityName: string; color: string; reason: string; people: number }[]; trend: { day: string; red: number; yellow: number }[] }
interface Venues { venues: { cityName: string; kind: string; venues: number }[]; scans: { name: string; regionName: string; day: string; scans: number; people: number }[] }
interface Flow {
  sources: { source: string; facts: number; people: number }[]; travel: { source: string; rows: number }[];
  master: { people: number; codes: Record<string, number> }; outbox: { type: string; deltas: number }[]; returns: { node: string; scans: number }[];
  anomalies: { unknownVenueScans: number; factsWithoutRegion: number; newRed: number; failedTasks: number };
}

interface Batches { batches: { source: string; batch: string; facts: number; people: number; kinds: Record<string, number>; first: number; last: number; codeChanges: number }[] }

const OUTBOX_LABEL: Record<string, string> = { code: '赋码变更', venue: '场所码', risk_area: '风险区域', rules: '规则', keys: '密钥', noop: '心跳' };

function sumBy<T>(rows: readonly T[], key: (r: T) => string, val: (r: T) => number): [string, number][] {
  const m = new Map<string, number>();
  for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + val(r));
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/**
 * 数据流通一张图 as SVG: four columns — department sources, the provincial
 * master, the deltas sent down by kind, the scans each edge node returned —
 * each box with its real count, arrows into the next column.
 */
export function FlowMap({ f }: { f: Flow }) {
  const cols: { title: string; items: [string, number][] }[] = [
    {
      title: '数据来源',
      items: [...f.sources.map((s): [string, number] => [sourceLabel(s.source), s.facts]), ...f.travel.map((t): [string, number] => [`${sourceLabel(t.source)}·行程`, t.rows])].slice(0, 8),
    },
    { title: '省级主库', items: [['人员', f.master.people], ['红码', f.master.codes.red ?? 0], ['黄码', f.master.codes.yellow ?? 0], ['绿码', f.master.codes.green ?? 0]] },
    { title: '下发各地', items: f.outbox.map((o): [string, number] => [OUTBOX_LABEL[o.type] ?? '其他', o.deltas]).slice(0, 8) },
    { title: '边缘回传', items: f.returns.map((r): [string, number] => [`节点 ${r.node}`, r.scans]).slice(0, 8) },
  ];
  const W = 960;
  const colW = 190;
  const gap = (W - colW * 4) / 3;
  const rowH = 40;
  const rows = Math.max(1, ...cols.map((c) => c.items.length));
  const H = 40 + rows * rowH + 10;
  const x = (i: number) => i * (colW + gap);
  const mid = (i: number) => 40 + (Math.max(1, cols[i]!.items.length) * rowH) / 2 - 4;
  return (
    <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label="数据流通一张图" data-testid="trc-flow-map">
      <defs>
        <marker id="trc-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" fill="#64748b" />
        </marker>
      </defs>
      {cols.map((c, i) => (
        <g key={c.title}>
          <text x={x(i) + colW / 2} y={20} textAnchor="middle" fontWeight="bold" fontSize="14" fill="currentColor">{c.title}</text>
          {c.items.length === 0 ? <text x={x(i) + colW / 2} y={60} textAnchor="middle" fontSize="12" fill="#94a3b8">今日无数据</text> : null}
          {c.items.map(([label, n], j) => (
            <g key={label}>
              <rect x={x(i)} y={32 + j * rowH} width={colW} height={rowH - 8} rx="6" fill={i === 1 ? '#dbeafe' : '#f1f5f9'} stroke="#94a3b8" />
              <text x={x(i) + 10} y={32 + j * rowH + 21} fontSize="12" fill="#0f172a">{label.length > 12 ? `${label.slice(0, 12)}…` : label}</text>
              <text x={x(i) + colW - 10} y={32 + j * rowH + 21} fontSize="12" textAnchor="end" fontWeight="bold" fill="#0f172a">{n.toLocaleString('zh-CN')}</text>
            </g>
          ))}
          {i < 3 ? <line x1={x(i) + colW + 4} y1={mid(i)} x2={x(i + 1) - 6} y2={mid(i + 1)} stroke="#64748b" strokeWidth="2" markerEnd="url(#trc-arrow)" /> : null}
        </g>
      ))}
    </svg>
  );
}

export function DashboardPage() {
  const [from, setFrom] = useState(daysAgo(29));
  const [to, setTo] = useState(daysAgo(0));
  const [daily, setDaily] = useState<Daily | null>(null);
  const [ry, setRy] = useState<RedYellow | null>(null);
  const [venues, setVenues] = useState<Venues | null>(null);
  const [flow, setFlow] = useState<Flow | null>(null);
  const [batches, setBatches] = useState<Batches | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [big, setBig] = useState(false);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const qs = new URLSearchParams({ from, to }).toString();
    setError(null);
    Promise.all([
      api<Daily>('GET', `/admin/v1/tracing/stats/daily?${qs}`),
      api<RedYellow>('GET', `/admin/v1/tracing/stats/red-yellow?${qs}`),
      api<Venues>('GET', `/admin/v1/tracing/stats/venues?${qs}`),
      api<Flow>('GET', `/admin/v1/tracing/stats/flow?${new URLSearchParams({ from: to, to }).toString()}`),
      api<Batches>('GET', `/admin/v1/tracing/lineage/batches?${qs}`),
    ]).then(([d, r, v, f, b]) => {
      setBatches(b);
      setDaily(d);
      setRy(r);
      setVenues(v);
      setFlow(f);
    }).catch((e: unknown) => setError(trcErrorText(e)));
  }, [from, to]);

  const trend = useMemo(() => ry && ({
    tooltip: { trigger: 'axis' }, legend: { top: 0, data: ['红码', '黄码'] }, grid: { left: 48, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: ry.trend.map((x) => x.day) }, yAxis: { type: 'value', name: '人次', minInterval: 1 },
    series: [
      { name: '红码', type: 'line', data: ry.trend.map((x) => x.red), itemStyle: { color: COLOR_HEX.red } },
      { name: '黄码', type: 'line', data: ry.trend.map((x) => x.yellow), itemStyle: { color: COLOR_HEX.yellow } },
    ],
  }), [ry]);
  const cities = useMemo(() => {
    if (!ry) return null;
    const names = [...new Set(ry.now.map((x) => x.cityName))];
    const val = (c: string, color: string) => ry.now.filter((x) => x.cityName === c && x.color === color).reduce((a, x) => a + x.people, 0);
    return {
      tooltip: { trigger: 'axis' }, legend: { top: 0, data: ['红码', '黄码'] }, grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: names }, yAxis: { type: 'value', name: '人数', minInterval: 1 },
      series: [
        { name: '红码', type: 'bar', stack: 'c', data: names.map((c) => val(c, 'red')), itemStyle: { color: COLOR_HEX.red } },
        { name: '黄码', type: 'bar', stack: 'c', data: names.map((c) => val(c, 'yellow')), itemStyle: { color: COLOR_HEX.yellow } },
      ],
    };
  }, [ry]);
  const reasons = useMemo(() => {
    if (!ry) return null;
    const r = sumBy(ry.now, (x) => x.reason, (x) => x.people).slice(0, 10).reverse();
    return {
      tooltip: {}, grid: { left: 120, right: 24, top: 16, bottom: 24 },
      xAxis: { type: 'value', minInterval: 1 }, yAxis: { type: 'category', data: r.map((x) => reasonLabel(x[0])) },
      series: [{ type: 'bar', data: r.map((x) => x[1]), itemStyle: { color: '#2563eb' } }],
    };
  }, [ry]);
  const intake = useMemo(() => {
    if (!daily) return null;
    const days = [...new Set(daily.rows.map((x) => x.day))];
    const sources = sumBy(daily.rows, (x) => x.source, (x) => x.assigned + x.changed).slice(0, 6).map((x) => x[0]);
    return {
      tooltip: { trigger: 'axis' }, legend: { top: 0, data: sources.map(sourceLabel) }, grid: { left: 48, right: 16, top: 40, bottom: 28 },
      xAxis: { type: 'category', data: days }, yAxis: { type: 'value', name: '赋码/变更', minInterval: 1 },
      series: sources.map((s) => ({
        name: sourceLabel(s), type: 'bar', stack: 's',
        data: days.map((d) => daily.rows.filter((x) => x.day === d && x.source === s).reduce((a, x) => a + x.assigned + x.changed, 0)),
      })),
    };
  }, [daily]);

  function toggleBig() {
    if (!big) void box.current?.requestFullscreen?.().catch(() => undefined);
    else if (document.fullscreenElement) void document.exitFullscreen();
    setBig(!big);
  }

  const chart = (opt: Record<string, unknown> | null, label: string, id: string, height?: number) => (
    opt === null ? <Empty>加载中…</Empty> : (
      <Suspense fallback={<div className="chart">图表加载中…</div>}>
        <TrcChart option={opt} label={label} testId={id} {...(height === undefined ? {} : { height })} />
      </Suspense>
    )
  );

  return (
    <div ref={box} className={big ? 'trc-big' : undefined} style={big ? { background: '#0b1220', color: '#e5e7eb', padding: 16, minHeight: '100vh' } : undefined}>
      <Section title="统计看板" actions={(
        <>
          <label>从<input type="date" value={from} onChange={(e) => setFrom(e.target.value)} aria-label="开始日期" /></label>
          <label>到<input type="date" value={to} onChange={(e) => setTo(e.target.value)} aria-label="结束日期" /></label>
          <button type="button" onClick={toggleBig}>{big ? '退出大屏' : '大屏'}</button>
        </>
      )}>
        <ErrorBox error={error} />
        {flow ? (
          <p data-testid="trc-kpis">
            人员 {flow.master.people} 人；当前红码 {flow.master.codes.red ?? 0} 人，黄码 {flow.master.codes.yellow ?? 0} 人，绿码 {flow.master.codes.green ?? 0} 人；
            今日下发 {flow.outbox.reduce((a, x) => a + x.deltas, 0)} 条，回传扫码 {flow.returns.reduce((a, x) => a + x.scans, 0)} 条。
          </p>
        ) : null}
        {flow ? (
          <p data-testid="trc-anomalies" className={flow.anomalies.unknownVenueScans + flow.anomalies.factsWithoutRegion + flow.anomalies.failedTasks > 0 ? 'msg msg-warn' : 'muted'}>
            今日异常数据：未登记场所码扫码 {flow.anomalies.unknownVenueScans} 条，无所属地区人员的数据 {flow.anomalies.factsWithoutRegion} 条，
            新转红码 {flow.anomalies.newRed} 人，失败的流调任务 {flow.anomalies.failedTasks} 个。
          </p>
        ) : null}
      </Section>
      <Section title="红黄码趋势">{chart(trend, '红黄码每日趋势折线图', 'trc-chart-trend')}</Section>
      <Section title="各地市红黄码分布">{chart(cities, '各地市红黄码柱状图', 'trc-chart-cities')}</Section>
      <Section title="赋码原因排行">{chart(reasons, '赋码原因排行条形图', 'trc-chart-reasons')}</Section>
      <Section title="每日赋码来源（部门数据接入）">{chart(intake, '每日赋码来源堆叠柱状图', 'trc-chart-intake')}</Section>
      <Section title="数据流通一张图（今日）">{flow === null ? <Empty>加载中…</Empty> : <FlowMap f={flow} />}</Section>
      <Section title="数据批次溯源（文件/接口）">
        {batches === null ? <Empty>加载中…</Empty> : batches.batches.length === 0 ? <Empty>所选日期内没有接入数据。</Empty> : (
          <table data-testid="trc-batches">
            <thead><tr><th>来源</th><th>批次</th><th>事实数</th><th>涉及人数</th><th>内容</th><th>该来源赋码变更</th><th>首次接入</th><th>最后接入</th></tr></thead>
            <tbody>
              {batches.batches.slice(0, 50).map((b) => (
                <tr key={`${b.source}|${b.batch}`}>
                  <td>{sourceLabel(b.source)}</td><td className="mono">{b.batch === '—' ? '（接口）' : b.batch}</td><td>{b.facts}</td><td>{b.people}</td>
                  <td>{Object.entries(b.kinds).map(([k, n]) => `${FACT_KIND_LABEL[k] ?? '其他'} ${n}`).join('，')}</td>
                  <td>{b.codeChanges}</td><td>{fmtTime(b.first)}</td><td>{fmtTime(b.last)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="场所统计">
        {venues === null ? <Empty>加载中…</Empty> : (
          <>
            <p>{sumBy(venues.venues, (x) => x.cityName, (x) => x.venues).map(([c, n]) => `${c} ${n} 个`).join('，') || '暂无场所'}</p>
            {venues.scans.length === 0 ? <Empty>所选日期内无扫码。</Empty> : (
              <table data-testid="trc-venue-scans">
                <thead><tr><th>场所</th><th>地区</th><th>日期</th><th>扫码次数</th><th>人数</th></tr></thead>
                <tbody>{venues.scans.slice(0, 20).map((s, i) => <tr key={i}><td>{s.name}</td><td>{s.regionName}</td><td>{s.day}</td><td>{s.scans}</td><td>{s.people}</td></tr>)}</tbody>
              </table>
            )}
          </>
        )}
      </Section>
    </div>
  );
}
