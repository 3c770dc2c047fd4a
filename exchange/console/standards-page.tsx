import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { api, loadSession } from '../../admin-api/console/src/api.js';
import { fmtTime } from '../../admin-api/console/src/format.js';
import { CONSOLE_GRANTS } from '../../admin-api/console/src/roles.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { CodeTablesSection, type ListedTable } from './code-tables-section.js';
import { DatasetEditor } from './dataset-editor.js';
import type { DatasetDef, FieldDef } from './dataset-model.js';
import { codeLabel, exchangeErrorText, FIELD_TYPE_LABEL, pct, TARGET_LABEL } from './labels.js';

// ECharts only when the page draws the chart: its own chunk, outside the entry bundle.
const ConformanceChart = lazy(() => import('./conformance-chart.js'));

/**
 * 数据标准: the data standards (every version), their fields and code
 * tables, and each dataset's conformance over time — the share of rows
 * rejected per day, as a chart, and by rule. Officers with exchange.write
 * start the next version of a standard from the latest one in the editor
 * (dataset-editor.tsx).
 */
interface FieldView {
  name: string; zh: string; aliases: string[]; type: string; required: boolean; max: number | null; values: [string, string][];
  codeTable?: string | null; codeTableVersion?: number | null;
}
interface DatasetView {
  id: string; version: number; name: string; description: string; target: string; key: string[]; notFuture: string[];
  fields: FieldView[]; createdBy: string; createdAt: number;
}
interface Day { dataset: string; day: string; batches: number; rows: number; rejected: number; share: number; byRule: Record<string, number> }

function ShareChart({ days }: { days: Day[] }) {
  if (days.length === 0) return <Empty>近期没有已处理的批次</Empty>;
  const w = 640;
  const h = 180;
  const pad = 36;
  const max = Math.max(0.05, ...days.map((d) => d.share));
  const step = days.length === 1 ? 0 : (w - 2 * pad) / (days.length - 1);
  const x = (i: number): number => pad + i * step;
  const y = (s: number): number => h - pad + 8 - (s / max) * (h - 2 * pad);
  const path = days.map((d, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(d.share).toFixed(1)}`).join(' ');
  return (
    <svg viewBox={`0 0 ${w} ${h}`} width="100%" role="img" aria-label="拒收率趋势" data-testid="conformance-chart">
      <line x1={pad} y1={y(0)} x2={w - pad} y2={y(0)} stroke="#9ca3af" />
      <text x={4} y={y(max) + 4} fontSize="11" fill="#6b7280">{pct(max)}</text>
      <text x={4} y={y(0) + 4} fontSize="11" fill="#6b7280">0%</text>
      <path d={path} fill="none" stroke="#2563eb" strokeWidth="2" />
      {days.map((d, i) => (
        <g key={d.day}>
          <circle cx={x(i)} cy={y(d.share)} r="3.5" fill={d.share > 0.05 ? '#dc2626' : '#2563eb'}>
            <title>{`${d.day}：${d.rows} 行，拒收 ${d.rejected} 行（${pct(d.share)}）`}</title>
          </circle>
          {(days.length <= 10 || i % Math.ceil(days.length / 10) === 0) && (
            <text x={x(i)} y={h - 6} fontSize="10" textAnchor="middle" fill="#6b7280">{d.day.slice(5)}</text>
          )}
        </g>
      ))}
    </svg>
  );
}

/** The list view's fields as definitions (code tables back to objects) for the editor's code tables and data elements. */
function asDefs(views: readonly DatasetView[]): { name: string; fields: FieldDef[] }[] {
  return views.map((v) => ({
    name: v.name,
    fields: v.fields.map((f) => ({
      name: f.name, zh: f.zh, aliases: f.aliases, type: f.type as FieldDef['type'], required: f.required,
      ...(f.type === 'enum' ? { values: Object.fromEntries(f.values) } : {}), ...(f.max !== null ? { max: f.max } : {}),
    })),
  }));
}

function canWrite(): boolean {
  const role = loadSession()?.role;
  return role !== null && role !== undefined && (CONSOLE_GRANTS[role] ?? []).includes('exchange.write');
}

export function StandardsPage() {
  const [datasets, setDatasets] = useState<DatasetView[]>([]);
  const [editing, setEditing] = useState<DatasetDef | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [selected, setSelected] = useState<string>('nat-result');
  const [version, setVersion] = useState<number | null>(null);
  const [days, setDays] = useState<Day[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tables, setTables] = useState<ListedTable[]>([]);

  const reload = useCallback(() => {
    api<{ datasets: DatasetView[] }>('GET', '/admin/v1/exchange/datasets').then((r) => setDatasets(r.datasets), (e) => setError(exchangeErrorText(e)));
  }, []);
  const reloadTables = useCallback(() => {
    api<{ codeTables: ListedTable[] }>('GET', '/admin/v1/exchange/code-tables').then((r) => setTables(r.codeTables), (e) => setError(exchangeErrorText(e)));
  }, []);
  useEffect(reloadTables, [reloadTables]);
  useEffect(reload, [reload]);
  useEffect(() => {
    setVersion(null);
    setEditing(null);
    api<{ days: Day[] }>('GET', `/admin/v1/exchange/conformance?dataset=${encodeURIComponent(selected)}&days=60`)
      .then((r) => setDays(r.days), (e) => setError(exchangeErrorText(e)));
  }, [selected]);

  const ids = useMemo(() => [...new Set(datasets.map((d) => d.id))], [datasets]);
  const versions = datasets.filter((d) => d.id === selected);
  const current = versions.find((d) => d.version === version) ?? versions[0];
  const ruleTotals = useMemo(() => {
    const m = new Map<string, number>();
    for (const d of days) for (const [c, n] of Object.entries(d.byRule)) m.set(c, (m.get(c) ?? 0) + n);
    return [...m].sort((a, b) => b[1] - a[1]);
  }, [days]);
  const totalRows = days.reduce((s, d) => s + d.rows, 0);
  const latest = versions[0];

  /** A new standard starts with the person fields every person-keyed target needs. */
  function startNew() {
    setSaved(null);
    const nat = asDefs(datasets.filter((d) => d.id === 'nat-result')).at(0);
    const person = (nat?.fields ?? []).filter((f) => ['idType', 'idNo', 'name', 'phone'].includes(f.name));
    setEditing({ id: '', version: 0, name: '', description: '', target: 'nat-result', fields: person, key: ['idType', 'idNo'], notFuture: [] });
  }

  async function startEditing() {
    if (latest === undefined) return;
    setSaved(null);
    try {
      const r = await api<{ definition: DatasetDef }>('GET', `/admin/v1/exchange/datasets/${encodeURIComponent(latest.id)}/versions/${latest.version}`);
      setEditing(r.definition);
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }

  return (
    <>
      <ErrorBox error={error} />
      {saved && <OkBox>{saved}</OkBox>}
      <Section title="数据标准" actions={canWrite() && editing === null && latest !== undefined
        ? (
          <>
            <button type="button" className="btn" onClick={() => void startEditing()}>编辑并发布新版本</button>{' '}
            <button type="button" className="btn" onClick={startNew}>新建数据标准</button>
          </>
        ) : undefined}>
        <div className="form-row">
          {ids.map((id) => {
            const d = datasets.find((x) => x.id === id)!;
            return (
              <button key={id} type="button" className={id === selected ? 'btn-primary' : 'btn'} onClick={() => setSelected(id)} data-dataset={id}>
                {d.name}
              </button>
            );
          })}
        </div>
        {current === undefined ? <Empty>没有数据标准</Empty> : (
          <>
            <p>
              <strong>{current.name}</strong>（标识 {current.id}，第 {current.version} 版，{fmtTime(current.createdAt)} 由 {current.createdBy === 'builtin' ? '系统内置' : current.createdBy} 发布）
              ——{current.description} 入库去向：{TARGET_LABEL[current.target] ?? '—'}。
            </p>
            {versions.length > 1 && (
              <label>
                版本{' '}
                <select value={current.version} onChange={(e) => setVersion(Number(e.target.value))}>
                  {versions.map((v) => <option key={v.version} value={v.version}>第 {v.version} 版</option>)}
                </select>
              </label>
            )}
            <table className="table">
              <thead><tr><th>字段</th><th>中文表头</th><th>其他可用表头</th><th>类型</th><th>必填</th><th>代码表 / 长度</th></tr></thead>
              <tbody>
                {current.fields.map((f) => (
                  <tr key={f.name}>
                    <td className="mono">{f.name}</td>
                    <td>{f.zh}</td>
                    <td>{f.aliases.join('、') || '—'}</td>
                    <td>{FIELD_TYPE_LABEL[f.type] ?? f.type}</td>
                    <td>{f.required ? '是' : '否'}</td>
                    <td>
                      {f.codeTable ? <span data-code-table={f.codeTable}>码表「{tables.find((t) => t.id === f.codeTable)?.name ?? '—'}」第 {f.codeTableVersion} 版：</span> : null}
                      {f.values.length > 0 ? <span className="mono">{[...new Set(f.values.map(([t]) => t))].join('、')}</span> : f.max !== null ? `最长 ${f.max} 字` : '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="muted">
              判重字段：{current.key.map((k) => current.fields.find((f) => f.name === k)?.zh ?? k).join(' + ')}；
              不得晚于当前时间：{current.notFuture.map((k) => current.fields.find((f) => f.name === k)?.zh ?? k).join('、') || '—'}。
            </p>
          </>
        )}
      </Section>
      {editing !== null && (
        <DatasetEditor
          base={editing}
          all={asDefs(datasets.filter((d, i, a) => a.findIndex((x) => x.id === d.id) === i))}
          registered={tables.filter((t, i) => tables.findIndex((x) => x.id === t.id) === i)}
          onCancel={() => setEditing(null)}
          onSaved={(d) => {
            setEditing(null);
            setSaved(d.version === 1 ? `已新建数据标准「${d.name}」（第 1 版），可在数据导入中选择它上传文件` : `已发布${d.name}第 ${d.version} 版，新上传的文件按此版本核查`);
            if (d.version === 1) setSelected(d.id);
            setVersion(d.version);
            reload();
          }}
        />
      )}
      <CodeTablesSection tables={tables} canWrite={canWrite()} onChanged={reloadTables} />
      <Section title="符合度（近 60 天拒收率）">
        <ShareChart days={days} />
        {days.length > 0 && (
          <Suspense fallback={<div className="muted">图表加载中…</div>}>
            <h4>按核查规则</h4>
            <ConformanceChart days={days} />
          </Suspense>
        )}
        <p className="muted">共 {totalRows} 行，红点为当日拒收率超过 5%。</p>
        {ruleTotals.length > 0 && (
          <table className="table">
            <thead><tr><th>核查规则</th><th>拒收行数</th><th>占比</th></tr></thead>
            <tbody>
              {ruleTotals.map(([code, n]) => (
                <tr key={code} data-rule={code}><td>{codeLabel(code)}</td><td>{n}</td><td>{totalRows === 0 ? '—' : pct(n / totalRows)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
