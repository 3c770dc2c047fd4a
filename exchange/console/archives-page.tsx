import { useCallback, useEffect, useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { fmtTime } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { codeLabel, exchangeErrorText } from './labels.js';

/**
 * 加密数据包: archives taken from the intake folder (outcome, the import
 * batches made of them, the forwards to recipients and their delivery),
 * the departments' password rules (masked; set or rotate with
 * exchange.secrets) and the forwarding recipients.
 */
interface Forward { id: string; recipientId: string; status: string; attempts: number; lastError: string | null; sentAt: number | null }
interface Archive {
  id: string; department: string; dataset: string; fileName: string; sizeBytes: number; status: string;
  error: { code: string; message: string } | null; batches: string[]; createdAt: number; forwards: Forward[];
}
interface Rule { department: string; version: number; updatedBy: string; updatedAt: number; masked: string }
interface Recipient { id: string; name: string; host: string; port: number; username: string; remoteDir: string; datasets: string[]; updatedAt: number }

const ARCHIVE_STATUS: Record<string, string> = { done: '已解密入库', failed: '失败', duplicate: '重复（已跳过）' };
const FORWARD_STATUS: Record<string, string> = { pending: '待发送（自动重试）', sent: '已送达', failed: '已放弃（已告警）' };

export function ArchivesPage({ canSecrets }: { canSecrets: boolean }) {
  const [archives, setArchives] = useState<Archive[]>([]);
  const [rules, setRules] = useState<Rule[]>([]);
  const [recipients, setRecipients] = useState<Recipient[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  const [department, setDepartment] = useState('');
  const [pattern, setPattern] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [a, r, p, d] = await Promise.all([
        api<{ archives: Archive[] }>('GET', '/admin/v1/exchange/archives'),
        api<{ rules: Rule[] }>('GET', '/admin/v1/exchange/password-rules'),
        api<{ recipients: Recipient[] }>('GET', '/admin/v1/exchange/recipients'),
        api<{ datasets: { id: string; name: string }[] }>('GET', '/admin/v1/exchange/datasets'),
      ]);
      setNames(Object.fromEntries(d.datasets.map((x) => [x.id, x.name])));
      setArchives(a.archives);
      setRules(r.rules);
      setRecipients(p.recipients);
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  async function saveRule(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    setOk(null);
    try {
      const r = await api<{ version: number }>('PUT', `/admin/v1/exchange/password-rules/${encodeURIComponent(department.trim())}`, { pattern });
      setPattern('');
      setOk(`已保存 ${department.trim()} 的密码规则（第 ${r.version} 版）`);
      await refresh();
    } catch (err) {
      setError(exchangeErrorText(err));
    }
  }

  return (
    <>
      <ErrorBox error={error} />
      {ok && <OkBox>{ok}</OkBox>}
      <Section title="加密数据包" actions={<button type="button" className="btn-link" onClick={() => void refresh()}>刷新</button>}>
        <p className="muted">各单位将加密压缩包（AES-256 或 ZipCrypto）放入接收目录 intake/&lt;数据标准&gt;/&lt;报送单位&gt;/，系统按密码规则解密、核查入库，并按接收方密码重新加密后经 SFTP 转发。</p>
        {archives.length === 0 ? <Empty>还没有接收过数据包</Empty> : (
          <table className="table">
            <thead><tr><th>接收时间</th><th>报送单位</th><th>数据标准</th><th>文件</th><th>结果</th><th>导入批次</th><th>转发</th></tr></thead>
            <tbody>
              {archives.map((a) => (
                <tr key={a.id} data-archive={a.id}>
                  <td>{fmtTime(a.createdAt)}</td>
                  <td>{a.department}</td>
                  <td>{names[a.dataset] ?? a.dataset}</td>
                  <td>{a.fileName}</td>
                  <td>{ARCHIVE_STATUS[a.status] ?? a.status}{a.error ? `：${codeLabel(a.error.code)}` : ''}</td>
                  <td>{a.batches.length}</td>
                  <td>
                    {a.forwards.length === 0 ? '—' : a.forwards.map((f) => (
                      <div key={f.id}>
                        {recipients.find((r) => r.id === f.recipientId)?.name ?? f.recipientId}：{FORWARD_STATUS[f.status] ?? f.status}
                        {f.attempts > 1 ? `（第 ${f.attempts} 次）` : ''}{f.sentAt ? ` ${fmtTime(f.sentAt)}` : ''}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="密码规则">
        <p className="muted">密码 = 固定部分 + 日期，如 CDJK{'{yyyyMMdd}'}，每日自动轮换；解密时依次尝试当天、前一天和前两天的密码。规则加密保存，此处只显示掩码。</p>
        {rules.length === 0 ? <Empty>尚未设置密码规则</Empty> : (
          <table className="table">
            <thead><tr><th>报送单位</th><th>规则（掩码）</th><th>版本</th><th>修改人</th><th>修改时间</th></tr></thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.department}><td>{r.department}</td><td className="mono">{r.masked}</td><td>{r.version}</td><td>{r.updatedBy}</td><td>{fmtTime(r.updatedAt)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
        {canSecrets && (
          <form className="form-row" onSubmit={(e) => void saveRule(e)} aria-label="设置密码规则">
            <label className="grow">报送单位 <input value={department} onChange={(e) => setDepartment(e.target.value)} maxLength={64} required /></label>
            <label className="grow">规则 <input type="password" autoComplete="off" value={pattern} onChange={(e) => setPattern(e.target.value)} maxLength={64} required placeholder="如 CDJK{yyyyMMdd}" /></label>
            <button type="submit" className="btn-primary" disabled={department.trim() === '' || pattern === ''}>保存 / 轮换</button>
          </form>
        )}
      </Section>
      <Section title="转发接收方">
        {recipients.length === 0 ? <Empty>尚未配置接收方</Empty> : (
          <table className="table">
            <thead><tr><th>名称</th><th>SFTP 服务器</th><th>目录</th><th>订阅的数据标准</th><th>修改时间</th></tr></thead>
            <tbody>
              {recipients.map((r) => (
                <tr key={r.id}><td>{r.name}</td><td className="mono">{r.username}@{r.host}:{r.port}</td><td className="mono">{r.remoteDir}</td><td>{r.datasets.map((x) => names[x] ?? x).join('、')}</td><td>{fmtTime(r.updatedAt)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
