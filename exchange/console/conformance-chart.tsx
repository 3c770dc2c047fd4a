import { LineChart } from 'echarts/charts';
import { GridComponent, LegendPlainComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useMemo } from 'react';
import { EChart } from '../../admin-api/console/src/echart.js';
import { codeLabel } from './labels.js';

/**
 * A dataset's conformance over time: per China day the share of its rows
 * rejected, stacked by rule (each refusal code in Chinese), so a department
 * whose 证件号码校验位 errors creep up shows before the total does. Modular
 * ECharts (line + grid, tooltip, plain legend, canvas), loaded lazily by the
 * standards page only, like the rules page's change chart: the console's
 * entry bundle budget (test/console.test.ts) is shared by every capability.
 */
echarts.use([LineChart, GridComponent, TooltipComponent, LegendPlainComponent, CanvasRenderer]);

export interface ConformanceDay { day: string; rows: number; rejected: number; share: number; byRule: Record<string, number> }

const PALETTE = ['#dc2626', '#ea580c', '#ca8a04', '#7c3aed', '#2563eb', '#0891b2', '#db2777', '#475569'];

export function buildOption(days: readonly ConformanceDay[]): echarts.EChartsCoreOption {
  const codes = [...new Set(days.flatMap((d) => Object.keys(d.byRule)))];
  const pct = (x: number): number => Math.round(x * 10000) / 100;
  return {
    animation: false,
    tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v}%` : '—') },
    legend: { top: 0, type: 'plain' },
    grid: { left: 48, right: 16, top: 48, bottom: 28 },
    xAxis: { type: 'category', data: days.map((d) => d.day.slice(5)) },
    yAxis: { type: 'value', name: '拒收率（%）', min: 0 },
    series: codes.map((c, i) => ({
      name: codeLabel(c),
      type: 'line' as const,
      stack: 'rules',
      areaStyle: { opacity: 0.35 },
      symbolSize: 5,
      itemStyle: { color: PALETTE[i % PALETTE.length] },
      data: days.map((d) => (d.rows === 0 ? 0 : pct((d.byRule[c] ?? 0) / d.rows))),
    })),
  };
}

export default function ConformanceChart({ days }: { days: readonly ConformanceDay[] }) {
  const option = useMemo(() => buildOption(days), [days]);
  return <EChart option={option} testId="conformance-rule-chart" label="按核查规则的拒收率趋势" style={{ minHeight: 260 }} />;
}
