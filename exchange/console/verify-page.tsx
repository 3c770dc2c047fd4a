import { useCallback, useEffect, useState } from 'react';
import { api, apiBlob } from '../../admin-api/console/src/api.js';
import { fmtTime, triggerDownload } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { CODE_SOURCE_ZH, MISMATCH_KIND_ZH, TASK_STATUS_ZH } from '../verify-labels.js';
import { exchangeErrorText } from './labels.js';

/**
 * 赋码核查 (assignment verification): rules (which dataset and period is
 * compared with the assigned codes and the distributed data, validity),
 * tasks started from them (progress, stop, resume, re-run, run log), a
 * task's report with the problems first, drill-down to the mismatching
 * persons (masked for roles that see masked data — the server decides),
 * statistics per rule over time, and XLSX / PDF downloads.
 */
interface Rule {
  id: string; name: string; dataset: string; codeSource: string; checkDistribution: boolean; windowDays: number | null;
  periodFrom: number | null; periodTo: number | null; validFrom: number; validUntil: number | null; createdBy: string;
  checkEdges: boolean; schedule: { kind: 'daily'; at: string } | { kind: 'every'; hours: number } | null; nextRunAt: number | null;
}
interface Counts { checked: number; facts: number; expected: number; assigned: number; consistent: number; mismatches: number }
interface Task {
  id: string; ruleId: string; ruleName: string; dataset: string; rerunOf: string | null; status: string; periodFrom: number; periodTo: number;
  throughSeq: number; progress: number; counts: Counts; error: { code: string; message: string } | null; createdBy: string; createdAt: number;
  finishedAt: number | null; log?: { at: number; level: string; message: string }[];
  ruleVersion: string | null; edges: { name: string; appliedSeq: number }[] | null; edgePending: number; scheduledFor: number | null;
}
interface Row {
  kind: string; kindZh: string; idType: string; idNo: string; name: string; phone: string; region: string; expected: string; assigned: string;
  distributed: string; reason: string; fact: string; factAt: string; detail: string;
}
interface Report {
  masked: boolean; problems: { kind: string; zh: string; hint: string; count: number }[];
  byCertType: { certType: string; counts: Record<string, number>; total: number }[];
}
interface StatsDay { ruleId: string; ruleName: string; day: string; tasks: number; checked: number; mismatches: number; byKind: Record<string, number> }
interface DatasetBrief { id: string; name: string; target: string }

const PAGE = 50;

function scheduleText(s: Rule['schedule']): string {
  if (s === null) return '手动执行';
  return s.kind === 'daily' ? `每天 ${s.at}` : `每 ${s.hours} 小时`;
}
const KINDS = Object.keys(MISMATCH_KIND_ZH);

/** 'YYYY-MM-DDTHH:mm' of a datetime-local input, read as China time → unix seconds. */
function chinaInput(v: string): number | null {
  if (v === '') return null;
  const ms = Date.parse(`${v}:00+08:00`);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

function Bar({ share }: { share: number }) {
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(share * 100)} aria-label="核查进度">
      <div style={{ width: `${Math.round(share * 100)}%`, background: '#2563eb', height: 8, borderRadius: 4 }} />
      <span className="muted">核查进度 {Math.round(share * 100)}%</span>
    </div>
  );
}

function StatsChart({ days }: { days: StatsDay[] }) {
  if (days.length === 0) return <Empty>统计期内没有已完成的核查任务</Empty>;
  const w = 640;
  const barH = 16;
  const max = Math.max(1, ...days.map((d) => d.mismatches));
  return (
    <svg viewBox={`0 0 ${w} ${days.length * (barH + 6) + 8}`} width="100%" style={{ maxWidth: 720 }} role="img" aria-label="不一致条数趋势" data-testid="verify-stats-chart">
      {days.map((d, i) => (
        <g key={`${d.ruleId}-${d.day}`} transform={`translate(0, ${i * (barH + 6) + 4})`}>
          <text x={0} y={barH - 4} fontSize="11" fill="#374151">{`${d.ruleName.slice(0, 10)} ${d.day.slice(5)}`}</text>
          <rect x={170} y={0} width={Math.max(2, (d.mismatches / max) * 380)} height={barH} fill={d.mismatches > 0 ? '#dc2626' : '#16a34a'}>
            <title>{`${d.day}：任务 ${d.tasks} 个，核查 ${d.checked} 人，不一致 ${d.mismatches} 条`}</title>
          </rect>
          <text x={w - 80} y={barH - 4} fontSize="11" fill="#374151">{d.mismatches}</text>
        </g>
      ))}
    </svg>
  );
}

export function VerifyPage({ canWrite }: { canWrite: boolean }) {
  const [rules, setRules] = useState<Rule[]>([]);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [datasets, setDatasets] = useState<DatasetBrief[]>([]);
  const [task, setTask] = useState<Task | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  const [kind, setKind] = useState<string>('');
  const [rows, setRows] = useState<{ total: number; offset: number; rows: Row[] } | null>(null);
  const [stats, setStats] = useState<StatsDay[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  // new rule form
  const [name, setName] = useState('');
  const [dataset, setDataset] = useState('nat-result');
  const [codeSource, setCodeSource] = useState('current');
  const [checkDistribution, setCheckDistribution] = useState(true);
  const [windowDays, setWindowDays] = useState('1');
  const [fixedFrom, setFixedFrom] = useState('');
  const [fixedTo, setFixedTo] = useState('');
  const [validUntil, setValidUntil] = useState('');
  const [checkEdges, setCheckEdges] = useState(false);
  const [scheduleKind, setScheduleKind] = useState<'' | 'daily' | 'every'>('');
  const [scheduleAt, setScheduleAt] = useState('08:00');
  const [scheduleHours, setScheduleHours] = useState('6');
  /** the rule being changed (PUT), null: the form creates a new one */
  const [editing, setEditing] = useState<Rule | null>(null);

  const fail = (e: unknown): void => setError(exchangeErrorText(e));

  const refresh = useCallback(async () => {
    try {
      setRules((await api<{ rules: Rule[] }>('GET', '/admin/v1/exchange/verify/rules')).rules);
      setTasks((await api<{ tasks: Task[] }>('GET', '/admin/v1/exchange/verify/tasks?limit=100')).tasks);
      setStats((await api<{ days: StatsDay[] }>('GET', '/admin/v1/exchange/verify/stats?days=60')).days);
    } catch (e) {
      fail(e);
    }
  }, []);

  const loadRows = useCallback(async (id: string, k: string, offset: number) => {
    try {
      const q = `${k === '' ? '' : `kind=${k}&`}offset=${offset}&limit=${PAGE}`;
      setRows(await api<{ total: number; offset: number; rows: Row[] }>('GET', `/admin/v1/exchange/verify/tasks/${id}/mismatches?${q}`));
    } catch (e) {
      fail(e);
    }
  }, []);

  const open = useCallback(async (id: string) => {
    try {
      const t = await api<Task>('GET', `/admin/v1/exchange/verify/tasks/${id}`);
      setTask(t);
      setReport(await api<Report>('GET', `/admin/v1/exchange/verify/tasks/${id}/report`));
      await loadRows(id, kind, 0);
    } catch (e) {
      fail(e);
    }
  }, [kind, loadRows]);

  useEffect(() => {
    void refresh();
    api<{ datasets: DatasetBrief[] }>('GET', '/admin/v1/exchange/datasets').then(
      (r) => setDatasets(r.datasets.filter((d, i, all) => (d.target === 'nat-result' || d.target === 'risk-person') && all.findIndex((x) => x.id === d.id) === i)),
      fail,
    );
  }, [refresh]);

  // Poll the open task while it runs.
  useEffect(() => {
    if (task === null || !['queued', 'running', 'stopping'].includes(task.status)) return;
    const t = setTimeout(() => {
      void open(task.id);
      void refresh();
    }, 1500);
    return () => clearTimeout(t);
  }, [task, open, refresh]);

  async function createRule(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    setOk(null);
    const fixed = fixedFrom !== '' || fixedTo !== '';
    const body: Record<string, unknown> = {
      name, dataset, codeSource, checkDistribution, checkEdges, validUntil: chinaInput(validUntil),
      schedule: scheduleKind === '' ? null : scheduleKind === 'daily' ? { kind: 'daily', at: scheduleAt } : { kind: 'every', hours: Number(scheduleHours) },
      ...(fixed ? { periodFrom: chinaInput(fixedFrom), periodTo: chinaInput(fixedTo) } : { windowDays: Number(windowDays) }),
    };
    try {
      if (editing === null) await api('POST', '/admin/v1/exchange/verify/rules', body);
      else await api('PUT', `/admin/v1/exchange/verify/rules/${editing.id}`, { ...body, validFrom: editing.validFrom });
      setOk(editing === null ? '核查规则已保存' : `核查规则“${name}”已修改`);
      setName('');
      setEditing(null);
      await refresh();
    } catch (err) {
      fail(err);
    }
  }

  /** Loads a rule into the form to change it (schedule, comparisons, period, validity). */
  function edit(r: Rule) {
    setEditing(r);
    setName(r.name);
    setDataset(r.dataset);
    setCodeSource(r.codeSource);
    setCheckDistribution(r.checkDistribution);
    setCheckEdges(r.checkEdges);
    setWindowDays(String(r.windowDays ?? 1));
    const local = (sec: number | null): string => (sec === null ? '' : new Date(sec * 1000 + 8 * 3600_000).toISOString().slice(0, 16));
    setFixedFrom(local(r.periodFrom));
    setFixedTo(local(r.periodTo));
    setValidUntil(local(r.validUntil));
    setScheduleKind(r.schedule === null ? '' : r.schedule.kind);
    if (r.schedule?.kind === 'daily') setScheduleAt(r.schedule.at);
    if (r.schedule?.kind === 'every') setScheduleHours(String(r.schedule.hours));
  }

  async function startTask(r: Rule) {
    setError(null);
    try {
      const t = await api<Task>('POST', `/admin/v1/exchange/verify/rules/${r.id}/tasks`, {});
      setOk(`已启动核查任务（${r.name}）`);
      await refresh();
      await open(t.id);
    } catch (err) {
      fail(err);
    }
  }

  async function act(action: 'stop' | 'resume' | 'rerun') {
    if (task === null) return;
    setError(null);
    try {
      const t = await api<Task>('POST', `/admin/v1/exchange/verify/tasks/${task.id}/${action}`);
      setOk({ stop: '已请求停止', resume: '任务继续执行', rerun: '已重新执行（新任务）' }[action]);
      await refresh();
      await open(t.id);
    } catch (err) {
      fail(err);
    }
  }

  async function download(path: string, file: string) {
    try {
      triggerDownload(await apiBlob(path), file);
    } catch (err) {
      fail(err);
    }
  }

  const periodText = (r: Rule): string => (r.windowDays !== null ? `最近 ${r.windowDays} 天` : `${fmtTime(r.periodFrom!)} 至 ${fmtTime(r.periodTo!)}`);
  const dsName = (id: string): string => datasets.find((d) => d.id === id)?.name ?? id;

  return (
    <>
      <ErrorBox error={error} />
      {ok && <OkBox>{ok}</OkBox>}
      {task && (
        <Section title={`核查任务 ${task.id}`} actions={<button type="button" className="btn-link" onClick={() => { setTask(null); setReport(null); setRows(null); }}>关闭</button>}>
          <p>
            {task.ruleName} · {dsName(task.dataset)} · 时段 {fmtTime(task.periodFrom)} 至 {fmtTime(task.periodTo)} · 下发序号截至 {task.throughSeq} ·{' '}
            <strong data-status={task.status}>{TASK_STATUS_ZH[task.status] ?? task.status}</strong>
            {task.rerunOf ? ` · 重新执行自 ${task.rerunOf}` : ''}
            {task.scheduledFor !== null ? ` · 定时执行（${fmtTime(task.scheduledFor)}）` : ''}
          </p>
          <p className="muted" data-testid="verify-basis">
            应赋码颜色依据现行赋码规则版本 {task.ruleVersion ?? '—'} 判定
            {task.edges !== null && task.edges.length > 0
              ? `；比对边缘节点副本：${task.edges.map((e) => `${e.name}（开始时已应用至序号 ${e.appliedSeq}）`).join('、')}，节点尚未应用的变更 ${task.edgePending} 人（不计为不一致）`
              : ''}
          </p>
          {['queued', 'running', 'stopping'].includes(task.status) && <Bar share={task.progress} />}
          {canWrite && (
            <div className="form-row">
              {(task.status === 'queued' || task.status === 'running') && <button type="button" className="btn" onClick={() => void act('stop')}>停止</button>}
              {task.status === 'stopped' && <button type="button" className="btn" onClick={() => void act('resume')}>继续执行</button>}
              {['done', 'failed', 'stopped'].includes(task.status) && <button type="button" className="btn" onClick={() => void act('rerun')}>重新执行</button>}
            </div>
          )}
          {report && (
            <>
              <h3>发现的问题</h3>
              {report.problems.length === 0 ? <div className="msg msg-ok">未发现不一致</div> : (
                <ul data-testid="verify-problems">
                  {report.problems.map((p) => (
                    <li key={p.kind}><strong style={{ color: '#b91c1c' }}>{p.zh}：{p.count} 人</strong> <span className="muted">{p.hint}</span></li>
                  ))}
                </ul>
              )}
              <p>
                核查 {task.counts.checked} 人，比对事实 {task.counts.facts} 条，应赋码 {task.counts.expected} 人，本数据集原因已赋码 {task.counts.assigned} 人，
                一致 {task.counts.consistent} 人，不一致 {task.counts.mismatches} 条。{report.masked ? '（身份信息已脱敏）' : ''}
              </p>
              {report.byCertType.length > 0 && (
                <table className="table">
                  <thead><tr><th>证件类型</th>{KINDS.map((k) => <th key={k}>{MISMATCH_KIND_ZH[k]}</th>)}<th>合计</th></tr></thead>
                  <tbody>
                    {report.byCertType.map((c) => (
                      <tr key={c.certType}><td>{c.certType}</td>{KINDS.map((k) => <td key={k}>{c.counts[k] ?? 0}</td>)}<td>{c.total}</td></tr>
                    ))}
                  </tbody>
                </table>
              )}
              <div className="form-row">
                <button type="button" className="btn" onClick={() => void download(`/admin/v1/exchange/verify/tasks/${task.id}/report.xlsx`, `赋码核查报告-${task.id}.xlsx`)}>导出报告（XLSX）</button>
                <button type="button" className="btn" onClick={() => void download(`/admin/v1/exchange/verify/tasks/${task.id}/report.pdf`, `赋码核查报告-${task.id}.pdf`)}>导出报告（PDF）</button>
              </div>
            </>
          )}
          <h3>不一致明细</h3>
          <div className="form-row">
            <label>
              问题类型{' '}
              <select value={kind} onChange={(e) => { setKind(e.target.value); void loadRows(task.id, e.target.value, 0); }}>
                <option value="">全部</option>
                {KINDS.map((k) => <option key={k} value={k}>{MISMATCH_KIND_ZH[k]}</option>)}
              </select>
            </label>
          </div>
          {rows === null || rows.rows.length === 0 ? <Empty>没有不一致记录</Empty> : (
            <>
              <table className="table" data-testid="verify-rows">
                <thead><tr><th>问题</th><th>证件类型</th><th>证件号码</th><th>姓名</th><th>手机号</th><th>地区</th><th>应赋码</th><th>已赋码</th><th>已下发/节点实际</th><th>原因</th><th>依据</th><th>说明</th></tr></thead>
                <tbody>
                  {rows.rows.map((r, i) => (
                    <tr key={`${r.kind}-${i}`}>
                      <td>{r.kindZh}</td><td>{r.idType}</td><td>{r.idNo}</td><td>{r.name}</td><td>{r.phone}</td><td>{r.region}</td>
                      <td>{r.expected}</td><td>{r.assigned}</td><td>{r.distributed}</td><td>{r.reason}</td><td>{r.fact}{r.factAt ? ` ${r.factAt}` : ''}</td><td>{r.detail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div className="form-row">
                <button type="button" className="btn" disabled={rows.offset === 0} onClick={() => void loadRows(task.id, kind, Math.max(0, rows.offset - PAGE))}>上一页</button>
                <span className="muted">第 {rows.offset + 1}–{rows.offset + rows.rows.length} 条，共 {rows.total} 条</span>
                <button type="button" className="btn" disabled={rows.offset + PAGE >= rows.total} onClick={() => void loadRows(task.id, kind, rows.offset + PAGE)}>下一页</button>
              </div>
            </>
          )}
          <h3>运行日志</h3>
          {(task.log ?? []).length === 0 ? <Empty>暂无日志</Empty> : (
            <table className="table">
              <thead><tr><th>时间</th><th>级别</th><th>内容</th></tr></thead>
              <tbody>
                {(task.log ?? []).map((l, i) => (
                  <tr key={i}><td>{fmtTime(l.at)}</td><td>{{ info: '信息', warn: '注意', error: '错误' }[l.level] ?? l.level}</td><td>{l.message}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      )}
      {canWrite && (
        <Section title={editing === null ? '新建核查规则' : `修改核查规则：${editing.name}`}
          actions={editing === null ? undefined : <button type="button" className="btn-link" onClick={() => { setEditing(null); setName(''); }}>取消修改</button>}>
          <form className="form-row" onSubmit={(e) => void createRule(e)} aria-label="新建核查规则">
            <label className="grow">规则名称 <input value={name} onChange={(e) => setName(e.target.value)} maxLength={80} required placeholder="如：每日核酸阳性赋码核查" /></label>
            <label>
              数据集{' '}
              <select value={dataset} onChange={(e) => setDataset(e.target.value)}>
                {datasets.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
              </select>
            </label>
            <label>
              比对赋码{' '}
              <select value={codeSource} onChange={(e) => setCodeSource(e.target.value)}>
                <option value="current">当前赋码</option>
                <option value="history">历史赋码</option>
              </select>
            </label>
            <label><input type="checkbox" checked={checkDistribution} onChange={(e) => setCheckDistribution(e.target.checked)} /> 比对下发数据</label>
            <label><input type="checkbox" checked={checkEdges} onChange={(e) => setCheckEdges(e.target.checked)} /> 比对边缘节点实际数据</label>
            <label>
              定时执行{' '}
              <select value={scheduleKind} onChange={(e) => setScheduleKind(e.target.value as '' | 'daily' | 'every')} aria-label="定时执行">
                <option value="">不定时（手动执行）</option>
                <option value="daily">每天定时</option>
                <option value="every">每隔若干小时</option>
              </select>
            </label>
            {scheduleKind === 'daily' && <label>时间（北京时间） <input type="time" value={scheduleAt} onChange={(e) => setScheduleAt(e.target.value)} aria-label="每天执行时间" /></label>}
            {scheduleKind === 'every' && <label>间隔小时 <input type="number" min={1} max={168} value={scheduleHours} onChange={(e) => setScheduleHours(e.target.value)} style={{ width: 70 }} aria-label="间隔小时" /></label>}
            <label>最近天数 <input type="number" min={1} max={366} value={windowDays} onChange={(e) => setWindowDays(e.target.value)} style={{ width: 70 }} /></label>
            <label>或固定时段 <input type="datetime-local" value={fixedFrom} onChange={(e) => setFixedFrom(e.target.value)} /></label>
            <label>至 <input type="datetime-local" value={fixedTo} onChange={(e) => setFixedTo(e.target.value)} /></label>
            <label>有效期至（可空） <input type="datetime-local" value={validUntil} onChange={(e) => setValidUntil(e.target.value)} /></label>
            <button type="submit" className="btn-primary" disabled={name.trim() === ''}>保存</button>
          </form>
          <p className="muted">应赋码颜色按现行发布的赋码规则判定（如默认规则：核酸阳性、确诊、疑似、密接赋红码，次密接赋黄码）；时间均为北京时间。比对边缘节点实际数据时，读取各节点副本中亮码、验码实际使用的赋码。</p>
        </Section>
      )}
      <Section title="核查规则" actions={<button type="button" className="btn-link" onClick={() => void refresh()}>刷新</button>}>
        {rules.length === 0 ? <Empty>还没有核查规则</Empty> : (
          <table className="table">
            <thead><tr><th>规则</th><th>数据集</th><th>比对</th><th>时段</th><th>执行方式</th><th>有效期</th><th>创建人</th><th /></tr></thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.id} data-rule={r.id}>
                  <td>{r.name}</td>
                  <td>{dsName(r.dataset)}</td>
                  <td>{CODE_SOURCE_ZH[r.codeSource] ?? r.codeSource}{r.checkDistribution ? '、下发数据' : ''}{r.checkEdges ? '、边缘节点实际数据' : ''}</td>
                  <td>{periodText(r)}</td>
                  <td>{scheduleText(r.schedule)}{r.nextRunAt !== null ? `，下次 ${fmtTime(r.nextRunAt)}` : ''}</td>
                  <td>{fmtTime(r.validFrom)} 起{r.validUntil === null ? '，长期有效' : `，至 ${fmtTime(r.validUntil)}`}</td>
                  <td>{r.createdBy}</td>
                  <td>
                    {canWrite && <button type="button" className="btn-link" onClick={() => void startTask(r)}>执行核查</button>}
                    {canWrite && <button type="button" className="btn-link" onClick={() => edit(r)}>修改</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="核查任务">
        {tasks.length === 0 ? <Empty>还没有核查任务</Empty> : (
          <table className="table">
            <thead><tr><th>创建时间</th><th>规则</th><th>状态</th><th>核查人数</th><th>不一致</th><th>完成时间</th><th /></tr></thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id} data-task={t.id}>
                  <td>{fmtTime(t.createdAt)}</td>
                  <td>{t.ruleName}</td>
                  <td>{TASK_STATUS_ZH[t.status] ?? t.status}{t.status === 'running' ? ` ${Math.round(t.progress * 100)}%` : ''}</td>
                  <td>{t.counts.checked}</td>
                  <td>{t.counts.mismatches}</td>
                  <td>{t.finishedAt === null ? '—' : fmtTime(t.finishedAt)}</td>
                  <td><button type="button" className="btn-link" onClick={() => void open(t.id)}>报告</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section
        title="核查统计（近 60 天，按规则和日期）"
        actions={(
          <>
            <button type="button" className="btn-link" onClick={() => void download('/admin/v1/exchange/verify/stats.xlsx?days=60', '赋码核查统计.xlsx')}>导出 XLSX</button>{' '}
            <button type="button" className="btn-link" onClick={() => void download('/admin/v1/exchange/verify/stats.pdf?days=60', '赋码核查统计.pdf')}>导出 PDF</button>
          </>
        )}
      >
        <StatsChart days={stats} />
      </Section>
    </>
  );
}
