import { useState, type FormEvent } from 'react';
import { api, loadSession } from './api.js';
import { COLOR_LABEL, fmtTime, localInputToSec, reasonText, type Color } from './format.js';
import { ColorBadge, ColorPick, ConfirmDialog, Empty, ErrorBox, OkBox, ReasonPick, Section, useBusy, useLoad } from './ui.js';
import { ExportButton } from './export.js';
import { EXPORT_TABLES } from './export-columns.js';

/**
 * 批量转码: one officer lists the people (one certificate number or mobile
 * number a line, or pasted from a spreadsheet column) with the colour and
 * reason; the change applies only when a DIFFERENT officer approves it
 * (GB/T 35273-2020 7.1 — the server refuses the requester's own approval
 * with ADM_ERR_SAME_APPROVER). Pending requests expire.
 */
interface BulkView {
  id: string;
  status: string;
  requestedBy: string;
  createdAt: number;
  expiresAt: number;
  change: { color: Color; reason: string; until: number | null };
  count: number;
  targets: string[];
}

const MOBILE = /^(?:\+?86)?1[3-9][0-9]{9}$/;

/** Lines → person references: an 11-digit mobile is a phone, anything else a resident ID. */
export function parseBulkLines(text: string): { items: Record<string, string>[]; bad: number[] } {
  const items: Record<string, string>[] = [];
  const bad: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.split(/[,\t;，]/)[0]!.trim().replace(/\s+/g, '');
    if (line === '') return;
    if (MOBILE.test(line)) items.push({ phone: line });
    else if (/^[0-9]{15}$|^[0-9]{17}[0-9Xx]$/.test(line)) items.push({ idType: 'resident', idNo: line.toUpperCase() });
    else bad.push(i + 1);
  });
  return { items, bad };
}

const BULK_REASONS = ['close_contact', 'secondary_contact', 'risk_area', 'manual_review', 'cleared'];

export function BulkPage({ canRequest, canApprove }: { canRequest: boolean; canApprove: boolean }) {
  const me = loadSession()?.username ?? '';
  const [text, setText] = useState('');
  const [color, setColor] = useState<Color>('yellow');
  const [reason, setReason] = useState('');
  const [until, setUntil] = useState('');
  const [error, setError] = useState<string | null>(null);
  const { busy, run } = useBusy(setError);
  const [ok, setOk] = useState<string | null>(null);
  const [list, setList] = useState<BulkView[] | null>(null);
  const [deciding, setDeciding] = useState<{ b: BulkView; approve: boolean } | null>(null);

  const parsed = parseBulkLines(text);
  const untilSec = localInputToSec(until);

  const reload = useLoad(async () => {
    if (canApprove) setList((await api<{ requests: BulkView[] }>('GET', '/admin/v1/codes/bulk')).requests);
  }, setError);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setOk(null);
    await run(async () => {
      const body: Record<string, unknown> = { items: parsed.items, color, reason: reason.trim() };
      if (untilSec !== null) body.until = untilSec;
      const r = await api<BulkView>('POST', '/admin/v1/codes/bulk', body);
      setOk(`已提交批量转码申请（${r.count} 人），须由另一名工作人员审批后生效。`);
      setText('');
      setReason('');
      await reload();
    });
  }

  async function decide() {
    if (!deciding) return;
    setOk(null);
    await run(async () => {
      const r = await api<{ applied?: number; changed?: number; failed?: unknown[] }>('POST', `/admin/v1/codes/bulk/${deciding.b.id}/${deciding.approve ? 'approve' : 'reject'}`);
      setOk(deciding.approve ? `已批准：${r.applied ?? 0} 人已转码（其中 ${r.changed ?? 0} 人颜色有变化）${r.failed && r.failed.length > 0 ? `，${r.failed.length} 人失败` : ''}` : '已驳回该申请');
      setDeciding(null);
      await reload();
    }, { onFail: () => setDeciding(null) });
  }

  return (
    <>
      {canRequest ? (
        <Section title="提交批量转码申请">
          <form className="transcode" onSubmit={submit} aria-label="批量转码">
            <label>
              人员名单（每行一个居民身份证号或手机号，可从 Excel 整列粘贴）
              <textarea name="bulk-items" rows={8} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
            </label>
            <p className="muted">
              已识别 {parsed.items.length} 人{parsed.bad.length > 0 ? `；第 ${parsed.bad.slice(0, 10).join('、')} 行无法识别` : ''}
            </p>
            <ColorPick name="bulk-color" value={color} onChange={setColor} />
            <div className="form-row">
              <label className="grow">
                转码原因（必填）
                <ReasonPick name="bulk-reason-pick" reasons={BULK_REASONS} value={reason} onChange={setReason} />
                <input name="bulk-reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={64} required placeholder="原因" />
              </label>
              <label>
                有效至（可选，北京时间）
                <input type="datetime-local" name="bulk-until" value={until} onChange={(e) => setUntil(e.target.value)} />
              </label>
              <button type="submit" className="btn-danger" disabled={busy || parsed.items.length === 0 || parsed.bad.length > 0 || reason.trim() === ''}>
                提交申请
              </button>
            </div>
          </form>
        </Section>
      ) : null}
      {ok ? <OkBox>{ok}</OkBox> : null}
      <ErrorBox error={error} />
      {canApprove ? (
        <Section
          title="待审批的批量转码"
          actions={
            list && list.length > 0 ? (
              <ExportButton
                {...EXPORT_TABLES.bulk}
                rows={() => list.map((b) => [b.requestedBy, b.count, COLOR_LABEL[b.change.color] ?? b.change.color, reasonText(b.change.reason), b.change.until === null ? '人工解除为止' : fmtTime(b.change.until), fmtTime(b.createdAt), fmtTime(b.expiresAt), b.targets.join('，')])}
              />
            ) : null
          }
        >
          {list === null ? (
            <Empty>加载中…</Empty>
          ) : list.length === 0 ? (
            <Empty>没有待审批的申请</Empty>
          ) : (
            <table data-testid="bulk-list">
              <thead>
                <tr>
                  <th>申请人</th>
                  <th>人数</th>
                  <th>转为</th>
                  <th>原因</th>
                  <th>有效至</th>
                  <th>提交时间</th>
                  <th>过期时间</th>
                  <th>名单（脱敏）</th>
                  <th>操作</th>
                </tr>
              </thead>
              <tbody>
                {list.map((b) => (
                  <tr key={b.id} data-bulk={b.id}>
                    <td>{b.requestedBy}</td>
                    <td>{b.count}</td>
                    <td>
                      <ColorBadge color={b.change.color} />
                    </td>
                    <td>{reasonText(b.change.reason)}</td>
                    <td>{b.change.until === null ? '人工解除为止' : fmtTime(b.change.until)}</td>
                    <td>{fmtTime(b.createdAt)}</td>
                    <td>{fmtTime(b.expiresAt)}</td>
                    <td className="mono small">
                      {b.targets.slice(0, 5).join('，')}
                      {b.count > 5 ? ` 等 ${b.count} 人` : ''}
                    </td>
                    <td className="actions">
                      {b.requestedBy === me ? (
                        <>
                          <span className="muted">须他人审批</span>
                          <button type="button" className="btn-link" onClick={() => setDeciding({ b, approve: false })}>
                            撤回
                          </button>
                        </>
                      ) : (
                        <>
                          <button type="button" className="btn-link" data-testid="approve" onClick={() => setDeciding({ b, approve: true })}>
                            批准
                          </button>
                          <button type="button" className="btn-link" onClick={() => setDeciding({ b, approve: false })}>
                            驳回
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      ) : null}
      {deciding ? (
        <ConfirmDialog
          title={deciding.approve ? '确认批准批量转码' : '确认驳回'}
          danger={deciding.approve}
          busy={busy}
          confirmText={deciding.approve ? '确认批准' : '确认驳回'}
          onCancel={() => setDeciding(null)}
          onConfirm={() => void decide()}
        >
          <p>
            申请人 {deciding.b.requestedBy}：{deciding.b.count} 人转为 <ColorBadge color={deciding.b.change.color} />，原因：{reasonText(deciding.b.change.reason)}
          </p>
          {deciding.approve ? <p className="muted">批准后立即生效，并同步到所有边缘节点；每个人的转码分别记入审计日志。</p> : null}
        </ConfirmDialog>
      ) : null}
    </>
  );
}
