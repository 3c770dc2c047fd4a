import { useState, type FormEvent } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { COLOR_LABEL, FACT_KIND_LABEL, fmtTime, ID_TYPE_LABEL } from '../../admin-api/console/src/format.js';
import { ColorBadge, Empty, ErrorBox, Section } from '../../admin-api/console/src/ui.js';
import { MODE_LABEL, reasonLabel, sourceLabel, trcErrorText } from './trc-common.js';

/**
 * 个人溯源: one person by certificate — their red/yellow periods, and where
 * every record about them came from (department file and row, rule
 * version, the delta that carried each code to the edges, scans, travel,
 * tracing tasks). Identity masked for masked roles; every look-up audited.
 */
interface Trace {
  person: { name: string; idNo: string | null; phone: string | null; regionName: string; masked: boolean };
  code: { color: string; reason: string; since: number; ruleVersion: string | null; seq: number } | null;
  facts: { id: number; kind: string; at: number; source?: string; sourceRef?: string | null; recordedAt: number }[];
  history: { at: number; prevColor: string | null; color: string; reason: string; ruleVersion: string | null; actor: string; seq: number }[];
  pushes: { seq: number; at: number }[];
  scans: { at: number; venueName: string | null; regionName: string | null; node: string }[] | { count: number };
  travel: { mode: string; number: string; date: string; seat: string | null; source: string; sourceRef: string | null }[] | { count: number };
  tracing: { taskId: number; taskName: string; groupId: number | null }[];
}
interface History { periods: { color: string; reason: string; from: number; to: number | null; ruleVersion: string | null; actor: string }[] }


export function PersonPage() {
  const [idType, setIdType] = useState('resident');
  const [idNo, setIdNo] = useState('');
  const [t, setT] = useState<Trace | null>(null);
  const [h, setH] = useState<History | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function look(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setT(null);
    try {
      const body = { idType, idNo: idNo.trim() };
      setT(await api<Trace>('POST', '/admin/v1/tracing/person/trace', body));
      setH(await api<History>('POST', '/admin/v1/tracing/person/history', body).catch(() => null));
    } catch (err) {
      setError(trcErrorText(err));
    }
  }

  const pushAt = new Map((t?.pushes ?? []).map((p) => [p.seq, p.at]));
  return (
    <>
      <Section title="个人溯源查询">
        <form className="form-row" onSubmit={look} aria-label="个人溯源查询">
          <label>证件类型
            <select value={idType} onChange={(e) => setIdType(e.target.value)}>
              {Object.entries(ID_TYPE_LABEL).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
            </select>
          </label>
          <label className="grow">证件号码<input name="traceIdNo" value={idNo} onChange={(e) => setIdNo(e.target.value)} required maxLength={32} autoComplete="off" /></label>
          <button type="submit" className="btn-primary">查询</button>
        </form>
        <ErrorBox error={error} />
      </Section>
      {t ? (
        <>
          <Section title={`${t.person.name}（${t.person.regionName}）`}>
            <p>证件：<span className="mono">{t.person.idNo ?? '—'}</span>　手机：<span className="mono">{t.person.phone ?? '—'}</span>　当前：<ColorBadge color={t.code?.color} /> {t.code ? `${reasonLabel(t.code.reason)}，自 ${fmtTime(t.code.since)}，规则版本 ${t.code.ruleVersion ?? '人工'}` : '未赋码'}</p>
            {h && h.periods.length > 0 ? (
              <table data-testid="trc-periods">
                <thead><tr><th>码色</th><th>原因</th><th>开始</th><th>结束</th><th>规则版本</th><th>来源</th></tr></thead>
                <tbody>{h.periods.map((p, i) => <tr key={i}><td>{COLOR_LABEL[p.color]}</td><td>{reasonLabel(p.reason)}</td><td>{fmtTime(p.from)}</td><td>{p.to === null ? '仍在生效' : fmtTime(p.to)}</td><td>{p.ruleVersion ?? '—'}</td><td>{sourceLabel(p.actor)}</td></tr>)}</tbody>
              </table>
            ) : <Empty>没有红黄码记录。</Empty>}
          </Section>
          <Section title="数据来源（事实）">
            {t.facts.length === 0 ? <Empty>无。</Empty> : (
              <table data-testid="trc-facts">
                <thead><tr><th>事件</th><th>发生时间</th><th>来源</th><th>批次:行</th><th>入库时间</th></tr></thead>
                <tbody>{t.facts.map((f) => <tr key={f.id}><td>{FACT_KIND_LABEL[f.kind] ?? f.kind}</td><td>{fmtTime(f.at)}</td><td>{sourceLabel(f.source)}</td><td className="mono">{f.sourceRef ?? '—'}</td><td>{fmtTime(f.recordedAt)}</td></tr>)}</tbody>
              </table>
            )}
          </Section>
          <Section title="赋码变更与下发">
            <table data-testid="trc-history">
              <thead><tr><th>时间</th><th>变更</th><th>原因</th><th>规则版本</th><th>操作来源</th><th>下发序号</th><th>进入下发队列</th></tr></thead>
              <tbody>{t.history.map((x) => <tr key={x.seq}><td>{fmtTime(x.at)}</td><td>{x.prevColor ? COLOR_LABEL[x.prevColor] : '首次'} → {COLOR_LABEL[x.color]}</td><td>{reasonLabel(x.reason)}</td><td>{x.ruleVersion ?? '人工'}</td><td>{sourceLabel(x.actor)}</td><td className="mono">{x.seq}</td><td>{fmtTime(pushAt.get(x.seq))}</td></tr>)}</tbody>
            </table>
          </Section>
          <Section title="扫码与行程">
            {'count' in t.scans ? <p className="muted">扫码 {t.scans.count} 次（您的角色不显示地点）。</p> : t.scans.length === 0 ? <Empty>保存期内无扫码。</Empty> : (
              <table data-testid="trc-scans">
                <thead><tr><th>时间</th><th>场所</th><th>地区</th></tr></thead>
                <tbody>{t.scans.map((s, i) => <tr key={i}><td>{fmtTime(s.at)}</td><td>{s.venueName ?? '（核验）'}</td><td>{s.regionName ?? '—'}</td></tr>)}</tbody>
              </table>
            )}
            {'count' in t.travel ? <p className="muted">行程 {t.travel.count} 段。</p> : t.travel.map((x, i) => (
              <div key={i}>{MODE_LABEL[x.mode] ?? '其他'} {x.number}（{x.date}）{x.seat ? ` 座位 ${x.seat}` : ''}，来源：{sourceLabel(x.source)} <span className="mono">{x.sourceRef ?? ''}</span></div>
            ))}
            {t.tracing.length > 0 ? <p>出现在流调任务：{t.tracing.map((x) => `${x.taskName}${x.groupId !== null ? '（已入风险人群）' : ''}`).join('；')}</p> : null}
          </Section>
        </>
      ) : null}
    </>
  );
}
