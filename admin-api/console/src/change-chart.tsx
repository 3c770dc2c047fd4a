import { BarChart } from 'echarts/charts';
import { GridComponent, LegendPlainComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useMemo } from 'react';
import { EChart } from './echart.js';
import { COLOR_HEX, COLOR_LABEL, REASON_LABEL } from './format.js';

/**
 * The dry-run / publish result as a bar chart: one bar per colour transition
 * (绿码→黄码, …), stacked by the reason the new code carries. A table says
 * the same numbers; the chart shows at a glance whether a rule change moves
 * thousands into red or a handful into yellow.
 *
 * Modular ECharts (echarts/core + the bar chart + grid, tooltip, plain legend + canvas):
 * the full `echarts` import would add ~1 MB of charts this page never draws.
 * This module is loaded lazily (React.lazy) by the rules page only.
 */
echarts.use([BarChart, GridComponent, TooltipComponent, LegendPlainComponent, CanvasRenderer]);

export interface Transition {
  from: string | null;
  to: string;
  reason: string;
  count: number;
}

const REASON_PALETTE = ['#2563eb', '#7c3aed', '#db2777', '#ea580c', '#0891b2', '#65a30d', '#475569', '#be123c'];

function label(c: string | null): string {
  return c === null ? '新赋码' : COLOR_LABEL[c] ?? c;
}

export function buildOption(transitions: readonly Transition[]): echarts.EChartsCoreOption {
  const cats: string[] = [];
  const catTo = new Map<string, string>();
  for (const t of transitions) {
    const k = `${label(t.from)}→${label(t.to)}`;
    if (!catTo.has(k)) {
      cats.push(k);
      catTo.set(k, t.to);
    }
  }
  const reasons = [...new Set(transitions.map((t) => t.reason))];
  const series = reasons.map((reason, ri) => ({
    name: REASON_LABEL[reason] ?? reason,
    type: 'bar' as const,
    stack: 'all',
    barMaxWidth: 56,
    itemStyle: { color: REASON_PALETTE[ri % REASON_PALETTE.length] },
    data: cats.map((k) => {
      let n = 0;
      for (const t of transitions) if (t.reason === reason && `${label(t.from)}→${label(t.to)}` === k) n += t.count;
      return n === 0 ? null : n;
    }),
  }));
  return {
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    legend: { top: 0 },
    grid: { left: 56, right: 16, top: 40, bottom: 32 },
    xAxis: {
      type: 'category',
      data: cats,
      axisLabel: { color: (_v: unknown, i: number) => COLOR_HEX[catTo.get(cats[i] ?? '') ?? ''] ?? '#333', fontWeight: 'bold' },
    },
    yAxis: { type: 'value', name: '人数', minInterval: 1 },
    series,
  };
}

export default function ChangeChart({ transitions }: { transitions: readonly Transition[] }) {
  const option = useMemo(() => buildOption(transitions), [transitions]);
  return <EChart option={option} testId="change-chart" label="变更分布柱状图" />;
}
