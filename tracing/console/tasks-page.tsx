import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { fmtTime, localInputToSec } from '../../admin-api/console/src/format.js';
import { ColorBadge, Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { MODE_LABEL, STATE_LABEL, toLocalInput, trcErrorText } from './trc-common.js';

/**
 * 精准找人: find the venues of a case report by fuzzy name (partial,
 * misspelt, traditional, pinyin initials), give each its own time window
 * and 前推/后推 margins, add trains/flights for 同乘, run the task, read who
 * was found, and make them a risk group.
 */
interface VenueHit { id: string; name: string; region: string; regionName: string; kind: string; score: number }
interface Picked { id: string; name: string; regionName: string; from: string; to: string; before: string; after: string }
interface TripIn { mode: string; number: string; date: string }
export interface TaskRow {
  id: number; name: string; state: string; createdBy: string; createdAt: number; scans: number; people: number; excluded: number;
  groupId: number | null; regionName: string; error: string | null;
}
export interface PersonRow {
  personId: number; name: string; idNo: string | null; phone: string | null; regionName: string; color: string | null;
  evidence: { venues: { venueId: string; first: number; last: number; scans: number }[]; trips: { mode: string; number: string; date: string; seat: string | null }[] } | { venues: number; trips: number };
}

export function EvidenceCell({ e, names }: { e: PersonRow['evidence']; names: Record<string, string> }) {
  if (typeof e.venues === 'number') return <span className="muted">场所 {e.venues} 处，车次 {e.trips as number} 次</span>;
  const trips = e.trips as Exclude<PersonRow['evidence'], { venues: number }>['trips'];
  return (
    <>
      {e.venues.map((v) => (
        <div key={v.venueId}>{names[v.venueId] ?? '场所'}：{fmtTime(v.first)} 至 {fmtTime(v.last)}，扫码 {v.scans} 次</div>
      ))}
      {trips.map((t) => (
        <div key={`${t.mode}${t.number}${t.date}`}>{MODE_LABEL[t.mode] ?? '其他'} {t.number}（{t.date}）{t.seat ? `座位 ${t.seat}` : ''}</div>
      ))}
    </>
  );
}

export function PeopleTable({ people, names }: { people: PersonRow[]; names: Record<string, string> }) {
  if (people.length === 0) return <Empty>没有人员。</Empty>;
  return (
    <table data-testid="trc-people">
      <thead><tr><th>姓名</th><th>证件号码</th><th>手机号码</th><th>所属地区</th><th>当前码色</th><th>关联依据</th></tr></thead>
      <tbody>
        {people.map((p) => (
          <tr key={p.personId}>
            <td>{p.name}</td><td className="mono">{p.idNo ?? '—'}</td><td className="mono">{p.phone ?? '—'}</td><td>{p.regionName}</td>
            <td><ColorBadge color={p.color} /></td><td><EvidenceCell e={p.evidence} names={names} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TasksPage({ canWrite }: { canWrite: boolean }) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<VenueHit[] | null>(null);
  const [picked, setPicked] = useState<Picked[]>([]);
  const [trips, setTrips] = useState<TripIn[]>([]);
  const [trip, setTrip] = useState<TripIn>({ mode: 'train', number: '', date: '' });
  const [name, setName] = useState('');
  const [exclude, setExclude] = useState(true);
  const [tasks, setTasks] = useState<TaskRow[]>([]);
  const [current, setCurrent] = useState<(TaskRow & { venueNames?: Record<string, string> }) | null>(null);
  const [people, setPeople] = useState<PersonRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);

  const loadTasks = useCallback(() => {
    api<{ tasks: TaskRow[] }>('GET', '/admin/v1/tracing/tasks').then((r) => setTasks(r.tasks)).catch((e: unknown) => setError(trcErrorText(e)));
  }, []);
  useEffect(loadTasks, [loadTasks]);

  useEffect(() => {
    const text = q.trim();
    if (text === '') {
      setHits(null);
      return;
    }
    const n = ++seq.current;
    const t = setTimeout(() => {
      api<{ venues: VenueHit[] }>('POST', '/admin/v1/tracing/venues/search', { q: text, limit: 20 })
        .then((r) => {
          if (n === seq.current) {
            setHits(r.venues);
            setError(null);
          }
        })
        .catch((e: unknown) => {
          if (n === seq.current) setError(trcErrorText(e));
        });
    }, 250);
    return () => clearTimeout(t);
  }, [q]);

  function pick(v: VenueHit) {
    if (picked.some((p) => p.id === v.id)) return;
    const now = Math.floor(Date.now() / 1000);
    setPicked([...picked, { id: v.id, name: v.name, regionName: v.regionName, from: toLocalInput(now - 4 * 3600), to: toLocalInput(now - 2 * 3600), before: '30', after: '30' }]);
  }

  function update(i: number, patch: Partial<Picked>) {
    setPicked(picked.map((p, j) => (j === i ? { ...p, ...patch } : p)));
  }

  async function open(id: number) {
    setError(null);
    try {
      const t = await api<TaskRow & { venueNames: Record<string, string> }>('GET', `/admin/v1/tracing/tasks/${id}`);
      setCurrent(t);
      const p = await api<{ people: PersonRow[] }>('GET', `/admin/v1/tracing/tasks/${id}/people?limit=500`);
      setPeople(p.people);
    } catch (e) {
      setError(trcErrorText(e));
    }
  }

  async function run() {
    setBusy(true);
    setError(null);
    setOk(null);
    try {
      const venues = picked.map((p) => ({
        venueId: p.id, from: localInputToSec(p.from) ?? 0, to: localInputToSec(p.to) ?? 0,
        before: Math.round(Number(p.before || 0) * 60), after: Math.round(Number(p.after || 0) * 60),
      }));
      const t = await api<TaskRow & { ms: number }>('POST', '/admin/v1/tracing/tasks', {
        name: name.trim() || `流调任务 ${fmtTime(Math.floor(Date.now() / 1000))}`, venues, trips, ...(exclude ? { exclude: 'all' } : {}),
      });
      setOk(`任务已完成：找到 ${t.people} 人（匹配扫码 ${t.scans} 条，排除已入组 ${t.excluded} 人），用时 ${t.ms} 毫秒。`);
      loadTasks();
      await open(t.id);
    } catch (e) {
      setError(trcErrorText(e));
    } finally {
      setBusy(false);
    }
  }

  async function makeGroup(t: TaskRow) {
    setError(null);
    try {
      const g = await api<{ id: number; people: number; name: string }>('POST', `/admin/v1/tracing/tasks/${t.id}/group`, {});
      setOk(`已生成风险人群「${g.name}」，共 ${g.people} 人。可在「风险人群」页面批量转码或导出。`);
      loadTasks();
      await open(t.id);
    } catch (e) {
      setError(trcErrorText(e));
    }
  }

  return (
    <>
      <ErrorBox error={error} />
      {ok ? <OkBox>{ok}</OkBox> : null}
      {canWrite ? (
        <Section title="新建流调任务">
          <label className="grow">
            场所名称（支持部分名称、错别字、繁体、拼音首字母）
            <input name="venueSearch" value={q} onChange={(e) => setQ(e.target.value)} maxLength={100} placeholder="例如：春熙路、太古里、cxl" />
          </label>
          {hits !== null ? (
            hits.length === 0 ? <Empty>没有匹配的场所。</Empty> : (
              <table data-testid="trc-venue-hits">
                <thead><tr><th>场所</th><th>地区</th><th>匹配度</th><th /></tr></thead>
                <tbody>
                  {hits.map((v) => (
                    <tr key={v.id}>
                      <td>{v.name}</td><td>{v.regionName}</td><td>{Math.round(v.score * 100)}%</td>
                      <td><button type="button" className="btn-link" onClick={() => pick(v)}>加入任务</button></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          ) : null}
          {picked.length > 0 ? (
            <table data-testid="trc-picked">
              <thead><tr><th>场所</th><th>开始时间</th><th>结束时间</th><th>前推（分钟）</th><th>后推（分钟）</th><th /></tr></thead>
              <tbody>
                {picked.map((p, i) => (
                  <tr key={p.id}>
                    <td>{p.name}<div className="muted">{p.regionName}</div></td>
                    <td><input type="datetime-local" value={p.from} onChange={(e) => update(i, { from: e.target.value })} aria-label="开始时间" /></td>
                    <td><input type="datetime-local" value={p.to} onChange={(e) => update(i, { to: e.target.value })} aria-label="结束时间" /></td>
                    <td><input type="number" min={0} max={20160} value={p.before} onChange={(e) => update(i, { before: e.target.value })} aria-label="前推分钟" /></td>
                    <td><input type="number" min={0} max={20160} value={p.after} onChange={(e) => update(i, { after: e.target.value })} aria-label="后推分钟" /></td>
                    <td><button type="button" className="btn-link" onClick={() => setPicked(picked.filter((_, j) => j !== i))}>移除</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <div className="form-row">
            <label>
              交通方式
              <select value={trip.mode} onChange={(e) => setTrip({ ...trip, mode: e.target.value })} aria-label="交通方式">
                {Object.entries(MODE_LABEL).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
              </select>
            </label>
            <label>车次/航班号<input value={trip.number} onChange={(e) => setTrip({ ...trip, number: e.target.value })} maxLength={32} aria-label="车次" /></label>
            <label>乘车日期<input type="date" value={trip.date} onChange={(e) => setTrip({ ...trip, date: e.target.value })} aria-label="乘车日期" /></label>
            <button type="button" disabled={trip.number.trim() === '' || trip.date === ''} onClick={() => { setTrips([...trips, trip]); setTrip({ ...trip, number: '' }); }}>
              添加同乘车次
            </button>
          </div>
          {trips.length > 0 ? (
            <ul>{trips.map((t, i) => <li key={i}>{MODE_LABEL[t.mode]} {t.number}（{t.date}） <button type="button" className="btn-link" onClick={() => setTrips(trips.filter((_, j) => j !== i))}>移除</button></li>)}</ul>
          ) : null}
          <div className="form-row">
            <label className="grow">任务名称<input name="taskName" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} placeholder="例如：3月1日确诊病例关联场所" /></label>
            <label><input type="checkbox" checked={exclude} onChange={(e) => setExclude(e.target.checked)} /> 排除已在风险人群中的人员</label>
            <button type="button" className="btn-primary" disabled={busy || (picked.length === 0 && trips.length === 0)} onClick={() => void run()}>
              开始查找
            </button>
          </div>
        </Section>
      ) : null}

      {current ? (
        <Section title={`任务结果：${current.name}`} actions={canWrite && current.groupId === null && current.people > 0 ? (
          <button type="button" className="btn-primary" onClick={() => void makeGroup(current)}>生成风险人群</button>
        ) : current.groupId !== null ? <span className="tag tag-ok">已生成风险人群</span> : undefined}>
          <p className="muted">状态：{STATE_LABEL[current.state] ?? current.state}，共 {current.people} 人，匹配扫码 {current.scans} 条，排除 {current.excluded} 人；创建人 {current.createdBy}，{fmtTime(current.createdAt)}。</p>
          <PeopleTable people={people} names={current.venueNames ?? {}} />
        </Section>
      ) : null}

      <Section title="流调任务列表">
        {tasks.length === 0 ? <Empty>还没有任务。</Empty> : (
          <table data-testid="trc-tasks">
            <thead><tr><th>任务</th><th>范围</th><th>状态</th><th>人数</th><th>创建人</th><th>时间</th><th /></tr></thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td><td>{t.regionName}</td><td>{STATE_LABEL[t.state] ?? t.state}</td><td>{t.people}</td><td>{t.createdBy}</td><td>{fmtTime(t.createdAt)}</td>
                  <td><button type="button" className="btn-link" onClick={() => void open(t.id)}>查看</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
