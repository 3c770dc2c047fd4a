import { useCallback, useEffect, useState } from 'react';
import { api, apiBlob } from '../../admin-api/console/src/api.js';
import { fmtTime, triggerDownload } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { exchangeErrorText } from './labels.js';

/**
 * 数据返还 (智能数据返还): the to-do list (returns not yet acknowledged,
 * overdue in red) with download and 签收, the ledger of every return
 * (pushed / downloaded / acknowledged, re-downloads counted), the
 * monitoring per recipient and day with the batches not yet returned, and
 * the recipients with their masking policies (edited with exchange.secrets).
 * A city officer sees its own region's recipients and returns only (the API scopes them).
 */
type Action = 'keep' | 'mask' | 'hash' | 'drop';
type Policy = Record<string, Action>;
interface Item {
  id: string; recipientId: string; recipientName: string; batchId: string; dataset: string; department: string; regionName: string;
  policyVersion: number; rows: number; sha256: string; createdAt: number; dueAt: number;
  push: { status: string; attempts: number; error: string | null; at: number | null };
  downloads: number; firstDownloadedAt: number | null; acknowledgedAt: number | null; acknowledgedBy: string | null;
  state: 'waiting' | 'taken' | 'acknowledged' | 'empty'; overdue: boolean;
}
interface Recipient { id: string; name: string; regionName: string; department: string | null; datasets: string[]; sftpRecipient: string | null; dueHours: number; policyVersion: number }
interface DayStat {
  recipientId: string; recipientName: string; day: string; returns: number; rows: number; pushed: number; pushFailed: number;
  downloaded: number; redownloaded: number; acknowledged: number; overdue: number;
}
interface PolicyAnswer { current: { version: number; policy: Policy }; versions: { version: number; policy: Policy; createdBy: string; createdAt: number }[] }

const COLUMNS: [string, string, Action[]][] = [
  ['idType', '证件类型', ['keep', 'drop']],
  ['idNo', '证件号码', ['keep', 'mask', 'hash', 'drop']],
  ['name', '姓名', ['keep', 'mask', 'hash', 'drop']],
  ['phone', '手机号', ['keep', 'mask', 'hash', 'drop']],
  ['region', '所在地区', ['keep', 'mask', 'drop']],
  ['kind', '事项', ['keep', 'drop']],
  ['at', '时间', ['keep', 'mask', 'drop']],
  ['result', '结果', ['keep', 'drop']],
];
const ACTION_LABEL: Record<Action, string> = { keep: '保留原值', mask: '部分遮盖', hash: '不可逆代号', drop: '不提供' };
const MASK_HINT: Record<string, string> = { idNo: '5101**********106X', name: '欧**娜', phone: '139****0021', region: '只到地市', at: '只到日期' };
const STATE_LABEL: Record<Item['state'], string> = { waiting: '待领取', taken: '已领取待签收', acknowledged: '已签收', empty: '无数据' };
const PUSH_LABEL: Record<string, string> = { none: '—', pending: '待推送（自动重试）', sent: '已推送', failed: '推送失败（已告警）' };

function StateBadge({ item }: { item: Item }) {
  if (item.overdue) return <span className="badge badge-red" data-overdue="1">逾期·{STATE_LABEL[item.state]}</span>;
  const cls = item.state === 'acknowledged' ? 'badge badge-green' : item.state === 'empty' ? 'badge' : 'badge badge-yellow';
  return <span className={cls}>{STATE_LABEL[item.state]}</span>;
}

export function ReturnsPage({ canWrite, canSecrets }: { canWrite: boolean; canSecrets: boolean }) {
  const [todo, setTodo] = useState<{ total: number; overdue: number; items: Item[] }>({ total: 0, overdue: 0, items: [] });
  const [ledger, setLedger] = useState<Item[]>([]);
  const [stats, setStats] = useState<{ days: DayStat[]; missing: { recipientId: string; batches: number }[] }>({ days: [], missing: [] });
  const [recipients, setRecipients] = useState<Recipient[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  const [selected, setSelected] = useState<string | null>(null);
  const [policy, setPolicy] = useState<PolicyAnswer | null>(null);
  const [draft, setDraft] = useState<Policy>({});
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [t, l, s, r, d] = await Promise.all([
        api<{ total: number; overdue: number; items: Item[] }>('GET', '/admin/v1/exchange/return-todo'),
        api<{ items: Item[] }>('GET', '/admin/v1/exchange/return-items?limit=100'),
        api<{ days: DayStat[]; missing: { recipientId: string; batches: number }[] }>('GET', '/admin/v1/exchange/return-stats?days=14'),
        api<{ recipients: Recipient[] }>('GET', '/admin/v1/exchange/return-recipients'),
        api<{ datasets: { id: string; name: string }[] }>('GET', '/admin/v1/exchange/datasets'),
      ]);
      setTodo(t);
      setLedger(l.items);
      setStats(s);
      setRecipients(r.recipients);
      setNames(Object.fromEntries(d.datasets.map((x) => [x.id, x.name])));
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  const openPolicy = useCallback(async (id: string) => {
    setSelected(id);
    try {
      const p = await api<PolicyAnswer>('GET', `/admin/v1/exchange/return-recipients/${encodeURIComponent(id)}/policy`);
      setPolicy(p);
      setDraft({ ...p.current.policy });
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }, []);

  async function download(item: Item, format: 'csv' | 'xlsx') {
    setError(null);
    try {
      triggerDownload(await apiBlob(`/admin/v1/exchange/return-items/${item.id}/file.${format}`), `返还数据-${item.recipientName}-${item.batchId}.${format}`);
      await refresh();
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }

  async function acknowledge(item: Item) {
    setError(null);
    setOk(null);
    try {
      await api('POST', `/admin/v1/exchange/return-items/${item.id}/ack`, {});
      setOk(`已签收：${item.recipientName} 的返还数据（${item.rows} 条）`);
      await refresh();
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }

  async function savePolicy(e: React.FormEvent) {
    e.preventDefault();
    if (selected === null) return;
    setError(null);
    setOk(null);
    try {
      const r = await api<{ version: number }>('PUT', `/admin/v1/exchange/return-recipients/${encodeURIComponent(selected)}/policy`, { fields: draft });
      setOk(`已保存脱敏策略第 ${r.version} 版（此后生成的返还数据按新策略处理）`);
      await openPolicy(selected);
      await refresh();
    } catch (err) {
      setError(exchangeErrorText(err));
    }
  }

  const rowsOf = (items: Item[], withActions: boolean) => items.map((x) => (
    <tr key={x.id} data-return={x.id} className={x.overdue ? 'overdue' : undefined}>
      <td>{x.recipientName}<div className="muted small">{x.regionName}</div></td>
      <td>{names[x.dataset] ?? x.dataset}<div className="muted small">{x.department} · 批次 {x.batchId}</div></td>
      <td>{x.rows}</td>
      <td>{fmtTime(x.createdAt)}</td>
      <td>{fmtTime(x.dueAt)}</td>
      <td><StateBadge item={x} /></td>
      <td>{PUSH_LABEL[x.push.status] ?? x.push.status}{x.push.status === 'pending' && x.push.attempts > 0 ? `（已尝试 ${x.push.attempts} 次）` : ''}{x.push.at ? ` ${fmtTime(x.push.at)}` : ''}</td>
      <td>{x.downloads === 0 ? '未下载' : `${x.downloads} 次${x.downloads > 1 ? '（含重复下载）' : ''}`}</td>
      <td>{x.acknowledgedAt ? `${x.acknowledgedBy ?? ''} ${fmtTime(x.acknowledgedAt)}` : '—'}</td>
      {withActions && (
        <td className="actions">
          {canWrite && x.rows > 0 && <>
            <button type="button" className="btn" onClick={() => void download(x, 'xlsx')}>下载 XLSX</button>
            <button type="button" className="btn" onClick={() => void download(x, 'csv')}>下载 CSV</button>
            {x.acknowledgedAt === null && <button type="button" className="btn-primary" onClick={() => void acknowledge(x)}>签收</button>}
          </>}
        </td>
      )}
    </tr>
  ));
  const HEAD = <tr><th>返还对象</th><th>数据</th><th>行数</th><th>生成时间</th><th>领取时限</th><th>状态</th><th>SFTP 推送</th><th>下载</th><th>签收</th><th /></tr>;
  const recipientName = (id: string): string => recipients.find((r) => r.id === id)?.name ?? id;

  return (
    <>
      <ErrorBox error={error} />
      {ok && <OkBox>{ok}</OkBox>}
      <Section title={`待办：未签收的返还数据（${todo.total} 份${todo.overdue > 0 ? `，其中逾期 ${todo.overdue} 份` : ''}）`} actions={<button type="button" className="btn-link" onClick={() => void refresh()}>刷新</button>}>
        <p className="muted">各地市、区县和部门按各自的脱敏策略收到与其相关的处理结果：配置了 SFTP 的自动推送（加密压缩包，每份只推送一次），也可在此下载 XLSX / CSV。领取后请签收；超过领取时限未签收的标红并告警。</p>
        {todo.items.length === 0 ? <Empty>没有待签收的返还数据</Empty> : (
          <table className="table" data-testid="return-todo"><thead>{HEAD}</thead><tbody>{rowsOf(todo.items, true)}</tbody></table>
        )}
      </Section>
      <Section title="返还监控（近 14 天）">
        {stats.missing.length > 0 && (
          <div className="msg msg-warn">尚未生成返还的批次：{stats.missing.map((m) => `${recipientName(m.recipientId)} ${m.batches} 批`).join('；')}（后台每隔几秒自动生成）</div>
        )}
        {stats.days.length === 0 ? <Empty>近期没有返还数据</Empty> : (
          <table className="table">
            <thead><tr><th>日期</th><th>返还对象</th><th>份数</th><th>行数</th><th>已推送</th><th>推送失败</th><th>已下载</th><th>重复下载</th><th>已签收</th><th>逾期</th></tr></thead>
            <tbody>
              {stats.days.map((d) => (
                <tr key={`${d.day}-${d.recipientId}`}>
                  <td>{d.day}</td><td>{d.recipientName}</td><td>{d.returns}</td><td>{d.rows}</td><td>{d.pushed}</td><td>{d.pushFailed}</td>
                  <td>{d.downloaded}</td><td>{d.redownloaded}</td><td>{d.acknowledged}</td>
                  <td>{d.overdue > 0 ? <span className="badge badge-red">{d.overdue}</span> : 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="返还记录">
        {ledger.length === 0 ? <Empty>还没有返还记录</Empty> : (
          <table className="table"><thead>{HEAD}</thead><tbody>{rowsOf(ledger, true)}</tbody></table>
        )}
      </Section>
      <Section title="返还对象与脱敏策略">
        {recipients.length === 0 ? <Empty>尚未配置返还对象</Empty> : (
          <table className="table">
            <thead><tr><th>名称</th><th>地区</th><th>部门（只返还其本单位上报）</th><th>数据标准</th><th>SFTP 推送</th><th>领取时限</th><th>脱敏策略</th><th /></tr></thead>
            <tbody>
              {recipients.map((r) => (
                <tr key={r.id}>
                  <td>{r.name}</td><td>{r.regionName}</td><td>{r.department ?? '—'}</td>
                  <td>{r.datasets.length === 0 ? '全部' : r.datasets.map((x) => names[x] ?? x).join('、')}</td>
                  <td>{r.sftpRecipient ?? '仅下载'}</td><td>{r.dueHours} 小时</td>
                  <td>{r.policyVersion === 0 ? '默认（证件号、姓名、手机号遮盖）' : `第 ${r.policyVersion} 版`}</td>
                  <td><button type="button" className="btn-link" onClick={() => void openPolicy(r.id)}>查看策略</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {selected !== null && policy !== null && (
          <form onSubmit={(e) => void savePolicy(e)} aria-label="脱敏策略">
            <h3>{recipientName(selected)}：脱敏策略{policy.current.version === 0 ? '（默认）' : `（第 ${policy.current.version} 版）`}</h3>
            <table className="table">
              <thead><tr><th>字段</th><th>处理方式</th><th>说明</th></tr></thead>
              <tbody>
                {COLUMNS.map(([col, zh, allowed]) => (
                  <tr key={col}>
                    <td>{zh}</td>
                    <td>
                      <select value={draft[col] ?? 'keep'} disabled={!canSecrets} name={col} onChange={(e) => setDraft({ ...draft, [col]: e.target.value as Action })}>
                        {allowed.map((a) => <option key={a} value={a}>{ACTION_LABEL[a]}</option>)}
                      </select>
                    </td>
                    <td className="muted">
                      {draft[col] === 'mask' ? `如 ${MASK_HINT[col] ?? ''}` : draft[col] === 'hash' ? '同一对象的不同批次可关联，无法还原' : draft[col] === 'keep' && ['idNo', 'name', 'phone'].includes(col) ? '明文提供，请确认确有必要' : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {canSecrets && <button type="submit" className="btn-primary">保存为新版本</button>}
            {policy.versions.length > 0 && (
              <p className="muted">历史版本：{policy.versions.map((v) => `第 ${v.version} 版（${v.createdBy}，${fmtTime(v.createdAt)}）`).join('；')}</p>
            )}
          </form>
        )}
      </Section>
    </>
  );
}
