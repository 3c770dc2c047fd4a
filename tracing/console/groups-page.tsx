import { useCallback, useEffect, useState } from 'react';
import { api, apiBlob } from '../../admin-api/console/src/api.js';
import { COLOR_LABEL, fmtTime, triggerDownload } from '../../admin-api/console/src/format.js';
import { ConfirmDialog, Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { PeopleTable, type PersonRow } from './tasks-page.js';
import { CHANGE_STATUS_LABEL, reasonLabel, trcErrorText } from './trc-common.js';

/**
 * 风险人群: the groups made from tasks; one code change for a whole group
 * (submitted for a second official's approval in 赋码查询与转码), its
 * members and their current colours, an Excel export masked by role.
 */
interface GroupRow { id: number; taskId: number; name: string; regionName: string; createdBy: string; createdAt: number; people: number }
interface GroupDetail extends GroupRow {
  colours: Record<string, number>;
  changes: { id: number; bulkRequestId: string; color: string; reason: string; requestedBy: string; requestedAt: number; people: number; status: string }[];
}

export function GroupsPage({ canChange }: { canChange: boolean }) {
  const [groups, setGroups] = useState<GroupRow[]>([]);
  const [g, setG] = useState<GroupDetail | null>(null);
  const [people, setPeople] = useState<PersonRow[]>([]);
  const [color, setColor] = useState<'red' | 'yellow' | 'green'>('red');
  const [reason, setReason] = useState('close_contact');
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    api<{ groups: GroupRow[] }>('GET', '/admin/v1/tracing/groups').then((r) => setGroups(r.groups)).catch((e: unknown) => setError(trcErrorText(e)));
  }, []);
  useEffect(load, [load]);

  async function open(id: number) {
    setError(null);
    try {
      setG(await api<GroupDetail>('GET', `/admin/v1/tracing/groups/${id}`));
      setPeople((await api<{ people: PersonRow[] }>('GET', `/admin/v1/tracing/groups/${id}/people?limit=500`)).people);
    } catch (e) {
      setError(trcErrorText(e));
    }
  }

  async function change() {
    if (!g) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ count: number }>('POST', `/admin/v1/tracing/groups/${g.id}/change`, { color, reason: reason.trim() });
      setOk(`已提交批量转码申请（${r.count} 人转为${COLOR_LABEL[color]}），需另一名工作人员在「赋码查询与转码」中复核后生效。`);
      setConfirm(false);
      await open(g.id);
    } catch (e) {
      setError(trcErrorText(e));
      setConfirm(false);
    } finally {
      setBusy(false);
    }
  }

  async function exportXlsx() {
    if (!g) return;
    setError(null);
    try {
      triggerDownload(await apiBlob(`/admin/v1/tracing/groups/${g.id}/export.xlsx`), `风险人群-${g.name}.xlsx`);
    } catch (e) {
      setError(trcErrorText(e));
    }
  }

  return (
    <>
      <ErrorBox error={error} />
      {ok ? <OkBox>{ok}</OkBox> : null}
      <Section title="风险人群">
        {groups.length === 0 ? <Empty>还没有风险人群：在「精准找人」中由任务结果生成。</Empty> : (
          <table data-testid="trc-groups">
            <thead><tr><th>名称</th><th>范围</th><th>人数</th><th>创建人</th><th>时间</th><th /></tr></thead>
            <tbody>
              {groups.map((x) => (
                <tr key={x.id}>
                  <td>{x.name}</td><td>{x.regionName}</td><td>{x.people}</td><td>{x.createdBy}</td><td>{fmtTime(x.createdAt)}</td>
                  <td><button type="button" className="btn-link" onClick={() => void open(x.id)}>查看</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {g ? (
        <Section title={g.name} actions={<button type="button" onClick={() => void exportXlsx()}>导出 Excel</button>}>
          <p>
            共 {g.people} 人；当前码色：
            {Object.entries(g.colours).map(([c, n]) => <span key={c} className={`badge badge-${c}`}>{COLOR_LABEL[c] ?? '未赋码'} {n} 人</span>)}
          </p>
          {canChange ? (
            <div className="form-row">
              <label>
                转为
                <select value={color} onChange={(e) => setColor(e.target.value as 'red' | 'yellow' | 'green')} aria-label="目标码色">
                  <option value="red">红码</option><option value="yellow">黄码</option><option value="green">绿码</option>
                </select>
              </label>
              <label className="grow">原因<input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={64} aria-label="转码原因" /></label>
              <button type="button" className="btn-danger" disabled={busy || reason.trim() === ''} onClick={() => setConfirm(true)}>整组转码</button>
            </div>
          ) : null}
          {g.changes.length > 0 ? (
            <table data-testid="trc-changes">
              <thead><tr><th>申请时间</th><th>转为</th><th>原因</th><th>人数</th><th>申请人</th><th>状态</th></tr></thead>
              <tbody>
                {g.changes.map((c) => (
                  <tr key={c.id}>
                    <td>{fmtTime(c.requestedAt)}</td><td>{COLOR_LABEL[c.color]}</td><td>{reasonLabel(c.reason)}</td><td>{c.people}</td><td>{c.requestedBy}</td>
                    <td>{CHANGE_STATUS_LABEL[c.status] ?? c.status}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <PeopleTable people={people} names={{}} />
        </Section>
      ) : null}
      {confirm && g ? (
        <ConfirmDialog title="确认整组转码" danger busy={busy} confirmText="提交复核" onConfirm={() => void change()} onCancel={() => setConfirm(false)}>
          将「{g.name}」共 {g.people} 人转为{COLOR_LABEL[color]}。提交后需另一名工作人员复核通过才会生效，并下发到各地边缘节点。
        </ConfirmDialog>
      ) : null}
    </>
  );
}
