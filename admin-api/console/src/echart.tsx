import * as echarts from 'echarts/core';
import type { CSSProperties } from 'react';
import { useEffect, useRef } from 'react';

/**
 * One ECharts canvas that follows its box's size, for every chart of the
 * console (rule dry-run, conformance, tracing dashboards). The caller's
 * module registers the chart types and components it draws with
 * `echarts.use([...])` (modular import: each lazily loaded page carries only
 * what it draws); this component owns the lifecycle: init on mount, a new
 * option on change, resize with the box, dispose on unmount.
 */
export function EChart({ option, label, testId, style }: { option: echarts.EChartsCoreOption; label: string; testId: string; style?: CSSProperties }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const chart = echarts.init(el.current, undefined, { renderer: 'canvas' });
    chart.setOption(option);
    const ro = new ResizeObserver(() => chart.resize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      chart.dispose();
    };
  }, [option]);
  return <div ref={el} className="chart" style={style} data-testid={testId} role="img" aria-label={label} />;
}
