import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { EChart } from '../../admin-api/console/src/echart.js';

/**
 * One ECharts canvas for the tracing dashboard (modular import: line and
 * bar only). Loaded lazily by the dashboard page so the rest of
 * the console does not carry it.
 */
echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

export default function TrcChart({ option, label, testId, height = 300 }: { option: echarts.EChartsCoreOption; label: string; testId: string; height?: number }) {
  return <EChart option={option} label={label} testId={testId} style={{ height }} />;
}
