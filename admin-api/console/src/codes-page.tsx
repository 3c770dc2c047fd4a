import { useState, type FormEvent } from 'react';
import { api } from './api.js';
import {
  COLOR_LABEL,
  FACT_KIND_LABEL,
  fmtTime,
  ID_TYPE_LABEL,
  localInputToSec,
  reasonText,
  RISK_LEVEL_LABEL,
  type Color,
} from './format.js';
import { ExportButton } from './export.js';
import { EXPORT_TABLES } from './export-columns.js';
import { RenameForm } from './rename-form.js';
import { regionText, useRegions } from './regions.js';
import { ColorBadge, ColorPick, ConfirmDialog, Empty, ErrorBox, OkBox, ReasonPick, Section, useBusy } from './ui.js';

/**
 * 赋码查询与转码: find one person by certificate or phone, show the code,
 * the facts behind it and its history (the server masks per role; the screen
 * masks identities for every role), and
 * change the colour with a reason after an explicit confirmation.
 *
 * The identity typed here stays in this component's memory only: it is sent
 * in POST bodies, never in a URL (URLs end up in logs and history).
 */

type Identity = { idType: string; idNo: string } | { phone: string };

interface CodeView {
  color: Color;
  reason: string;
  since: number | null;
  until: number | null;
  ruleVersion?: string | null;
}

interface FactView {
  kind: string;
  at: number;
  source?: string | null;
  sourceRef?: string | null;
  level?: string | null;
  result?: string | null;
  region?: string | null;
  venue?: string | null;
}

interface HistoryView {
  at: number;
  prevColor: Color | null;
  color: Color;
  reason: string;
  until: number | null;
  actor: string;
  ruleVersion?: string | null;
}

/** One person of POST /admin/v1/codes/query's `results` (admin-api/routes-codes.ts, person-view.ts). */
export interface PersonResult {
  person: {
    personId: number;
    idType: string | null;
    idNo: string | null;
    phone: string | null;
    name: string;
    nameMasked: string;
    region: string | null;
    registeredAt: number;
    masked: boolean;
  };
  code: CodeView | null;
  override: { color: Color; reason: string; until: number | null; active?: boolean; actor?: string; setAt?: number } | null;
  facts: FactView[];
  history: HistoryView[];
}

const REASON_SUGGESTIONS = ['manual_review', 'confirmed', 'close_contact', 'secondary_contact', 'risk_area', 'cleared'];

/**
 * The screen shows identities masked whatever the role may read (GB/T
 * 35273-2020 7.5 个人信息展示限制: personal information shown on a screen is
 * de-identified): the officer already typed the certificate, and a screen is
 * seen by others.
 * Same rules as core/identity.ts maskIdNo / maskPhone.
 */
export function maskIdNo(s: string): string {
  if (s.includes('*')) return s;
  const keep = Math.min(4, s.length >> 2);
  return s.slice(0, keep) + '*'.repeat(s.length - 2 * keep) + s.slice(s.length - keep);
}

export function maskPhone(s: string): string {
  return s.includes('*') || s.length < 11 ? s : s.slice(0, 3) + '****' + s.slice(7);
}

let regionsMod: ReturnType<typeof useRegions> = null;

function personLine(r: PersonResult): string {
  const p = r.person;
  const type = p.idType ? ID_TYPE_LABEL[p.idType] ?? p.idType : '';
  const parts = [p.nameMasked || '—'];
  if (p.idNo) parts.push(`${type} ${maskIdNo(p.idNo)}`);
  if (p.phone) parts.push(`手机 ${maskPhone(p.phone)}`);
  if (p.region) parts.push(`地区 ${regionText(regionsMod, p.region)}`);
  return parts.join('　');
}

/**
 * Who a transcode is about: the person's own certificate when the server
 * showed it (unambiguous even when a phone is shared by a family), else the
 * identity the officer queried with.
 */
function refFor(r: PersonResult, queried: Identity): Identity {
  const p = r.person;
  if (!p.masked && p.idType && p.idNo && !p.idNo.includes('*')) return { idType: p.idType, idNo: p.idNo };
  return queried;
}

export function CodesPage({ canWrite }: { canWrite: boolean }) {
  regionsMod = useRegions();
  const [clearing, setClearing] = useState(false);
  const [mode, setMode] = useState<'cert' | 'phone'>('cert');
  const [idType, setIdType] = useState('resident');
  const [idNo, setIdNo] = useState('');
  const [phone, setPhone] = useState('');
  const [who, setWho] = useState<Identity | null>(null);
  const [results, setResults] = useState<PersonResult[] | null>(null);
  const [pick, setPick] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const { busy, run } = useBusy(setError);

  const [color, setColor] = useState<Color>('red');
  const [reason, setReason] = useState('');
  const [until, setUntil] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [changeError, setChangeError] = useState<string | null>(null);
  const [changed, setChanged] = useState<string | null>(null);

  async function load(identity: Identity, keep = 0) {
    const a = await api<{ results: PersonResult[] }>('POST', '/admin/v1/codes/query', identity);
    setResults(a.results);
    setPick(Math.min(keep, Math.max(0, a.results.length - 1)));
    setWho(identity);
  }

  async function query(e: FormEvent) {
    e.preventDefault();
    setChanged(null);
    setChangeError(null);
    setResults(null);
    await run(async () => {
      await load(mode === 'cert' ? { idType, idNo: idNo.trim() } : { phone: phone.trim() });
    });
  }

  const untilSec = localInputToSec(until);
  const untilBad = until !== '' && (untilSec === null || untilSec * 1000 <= Date.now());

  const answer = results?.[pick] ?? null;

  async function transcode() {
    if (!who || !answer) return;
    await run(async () => {
      const body: Record<string, unknown> = { ...refFor(answer, who), color, reason: reason.trim() };
      if (untilSec !== null) body.until = untilSec;
      await api<unknown>('POST', '/admin/v1/codes/transcode', body);
      setConfirming(false);
      setChanged(`已将健康码改为${COLOR_LABEL[color]}，变更将同步至各节点。`);
      setReason('');
      setUntil('');
      await load(who, pick);
    }, { setError: setChangeError, onFail: () => setConfirming(false) });
  }

  async function clearOverride() {
    if (!who || !answer) return;
    await run(async () => {
      const r = await api<{ code?: { color?: Color } }>('POST', '/admin/v1/codes/clear', refFor(answer, who));
      setClearing(false);
      const c = r.code?.color;
      setChanged(`已解除人工转码，由规则重新赋码${c ? `：${COLOR_LABEL[c]}` : ''}，变更将同步至各节点。`);
      await load(who, pick);
    }, { setError: setChangeError, onFail: () => setClearing(false) });
  }

  const code = answer?.code ?? null;
  return (
    <>
      <Section title="赋码查询">
        <form className="form-row" onSubmit={query} aria-label="赋码查询">
          <label>
            查询方式
            <select value={mode} onChange={(e) => setMode(e.target.value as 'cert' | 'phone')} name="mode">
              <option value="cert">证件号码</option>
              <option value="phone">手机号码</option>
            </select>
          </label>
          {mode === 'cert' ? (
            <>
              <label>
                证件类型
                <select value={idType} onChange={(e) => setIdType(e.target.value)} name="idType">
                  {Object.entries(ID_TYPE_LABEL).map(([v, l]) => (
                    <option key={v} value={v}>
                      {l}
                    </option>
                  ))}
                </select>
              </label>
              <label className="grow">
                证件号码
                <input name="idNo" value={idNo} onChange={(e) => setIdNo(e.target.value)} autoComplete="off" spellCheck={false} required />
              </label>
            </>
          ) : (
            <label className="grow">
              手机号码
              <input name="phone" value={phone} onChange={(e) => setPhone(e.target.value)} inputMode="tel" autoComplete="off" required />
            </label>
          )}
          <button type="submit" className="btn-primary" disabled={busy}>
            查询
          </button>
        </form>
        <ErrorBox error={error} />
        {results && results.length > 1 ? (
          <div className="form-row">
            <label className="grow">
              该手机号对应 {results.length} 人，请选择
              <select value={pick} onChange={(e) => setPick(Number(e.target.value))} name="pick">
                {results.map((r, i) => (
                  <option key={r.person.personId} value={i}>
                    {personLine(r)}
                  </option>
                ))}
              </select>
            </label>
          </div>
        ) : null}
      </Section>

      {answer ? (
        <Section title="当前赋码">
          <div className="code-head" data-testid="code-result">
            <ColorBadge color={code?.color} />
            <div>
              <div className="person" data-testid="person">
                {personLine(answer)}
              </div>
              {code ? (
                <div className="muted">
                  原因：{reasonText(code.reason)}　赋码时间：{fmtTime(code.since)}　有效至：{code.until === null ? '长期' : fmtTime(code.until)}
                  {code.ruleVersion ? `　规则版本：${code.ruleVersion}` : ''}
                </div>
              ) : (
                <div className="muted">尚未赋码</div>
              )}
              {answer.override && answer.override.active !== false ? (
                <div className="muted" data-testid="override">
                  人工转码生效中：{COLOR_LABEL[answer.override.color]}（{reasonText(answer.override.reason)}），至
                  {answer.override.until === null ? '人工解除' : fmtTime(answer.override.until)}
                  {answer.override.actor ? `，操作人 ${answer.override.actor}` : ''}
                  {canWrite ? (
                    <button type="button" className="btn-link" data-testid="clear-override" onClick={() => setClearing(true)} disabled={busy}>
                      解除人工转码
                    </button>
                  ) : null}
                </div>
              ) : null}
            </div>
          </div>
          {changed ? <OkBox>{changed}</OkBox> : null}

          {canWrite ? (
            <form
              className="transcode"
              aria-label="转码"
              onSubmit={(e) => {
                e.preventDefault();
                setChangeError(null);
                setConfirming(true);
              }}
            >
              <h3>转码</h3>
              <ColorPick name="color" value={color} onChange={setColor} />
              <div className="form-row">
                <label className="grow">
                  转码原因（必填）
                  <input
                    name="reason"
                    value={reason}
                    onChange={(e) => setReason(e.target.value)}
                    maxLength={64}
                    required
                    placeholder="选择常用原因或自行填写"
                  />
                </label>
                <label>
                  常用原因
                  <ReasonPick name="reason-pick" reasons={REASON_SUGGESTIONS} value={reason} onChange={setReason} />
                </label>
                <label>
                  有效至（可选）
                  <input type="datetime-local" name="until" value={until} onChange={(e) => setUntil(e.target.value)} />
                </label>
                <button type="submit" className="btn-danger" disabled={busy || reason.trim() === '' || untilBad}>
                  提交转码
                </button>
              </div>
              {untilBad ? <ErrorBox error="有效期必须晚于当前时间" /> : null}
              <ErrorBox error={changeError} />
            </form>
          ) : (
            <p className="muted">当前账户为只读，不能转码。</p>
          )}
        </Section>
      ) : null}

      {answer && who && canWrite ? (
        <Section title="人员信息变更">
          <RenameForm who={refFor(answer, who)} onDone={() => load(who, pick)} />
        </Section>
      ) : null}

      {answer ? (
        <Section title="事实记录">
          {answer.facts && answer.facts.length > 0 ? (
            <table>
              <thead>
                <tr>
                  <th>类型</th>
                  <th>时间</th>
                  <th>详情</th>
                  <th>地区</th>
                  <th>来源</th>
                </tr>
              </thead>
              <tbody>
                {answer.facts.map((f, i) => (
                  <tr key={i}>
                    <td>{FACT_KIND_LABEL[f.kind] ?? f.kind}</td>
                    <td>{fmtTime(f.at)}</td>
                    <td>
                      {f.result ? (f.result === 'negative' ? '阴性' : '阳性') : ''}
                      {f.level ? RISK_LEVEL_LABEL[f.level] ?? f.level : ''}
                      {f.venue ? ` 场所 ${f.venue}` : ''}
                    </td>
                    <td>{f.region ? regionText(regionsMod, f.region) : '—'}</td>
                    <td>
                      {f.source ?? '—'}
                      {f.sourceRef ? <span className="muted">（{f.sourceRef}）</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>无事实记录</Empty>
          )}
        </Section>
      ) : null}

      {answer ? (
        <Section
          title="赋码历史"
          actions={
            <ExportButton
              {...EXPORT_TABLES.history}
              rows={() => answer.history.map((h) => [fmtTime(h.at), h.prevColor ? COLOR_LABEL[h.prevColor] ?? h.prevColor : '新赋码', COLOR_LABEL[h.color] ?? h.color, reasonText(h.reason), h.until === null ? '长期' : fmtTime(h.until), h.actor, h.ruleVersion ?? ''])}
            />
          }
        >
          {answer.history && answer.history.length > 0 ? (
            <table data-testid="history">
              <thead>
                <tr>
                  <th>时间</th>
                  <th>变更</th>
                  <th>原因</th>
                  <th>有效至</th>
                  <th>操作人 / 规则</th>
                </tr>
              </thead>
              <tbody>
                {answer.history.map((h, i) => (
                  <tr key={i}>
                    <td>{fmtTime(h.at)}</td>
                    <td>
                      {h.prevColor ? <ColorBadge color={h.prevColor} /> : '新赋码'} → <ColorBadge color={h.color} />
                    </td>
                    <td>{reasonText(h.reason)}</td>
                    <td>{h.until === null ? '长期' : fmtTime(h.until)}</td>
                    <td>
                      {h.actor}
                      {h.ruleVersion ? ` / ${h.ruleVersion}` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>无历史记录</Empty>
          )}
        </Section>
      ) : null}

      {clearing && answer ? (
        <ConfirmDialog
          title="确认解除人工转码"
          busy={busy}
          confirmText="确认解除"
          onCancel={() => setClearing(false)}
          onConfirm={() => void clearOverride()}
        >
          <p>
            对象：<strong>{personLine(answer)}</strong>
          </p>
          <p>解除后由规则根据事实记录重新赋码，立即生效并同步到所有边缘节点。</p>
        </ConfirmDialog>
      ) : null}

      {confirming && answer ? (
        <ConfirmDialog
          title="确认转码"
          danger={color !== 'green'}
          busy={busy}
          confirmText="确认转码"
          onCancel={() => setConfirming(false)}
          onConfirm={() => void transcode()}
        >
          <p>
            对象：<strong>{personLine(answer)}</strong>
          </p>
          <p>
            变更：<ColorBadge color={code?.color} /> → <ColorBadge color={color} />
          </p>
          <p>原因：{reasonText(reason.trim())}</p>
          <p>有效至：{untilSec === null ? '人工解除为止' : fmtTime(untilSec)}</p>
          <p className="muted">此操作将记入审计日志，并同步到所有边缘节点。</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
