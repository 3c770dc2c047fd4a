import { ExportButton } from './export.js';
import { EXPORT_TABLES } from './export-columns.js';
import { asDraft, RuleForm } from './rule-form.js';
import { ruleProblemZh } from './rule-problem-zh.js';
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { validateRuleSet } from '../../../core/rule-set.js';
import { api } from './api.js';
import type { Transition } from './change-chart.js';
import { COLOR_LABEL, errorText, fmtTime, localInputToSec, reasonText } from './format.js';
import { jsonSyntaxError, locatePath, whereAt } from './json-locate.js';
import { ConfirmDialog, Empty, ErrorBox, OkBox, Section } from './ui.js';

/**
 * 规则: versions, editor, dry run, publish (now or from a future instant, which
 * edges stage ahead), roll back.
 *
 * The editor validates as you type with the SAME checker the server runs
 * (core/rule-set.ts is bundled in): errors are reported by path
 * (`rules[2].when.and[1]`) with the line they are on, before anything is
 * sent. The server validates again on upload; its answer is shown the same way.
 */
const ChangeChart = lazy(() => import('./change-chart.js'));

export interface RuleVersionRow {
  version: string;
  status: 'draft' | 'published' | 'rolled_back';
  activeFrom: number;
  createdBy: string;
  createdAt: number;
  publishedAt: number | null;
  active: boolean;
  staged: boolean;
}

interface DryRun {
  version: string;
  at?: number;
  evaluated: number;
  changed: number;
  transitions: Transition[];
  staged?: boolean;
  activeFrom?: number;
}

const STATUS_LABEL: Record<string, string> = { draft: '草稿', published: '已发布', rolled_back: '已回滚' };

interface Problem {
  kind: 'syntax' | 'rule' | 'server';
  path: string | null;
  message: string;
  line: number | null;
  offset: number | null;
}

function check(text: string): Problem | null {
  if (text.trim() === '') return { kind: 'syntax', path: null, message: '内容为空', line: null, offset: null };
  const syntax = jsonSyntaxError(text);
  if (syntax) {
    const w = whereAt(text, syntax.offset);
    return { kind: 'syntax', path: null, message: `${syntax.message}（第 ${w.column} 列）`, offset: syntax.offset, line: w.line };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    // the scanner and JSON.parse disagree (should not happen): JSON.parse's word is final
    return { kind: 'syntax', path: null, message: e instanceof Error ? e.message : String(e), offset: null, line: null };
  }
  try {
    validateRuleSet(parsed);
    return null;
  } catch (e) {
    const err = e as { field?: string; message?: string };
    const path = typeof err.field === 'string' ? err.field : null;
    const off = path === null ? null : locatePath(text, path);
    // CoreError messages read "<path>: <detail>"; the path is shown on its own
    let message = err.message ?? String(e);
    if (path !== null && message.startsWith(`${path}: `)) message = message.slice(path.length + 2);
    return { kind: 'rule', path, message: ruleProblemZh(message), offset: off, line: off === null ? null : whereAt(text, off).line };
  }
}

function versionOf(text: string): string | null {
  try {
    const v = (JSON.parse(text) as { version?: unknown }).version;
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** GET /admin/v1/rules (admin-api/routes-rules.ts) */
interface RulesAnswer {
  active: { version: string; activeFrom: number };
  versions: RuleVersionRow[];
  publications: { version: string; action: 'publish' | 'rollback'; activeFrom: number; actor: string; at: number; seq: number }[];
}

export function RulesPage({ canWrite }: { canWrite: boolean }) {
  const [versions, setVersions] = useState<RuleVersionRow[]>([]);
  const [pubs, setPubs] = useState<RulesAnswer['publications']>([]);
  const [text, setText] = useState('');
  const [serverProblem, setServerProblem] = useState<Problem | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dry, setDry] = useState<DryRun | null>(null);
  const [startAt, setStartAt] = useState('');
  const [confirm, setConfirm] = useState<null | { kind: 'publish'; version: string } | { kind: 'rollback' }>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const [jsonView, setJsonView] = useState(false);
  const draft = useMemo(() => {
    try {
      return asDraft(JSON.parse(text));
    } catch {
      return null;
    }
  }, [text]);

  const problem = useMemo(() => check(text), [text]);
  const shown = problem ?? serverProblem;

  const refresh = useCallback(async () => {
    try {
      const a = await api<RulesAnswer>('GET', '/admin/v1/rules');
      setVersions(a.versions);
      setPubs(a.publications);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  const loadVersion = useCallback(async (version: string) => {
    setError(null);
    try {
      const v = await api<{ ruleSet: unknown }>('GET', `/admin/v1/rules/${encodeURIComponent(version)}`);
      setText(JSON.stringify(v.ruleSet, null, 2));
      setServerProblem(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  useEffect(() => {
    void (async () => {
      await refresh();
    })();
  }, [refresh]);

  // Start the editor from the version in force, the usual base of an edit.
  const seeded = useRef(false);
  useEffect(() => {
    if (seeded.current || versions.length === 0) return;
    seeded.current = true;
    const active = versions.find((v) => v.active) ?? versions[0]!;
    void loadVersion(active.version);
  }, [versions, loadVersion]);

  function jump(p: Problem) {
    const t = area.current;
    if (!t || p.offset === null) return;
    t.focus();
    const end = text.indexOf('\n', p.offset);
    t.setSelectionRange(p.offset, end === -1 ? text.length : end);
  }

  async function run<T>(f: () => Promise<T>): Promise<T | undefined> {
    setBusy(true);
    setError(null);
    setOk(null);
    try {
      return await f();
    } catch (e) {
      setError(errorText(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }

  async function upload() {
    setServerProblem(null);
    setBusy(true);
    setError(null);
    setOk(null);
    try {
      const r = await api<{ version: string; exact?: boolean; inexactReason?: string | null }>('POST', '/admin/v1/rules', { ruleSet: JSON.parse(text) });
      setOk(
        `已上传规则版本 ${r.version}（草稿）。` + (r.exact === false ? `注意：无法精确计算重新评估时间（${r.inexactReason ?? ''}），将按周期评估。` : ''),
      );
      await refresh();
    } catch (e) {
      const err = e as { field?: string };
      const path = typeof err.field === 'string' ? err.field.replace(/^ruleSet\.?/, '') : null;
      const off = path ? locatePath(text, path) : null;
      setServerProblem({ kind: 'server', path, message: errorText(e), offset: off, line: off === null ? null : whereAt(text, off).line });
    } finally {
      setBusy(false);
    }
  }

  async function dryRun(version: string) {
    const r = await run(() => api<DryRun>('POST', `/admin/v1/rules/${encodeURIComponent(version)}/dry-run`, {}));
    if (r) setDry(r);
  }

  async function publish(version: string) {
    const from = localInputToSec(startAt);
    const body: Record<string, unknown> = {};
    if (from !== null) body.activeFrom = from;
    const r = await run(() => api<DryRun & { staged: boolean; activeFrom: number }>('POST', `/admin/v1/rules/${encodeURIComponent(version)}/publish`, body));
    setConfirm(null);
    if (r) {
      setDry(r);
      setOk(
        r.staged
          ? `规则版本 ${r.version} 已发布，将于 ${fmtTime(r.activeFrom)} 生效（各节点已预置）。`
          : `规则版本 ${r.version} 已发布并生效，${r.changed} 人的赋码发生变化。`,
      );
      setStartAt('');
      await refresh();
    }
  }

  async function rollback() {
    const r = await run(() => api<DryRun>('POST', '/admin/v1/rules/rollback', {}));
    setConfirm(null);
    if (r) {
      setDry(r);
      setOk(`已回滚到规则版本 ${r.version}，${r.changed} 人的赋码发生变化。`);
      await refresh();
    }
  }

  const draftVersion = versionOf(text);
  const uploaded = draftVersion !== null && versions.some((v) => v.version === draftVersion);
  const startSec = localInputToSec(startAt);
  const startBad = startAt !== '' && (startSec === null || startSec * 1000 <= Date.now());

  return (
    <>
      <Section
        title="规则版本"
        actions={
          <>
            <ExportButton
              {...EXPORT_TABLES.rules}
              rows={() => versions.map((v) => [v.version, STATUS_LABEL[v.status] ?? v.status, v.status === 'draft' ? '—' : fmtTime(v.activeFrom), v.createdBy, fmtTime(v.createdAt)])}
            />
            {canWrite ? (
              <button type="button" className="btn-danger" disabled={busy} onClick={() => setConfirm({ kind: 'rollback' })}>
                回滚到上一版本
              </button>
            ) : null}
          </>
        }
      >
        {versions.length === 0 ? (
          <Empty>暂无规则版本</Empty>
        ) : (
          <table data-testid="rule-versions">
            <thead>
              <tr>
                <th>版本</th>
                <th>状态</th>
                <th>生效时间</th>
                <th>上传人</th>
                <th>上传时间</th>
                <th>操作</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version} className={v.active ? 'row-active' : ''}>
                  <td>
                    {v.version}
                    {v.active ? <span className="tag tag-ok">生效中</span> : null}
                    {v.staged ? <span className="tag tag-warn">待生效</span> : null}
                  </td>
                  <td>{STATUS_LABEL[v.status] ?? v.status}</td>
                  <td>{v.status === 'draft' ? '—' : v.activeFrom === 0 ? '初始版本' : fmtTime(v.activeFrom)}</td>
                  <td>{v.createdBy}</td>
                  <td>{fmtTime(v.createdAt)}</td>
                  <td>
                    <div className="actions">
                      <button type="button" onClick={() => void loadVersion(v.version)} disabled={busy}>
                        查看
                      </button>
                      {canWrite ? (
                        <button type="button" onClick={() => void dryRun(v.version)} disabled={busy}>
                          试算
                        </button>
                      ) : null}
                      {canWrite && v.status === 'draft' ? (
                        <button type="button" className="btn-primary" onClick={() => setConfirm({ kind: 'publish', version: v.version })} disabled={busy}>
                          发布
                        </button>
                      ) : null}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <ErrorBox error={error} />
        {ok ? <OkBox>{ok}</OkBox> : null}
        {pubs.length > 0 ? (
          <details className="pubs">
            <summary>发布记录（{pubs.length}）</summary>
            <table>
              <thead>
                <tr>
                  <th>时间</th>
                  <th>操作</th>
                  <th>版本</th>
                  <th>生效时间</th>
                  <th>操作人</th>
                </tr>
              </thead>
              <tbody>
                {pubs.map((p) => (
                  <tr key={p.seq}>
                    <td>{fmtTime(p.at)}</td>
                    <td>{p.action === 'publish' ? '发布' : '回滚'}</td>
                    <td>{p.version}</td>
                    <td>{fmtTime(p.activeFrom)}</td>
                    <td>{p.actor}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        ) : null}
      </Section>

      <Section
        title="规则编辑器"
        actions={
          canWrite ? (
            <button type="button" className="btn-primary" onClick={() => void upload()} disabled={busy || problem !== null || uploaded} data-testid="upload">
              {uploaded && problem === null ? '该版本号已存在' : '校验并上传为新版本'}
            </button>
          ) : null
        }
      >
        <div className="form-row">
          <button type="button" onClick={() => setJsonView(!jsonView)} data-testid="rule-view-toggle" disabled={!jsonView && draft === null && text !== ''}>
            {jsonView ? '表格编辑' : 'JSON 视图'}
          </button>
        </div>
        {!jsonView && draft !== null ? (
          <RuleForm
            draft={draft}
            readOnly={!canWrite}
            onChange={(d) => {
              setText(JSON.stringify(d, null, 2));
              setServerProblem(null);
            }}
          />
        ) : null}
        <div hidden={!jsonView && draft !== null}>
        <p className="muted">
          JSON 格式：{'{'}"version", "params", "rules": [{'{'}"id", "when", "color", "reason", "until"?, "notice"?{'}'}]{'}'}。修改后请更换版本号。
        </p>
        <textarea
          ref={area}
          className="code-editor"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setServerProblem(null);
          }}
          spellCheck={false}
          aria-label="规则 JSON"
          aria-invalid={shown !== null}
          rows={22}
        />
        </div>
        {shown ? (
          <div className="msg msg-error" role="alert" data-testid="rule-problem">
            {shown.kind === 'server' ? '服务器校验未通过' : shown.kind === 'syntax' ? '格式错误' : '规则校验未通过'}
            {shown.path ? (
              <>
                ，位置 <code>{shown.path}</code>
              </>
            ) : null}
            {shown.line !== null ? `（第 ${shown.line} 行）` : ''}：{shown.message}
            {shown.offset !== null ? (
              <button type="button" className="btn-link" onClick={() => jump(shown)}>
                定位
              </button>
            ) : null}
          </div>
        ) : text !== '' ? (
          <div className="msg msg-ok" role="status">
            校验通过：版本 {draftVersion}
          </div>
        ) : null}
      </Section>

      {dry ? (
        <Section title={`试算结果：版本 ${dry.version}`}>
          <p data-testid="dry-summary">
            评估 {dry.evaluated} 人，其中 <strong>{dry.changed}</strong> 人的赋码将发生变化
            {dry.at ? `（按 ${fmtTime(dry.at)} 计算）` : ''}。
          </p>
          {dry.transitions.length > 0 ? (
            <>
              <Suspense fallback={<div className="chart">图表加载中…</div>}>
                <ChangeChart transitions={dry.transitions} />
              </Suspense>
              <table>
                <thead>
                  <tr>
                    <th>原颜色</th>
                    <th>新颜色</th>
                    <th>原因</th>
                    <th>人数</th>
                  </tr>
                </thead>
                <tbody>
                  {dry.transitions.map((t, i) => (
                    <tr key={i}>
                      <td>{t.from === null ? '新赋码' : COLOR_LABEL[t.from] ?? t.from}</td>
                      <td>{COLOR_LABEL[t.to] ?? t.to}</td>
                      <td>{reasonText(t.reason)}</td>
                      <td className="num">{t.count}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : (
            <Empty>没有赋码会发生变化</Empty>
          )}
        </Section>
      ) : null}

      {confirm?.kind === 'publish' ? (
        <ConfirmDialog
          title={`发布规则版本 ${confirm.version}`}
          busy={busy}
          confirmText={startSec === null ? '立即发布' : '定时发布'}
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            if (!startBad) void publish(confirm.version);
          }}
        >
          <p>发布后规则将推送到所有边缘节点。建议先试算确认影响范围。</p>
          <label>
            生效时间（可选，留空为立即生效）
            <input type="datetime-local" value={startAt} onChange={(e) => setStartAt(e.target.value)} name="activeFrom" />
          </label>
          {startBad ? <ErrorBox error="生效时间必须晚于当前时间" /> : null}
        </ConfirmDialog>
      ) : null}
      {confirm?.kind === 'rollback' ? (
        <ConfirmDialog title="回滚规则" danger busy={busy} confirmText="确认回滚" onCancel={() => setConfirm(null)} onConfirm={() => void rollback()}>
          <p>将恢复上一个已发布的规则版本，并重新评估所有赋码。此操作记入审计日志。</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
