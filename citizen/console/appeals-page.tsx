import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, apiBlob } from '../../admin-api/console/src/api.js';
import { COLOR_LABEL } from '../../admin-api/console/src/format.js';
import { ColorBadge, Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { APPEAL_STATUS_ZH, APPEAL_TYPE_ZH, APPEAL_TYPES, RESOLUTION_ZH, RESOLUTIONS } from '../labels.js';
import { citErrorText, fmtMs } from './common.js';

/**
 * 申诉工单: the region's work orders (open and overdue first), one order's
 * detail (text, photo, call-back number, the person's code and its history,
 * timeline) with 受理 / 答复 / 办结 and 转码 from the order; the hotline
 * seat's form to file for a caller; statistics with a per-day chart.
 * Every detail view is audited on the server.
 */
interface Order {
  id: number; type: string; typeZh: string; text: string; status: string; statusZh: string; regionZh: string; overdue: boolean;
  createdAt: number; dueAt: number; channel: string; reply: string | null; hasPhoto: boolean; assignee: string | null;
}
interface Detail extends Order {
  contact: string | null;
  person: { name: string; code: { color: string; reason: string } | null; history: { at: number; color: string; prevColor: string | null; reason: string; actor: string }[] };
  events: { at: number; actor: string; action: string; note: string | null }[];
  canTranscode: boolean;
  resolutionZh: string | null;
}
interface Stats {
  total: number;
  byType: { typeZh: string; total: number; open: number; overdue: number; closed: number; avgHoursToClose: number | null }[];
  byRegion: { regionZh: string; total: number; open: number; overdue: number }[];
  closeHours: { n: number; avg: number | null; p50: number | null; p90: number | null };
  perDay: { day: string; filed: number; closed: number }[];
}

const EVENT_ZH: Record<string, string> = { filed: '提交', accepted: '受理', replied: '答复', closed: '办结', overdue: '超时' };
/** code reasons and system actors as an official reads them (edge/app/src/app.js has the citizen's list) */
const REASON_ZH: Record<string, string> = {
  normal: '正常', confirmed: '确诊', test_positive: '核酸阳性', suspected: '疑似', close_contact: '密切接触者', secondary_contact: '次密切接触者',
  risk_area: '中高风险地区旅居', high_risk_area: '高风险地区旅居', medium_risk_area: '中风险地区旅居', entry_no_test: '入川未按时检测',
  entry_test_overdue: '入川未按时检测', entry_test_pending: '入川待检测', manual: '人工赋码', appeal_corrected: '申诉更正',
};
const ACTOR_ZH: Record<string, string> = {
  register: '领码', citizen: '群众', system: '系统', 'scan:entry': '入川扫码', 'citizen:travel-card': '行程卡核验', scheduler: '定时重算',
};
const reasonZh = (r: string): string => REASON_ZH[r] ?? r;
const actorZh = (a: string): string => ACTOR_ZH[a] ?? (a.startsWith('import:') ? `数据导入（${a.slice(7)}）` : a);

function DayChart({ days }: { days: Stats['perDay'] }) {
  const max = Math.max(1, ...days.map((d) => Math.max(d.filed, d.closed)));
  const w = 28;
  const h = 120;
  return (
    <svg className="cit-chart" width={days.length * w + 10} height={h + 30} role="img" aria-label="近 14 天每日受理与办结数">
      {days.map((d, i) => {
        const fh = (d.filed / max) * h;
        const ch = (d.closed / max) * h;
        return (
          <g key={d.day} transform={`translate(${i * w + 5},0)`}>
            <rect x={2} y={h - fh} width={10} height={fh} fill="#1565c0"><title>{`${d.day} 提交 ${d.filed}`}</title></rect>
            <rect x={13} y={h - ch} width={10} height={ch} fill="#16a34a"><title>{`${d.day} 办结 ${d.closed}`}</title></rect>
            <text x={12} y={h + 14} fontSize={9} textAnchor="middle">{d.day.slice(5)}</text>
          </g>
        );
      })}
      <text x={5} y={h + 28} fontSize={10}>蓝：提交　绿：办结</text>
    </svg>
  );
}

function OrderDetail({ id, canWrite, onChanged }: { id: number; canWrite: boolean; onChanged: () => void }) {
  const [d, setD] = useState<Detail | null>(null);
  const [photo, setPhoto] = useState<string | null>(null);
  const [reply, setReply] = useState('');
  const [resolution, setResolution] = useState<string>('explained');
  const [color, setColor] = useState('green');
  const [reason, setReason] = useState('appeal_corrected');
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);

  const load = useCallback(() => {
    api<Detail>('GET', `/admin/v1/appeals/${id}`).then(setD).catch((e: unknown) => setError(citErrorText(e)));
  }, [id]);
  useEffect(load, [load]);
  useEffect(() => {
    let u: string | null = null;
    if (d?.hasPhoto) {
      apiBlob(`/admin/v1/appeals/${id}/photo`).then((b) => {
        u = URL.createObjectURL(b);
        setPhoto(u);
      }).catch(() => setPhoto(null));
    }
    return () => {
      if (u) URL.revokeObjectURL(u);
    };
  }, [id, d?.hasPhoto]);

  async function act(path: string, body: unknown, done: string) {
    setError(null);
    setOk(null);
    try {
      await api('POST', `/admin/v1/appeals/${id}/${path}`, body);
      setOk(done);
      load();
      onChanged();
    } catch (e) {
      setError(citErrorText(e));
    }
  }

  if (!d) return <ErrorBox error={error} />;
  return (
    <Section title={`工单 ${d.id}：${d.typeZh}`}>
      <p>
        <span className="tag">{d.statusZh}</span> {d.overdue ? <span className="tag tag-warn">已超时</span> : null} 地区：{d.regionZh}　来源：
        {d.channel === 'hotline' ? '热线代填' : '健康码页面'}　提交：{fmtMs(d.createdAt)}　办理时限：{fmtMs(d.dueAt)}
      </p>
      <p style={{ whiteSpace: 'pre-wrap' }} data-testid="appeal-text">{d.text}</p>
      {photo ? <img src={photo} alt="申诉附件照片" style={{ maxWidth: 320 }} /> : null}
      <p>回访电话：{d.contact ?? '未填写'}　当事人：{d.person.name || '—'}　当前健康码：{d.person.code ? <><ColorBadge color={d.person.code.color} />（{reasonZh(d.person.code.reason)}）</> : '—'}</p>
      <h3>赋码记录</h3>
      {d.person.history.length === 0 ? <Empty>无</Empty> : (
        <table>
          <thead><tr><th>时间</th><th>变更</th><th>原因</th><th>操作人</th></tr></thead>
          <tbody>
            {d.person.history.map((h, i) => (
              <tr key={i}><td>{fmtMs(h.at * 1000)}</td><td>{h.prevColor ? COLOR_LABEL[h.prevColor] : '领码'} → {COLOR_LABEL[h.color]}</td><td>{reasonZh(h.reason)}</td><td>{actorZh(h.actor)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>办理记录</h3>
      <ul>{d.events.map((e, i) => <li key={i}>{fmtMs(e.at)} {EVENT_ZH[e.action] ?? e.action}（{actorZh(e.actor)}）{e.note ? `：${e.note}` : ''}</li>)}</ul>
      {d.reply ? <p>已答复：{d.reply}</p> : null}
      {canWrite && d.status !== 'closed' ? (
        <>
          <div className="form-row">
            {d.status === 'open' ? <button type="button" className="btn-primary" onClick={() => void act('accept', {}, '已受理')}>受理</button> : null}
          </div>
          <div className="form-row">
            <label className="grow">答复内容<textarea value={reply} onChange={(e) => setReply(e.target.value)} rows={3} maxLength={2000} /></label>
            <button type="button" onClick={() => void act('reply', { reply }, '已答复，群众可在页面查看')} disabled={reply.trim() === ''}>答复</button>
          </div>
          <div className="form-row">
            <label>办结结论
              <select value={resolution} onChange={(e) => setResolution(e.target.value)}>
                {RESOLUTIONS.map((r) => <option key={r} value={r}>{RESOLUTION_ZH[r]}</option>)}
              </select>
            </label>
            <button type="button" onClick={() => void act('close', { resolution }, '已办结')}>办结</button>
          </div>
          {d.canTranscode ? (
            <div className="form-row">
              <label>转为
                <select value={color} onChange={(e) => setColor(e.target.value)}>
                  {['green', 'yellow', 'red'].map((c) => <option key={c} value={c}>{COLOR_LABEL[c]}</option>)}
                </select>
              </label>
              <label>原因<input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={64} /></label>
              <button type="button" className="btn-danger" onClick={() => void act('transcode', { color, reason }, '已转码（已记入审计）')}>转码</button>
            </div>
          ) : null}
        </>
      ) : null}
      {ok ? <OkBox>{ok}</OkBox> : null}
      <ErrorBox error={error} />
    </Section>
  );
}

export function AppealsPage({ canWrite }: { canWrite: boolean }) {
  const [status, setStatus] = useState('');
  const [type, setType] = useState('');
  const [overdue, setOverdue] = useState(false);
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [form, setForm] = useState({ idNo: '', phone: '', type: 'code_wrong', text: '', contact: '' });
  const [filed, setFiled] = useState<string | null>(null);
  const [callerOrders, setCallerOrders] = useState<{ name: string; appeals: Order[] } | null>(null);

  async function lookup() {
    setError(null);
    setCallerOrders(null);
    try {
      const body: Record<string, string> = form.idNo.trim() ? { idNo: form.idNo.trim() } : { phone: form.phone.trim() };
      setCallerOrders(await api<{ name: string; appeals: Order[] }>('POST', '/admin/v1/appeals/lookup', body));
    } catch (err) {
      setError(citErrorText(err));
    }
  }

  useEffect(() => {
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    if (type) q.set('type', type);
    if (overdue) q.set('overdue', 'true');
    api<{ appeals: Order[] }>('GET', `/admin/v1/appeals?${q}`).then((r) => setOrders(r.appeals)).catch((e: unknown) => setError(citErrorText(e)));
    api<Stats>('GET', '/admin/v1/appeals-stats').then(setStats).catch(() => undefined);
  }, [status, type, overdue, tick]);

  async function file(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setFiled(null);
    try {
      const body: Record<string, string> = { type: form.type, text: form.text };
      if (form.idNo.trim()) body.idNo = form.idNo.trim();
      else body.phone = form.phone.trim();
      if (form.contact.trim()) body.contact = form.contact.trim();
      const r = await api<Order>('POST', '/admin/v1/appeals', body);
      setFiled(`已代为提交工单 ${r.id}（${r.regionZh}）`);
      setForm({ idNo: '', phone: '', type: 'code_wrong', text: '', contact: '' });
      setTick((t) => t + 1);
    } catch (err) {
      setError(citErrorText(err));
    }
  }

  return (
    <>
      <Section title="申诉工单">
        <div className="form-row">
          <label>状态
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">全部</option>
              {Object.entries(APPEAL_STATUS_ZH).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
            </select>
          </label>
          <label>类型
            <select value={type} onChange={(e) => setType(e.target.value)}>
              <option value="">全部</option>
              {APPEAL_TYPES.map((t) => <option key={t} value={t}>{APPEAL_TYPE_ZH[t]}</option>)}
            </select>
          </label>
          <label><input type="checkbox" checked={overdue} onChange={(e) => setOverdue(e.target.checked)} />只看超时</label>
        </div>
        <ErrorBox error={error} />
        {orders === null ? null : orders.length === 0 ? <Empty>暂无工单</Empty> : (
          <table>
            <thead><tr><th>编号</th><th>类型</th><th>地区</th><th>状态</th><th>提交时间</th><th>办理时限</th><th /></tr></thead>
            <tbody>
              {orders.map((o) => (
                <tr key={o.id} data-overdue={o.overdue ? '1' : undefined}>
                  <td className="num">{o.id}</td><td>{o.typeZh}</td><td>{o.regionZh}</td>
                  <td>{o.statusZh}{o.overdue ? <span className="tag tag-warn">超时</span> : null}</td>
                  <td>{fmtMs(o.createdAt)}</td><td>{fmtMs(o.dueAt)}</td>
                  <td><button type="button" className="btn-link" onClick={() => setOpen(o.id)}>办理</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {open !== null ? <OrderDetail key={open} id={open} canWrite={canWrite} onChanged={() => setTick((t) => t + 1)} /> : null}
      {canWrite ? (
        <Section title="热线代填申诉">
          <form className="form-row" onSubmit={file} aria-label="热线代填申诉">
            <label>来电人身份证号<input value={form.idNo} onChange={(e) => setForm({ ...form, idNo: e.target.value })} maxLength={18} /></label>
            <label>或手机号<input value={form.phone} onChange={(e) => setForm({ ...form, phone: e.target.value })} maxLength={14} /></label>
            <label>问题类型
              <select value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value })}>
                {APPEAL_TYPES.map((t) => <option key={t} value={t}>{APPEAL_TYPE_ZH[t]}</option>)}
              </select>
            </label>
            <label className="grow">情况说明<textarea value={form.text} onChange={(e) => setForm({ ...form, text: e.target.value })} rows={3} maxLength={2000} required /></label>
            <label>回访电话<input value={form.contact} onChange={(e) => setForm({ ...form, contact: e.target.value })} maxLength={14} /></label>
            <button type="submit" className="btn-primary">提交工单</button>
            <button type="button" onClick={() => void lookup()}>查询来电人工单</button>
          </form>
          {filed ? <OkBox>{filed}</OkBox> : null}
          {callerOrders ? (
            callerOrders.appeals.length === 0 ? <Empty>{callerOrders.name} 暂无申诉工单</Empty> : (
              <table data-testid="caller-orders">
                <thead><tr><th>编号</th><th>类型</th><th>状态</th><th>提交时间</th><th>答复</th><th /></tr></thead>
                <tbody>
                  {callerOrders.appeals.map((o) => (
                    <tr key={o.id}>
                      <td className="num">{o.id}</td><td>{o.typeZh}</td><td>{o.statusZh}</td><td>{fmtMs(o.createdAt)}</td><td>{o.reply ?? '—'}</td>
                      <td><button type="button" className="btn-link" onClick={() => setOpen(o.id)}>查看</button></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          ) : null}
        </Section>
      ) : null}
      {stats ? (
        <Section title="工单统计">
          <p>工单总数 {stats.total}；已办结 {stats.closeHours.n} 件，平均办结用时 {stats.closeHours.avg ?? '—'} 小时（中位数 {stats.closeHours.p50 ?? '—'}，90% {stats.closeHours.p90 ?? '—'}）。</p>
          <DayChart days={stats.perDay} />
          <table>
            <thead><tr><th>类型</th><th>总数</th><th>未办结</th><th>超时</th><th>已办结</th><th>平均办结（小时）</th></tr></thead>
            <tbody>{stats.byType.map((t) => <tr key={t.typeZh}><td>{t.typeZh}</td><td className="num">{t.total}</td><td className="num">{t.open}</td><td className="num">{t.overdue}</td><td className="num">{t.closed}</td><td className="num">{t.avgHoursToClose ?? '—'}</td></tr>)}</tbody>
          </table>
          <table>
            <thead><tr><th>地区</th><th>总数</th><th>未办结</th><th>超时</th></tr></thead>
            <tbody>{stats.byRegion.map((r) => <tr key={r.regionZh}><td>{r.regionZh}</td><td className="num">{r.total}</td><td className="num">{r.open}</td><td className="num">{r.overdue}</td></tr>)}</tbody>
          </table>
        </Section>
      ) : null}
    </>
  );
}
