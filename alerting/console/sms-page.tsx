import { useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { Empty, ErrorBox, OkBox, Section, useLoad } from '../../admin-api/console/src/ui.js';
import { alertErrorText, fmtMs, PURPOSE_LABEL, RECIPIENTS_LABEL, SEVERITY_LABEL, SMS_STATUS_LABEL } from './alerting-format.js';

/**
 * 短信记录: every message the alerting sent or is trying to send, with the
 * gateway's answer; phones masked. 发送测试短信 checks the channel end to end.
 */
interface Sms {
  id: string;
  createdMs: number;
  recipients: string;
  phonesMasked: string;
  text: string;
  severity: string;
  purpose: string;
  status: string;
  attempts: number;
  lastError: string | null;
  sentMs: number | null;
}

export function SmsPage({ canWrite }: { canWrite: boolean }) {
  const [rows, setRows] = useState<Sms[] | null>(null);
  const [queue, setQueue] = useState<{ queued: number; oldestMs: number | null } | null>(null);
  const [gateway, setGateway] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);

  const load = useLoad(async () => {
    const r = await api<{ messages: Sms[]; queue: { queued: number; oldestMs: number | null }; gateway: string }>('GET', '/admin/v1/alerting/sms?limit=200');
    setRows(r.messages);
    setQueue(r.queue);
    setGateway(r.gateway);
  }, setError, { everyMs: 10_000, toText: alertErrorText });

  async function test() {
    try {
      await api('POST', '/admin/v1/alerting/sms/test', {});
      setOk('测试短信已排队，稍后刷新查看网关回执');
      setTimeout(() => void load(), 1500);
    } catch (e) {
      setError(alertErrorText(e));
    }
  }

  return (
    <div>
      <ErrorBox error={error} />
      {ok ? <OkBox>{ok}</OkBox> : null}
      <Section title="短信记录" actions={canWrite ? <button type="button" onClick={() => void test()}>发送测试短信</button> : undefined}>
        <p className="muted">
          短信网关：{gateway || '—'}；排队待发 {queue?.queued ?? '—'} 条{queue?.oldestMs ? `，最早一条排队于 ${fmtMs(queue.oldestMs)}` : ''}
        </p>
        {rows === null ? <Empty>加载中…</Empty> : rows.length === 0 ? <Empty>还没有短信</Empty> : (
          <table className="table" data-testid="sms-records">
            <thead>
              <tr><th>时间</th><th>类别</th><th>级别</th><th>接收人</th><th>内容</th><th>状态</th><th>尝试</th><th>送达网关</th><th>最近错误</th></tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.id}>
                  <td>{fmtMs(m.createdMs)}</td>
                  <td>{PURPOSE_LABEL[m.purpose] ?? m.purpose}</td>
                  <td>{SEVERITY_LABEL[m.severity] ?? m.severity}</td>
                  <td>{RECIPIENTS_LABEL[m.recipients] ?? m.recipients}：{m.phonesMasked}</td>
                  <td>{m.text}</td>
                  <td>{SMS_STATUS_LABEL[m.status] ?? m.status}</td>
                  <td>{m.attempts}</td>
                  <td>{fmtMs(m.sentMs)}</td>
                  <td>{m.lastError ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
