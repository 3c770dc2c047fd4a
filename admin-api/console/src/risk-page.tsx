import { useCallback, useEffect, useState } from 'react';
import { api } from './api.js';
import { errorText, fmtTime, RISK_LEVEL_LABEL } from './format.js';
import { ConfirmDialog, Empty, ErrorBox, OkBox, Section } from './ui.js';

/**
 * 风险区域: paste or load the national list (JSON: [{region, level, since}]),
 * see what would change against what is published, publish it.
 */

export interface RiskArea {
  region: string;
  level: string;
  since: number;
}

/** master/risk-import.ts RiskAreaDiff */
export interface RiskDiff {
  added: RiskArea[];
  changed: { region: string; from: RiskArea; to: RiskArea }[];
  removed: RiskArea[];
  unchanged: number;
}

/** POST /admin/v1/risk-areas/import (admin-api/routes-risk.ts): the list is staged under `id` for an hour. */
interface Staged {
  id: string;
  expiresAt: number;
  diff: RiskDiff;
}

const EXAMPLE = `[
  { "region": "510104", "level": "high", "since": ${Math.floor(Date.now() / 1000)} }
]`;


function Level({ level }: { level: string | undefined }) {
  if (!level) return <>—</>;
  return <span className={`tag tag-risk-${level}`}>{RISK_LEVEL_LABEL[level] ?? level}</span>;
}

export function RiskPage({ canWrite }: { canWrite: boolean }) {
  const [current, setCurrent] = useState<RiskArea[]>([]);
  const [text, setText] = useState(EXAMPLE);
  const [staged, setStaged] = useState<Staged | null>(null);
  const diff = staged?.diff ?? null;
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);

  const refresh = useCallback(async () => {
    try {
      setCurrent((await api<{ areas: RiskArea[] }>('GET', '/admin/v1/risk-areas')).areas);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  let parseError: string | null = null;
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
    if (!Array.isArray(parsed)) parseError = '应为 JSON 数组：[{"region": "510104", "level": "high", "since": 1700000000}]';
  } catch (e) {
    parseError = `JSON 语法错误：${e instanceof Error ? e.message : String(e)}`;
  }

  async function preview() {
    setBusy(true);
    setError(null);
    setOk(null);
    setStaged(null);
    try {
      setStaged(await api<Staged>('POST', '/admin/v1/risk-areas/import', parsed));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  async function publish() {
    if (!staged) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ added: number; changed: number; removed: number }>('POST', `/admin/v1/risk-areas/import/${encodeURIComponent(staged.id)}/publish`, {});
      setOk(`已发布：新增 ${r.added}，变更 ${r.changed}，移除 ${r.removed}，将同步到所有边缘节点。`);
      setStaged(null);
      await refresh();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  }

  function loadFile(f: File | undefined) {
    if (!f) return;
    void f.text().then(setText);
  }

  const nothing = diff !== null && diff.added.length + diff.changed.length + diff.removed.length === 0;

  return (
    <>
      {canWrite ? (
        <Section title="导入风险区域名单">
          <p className="muted">每项为 {'{'}"region": GB/T 2260 区划代码（6、9 或 12 位）, "level": "high" | "medium" | "low", "since": Unix 秒{'}'}。导入的名单将替换当前名单。</p>
          <div className="form-row">
            <label>
              从文件读取
              <input type="file" accept=".json,application/json" onChange={(e) => loadFile(e.target.files?.[0])} />
            </label>
          </div>
          <textarea className="code-editor short" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} aria-label="风险区域 JSON" rows={8} />
          {parseError ? <ErrorBox error={parseError} /> : null}
          <div className="form-row">
            <button type="button" className="btn-primary" onClick={() => void preview()} disabled={busy || parseError !== null}>
              预览差异
            </button>
          </div>
          <ErrorBox error={error} />
          {ok ? <OkBox>{ok}</OkBox> : null}
        </Section>
      ) : null}

      {diff ? (
        <Section
          title="差异"
          actions={
            <button type="button" className="btn-danger" onClick={() => setConfirming(true)} disabled={busy || nothing} data-testid="risk-publish">
              发布
            </button>
          }
        >
          <p className="muted" data-testid="risk-summary">
            新增 {diff.added.length}，变更 {diff.changed.length}，移除 {diff.removed.length}，不变 {diff.unchanged}。预览在 {fmtTime(staged?.expiresAt)} 前有效；若期间名单已被他人发布，需要重新导入。
          </p>
          {nothing ? <Empty>与当前名单相同，无需发布</Empty> : null}
          <table data-testid="risk-diff">
            <thead>
              <tr>
                <th>变化</th>
                <th>区划代码</th>
                <th>原等级</th>
                <th>新等级</th>
                <th>起始时间</th>
              </tr>
            </thead>
            <tbody>
              {diff.added.map((a) => (
                <tr key={`a${a.region}`} className="row-add">
                  <td>新增</td>
                  <td>{a.region}</td>
                  <td>—</td>
                  <td>
                    <Level level={a.level} />
                  </td>
                  <td>{fmtTime(a.since)}</td>
                </tr>
              ))}
              {diff.changed.map((c) => (
                <tr key={`c${c.region}`} className="row-change">
                  <td>变更</td>
                  <td>{c.region}</td>
                  <td>
                    <Level level={c.from.level} />
                  </td>
                  <td>
                    <Level level={c.to.level} />
                  </td>
                  <td>{fmtTime(c.to.since)}</td>
                </tr>
              ))}
              {diff.removed.map((r) => (
                <tr key={`r${r.region}`} className="row-remove">
                  <td>移除</td>
                  <td>{r.region}</td>
                  <td>
                    <Level level={r.level} />
                  </td>
                  <td>—</td>
                  <td>{fmtTime(r.since)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      ) : null}

      <Section title={`当前风险区域（${current.length}）`}>
        {current.length === 0 ? (
          <Empty>当前无风险区域</Empty>
        ) : (
          <table data-testid="risk-current">
            <thead>
              <tr>
                <th>区划代码</th>
                <th>等级</th>
                <th>起始时间</th>
              </tr>
            </thead>
            <tbody>
              {current.map((a) => (
                <tr key={a.region}>
                  <td>{a.region}</td>
                  <td>
                    <Level level={a.level} />
                  </td>
                  <td>{fmtTime(a.since)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      {confirming && diff ? (
        <ConfirmDialog title="发布风险区域" danger busy={busy} confirmText="确认发布" onCancel={() => setConfirming(false)} onConfirm={() => void publish()}>
          <p>
            新增 {diff.added.length}，变更 {diff.changed.length}，移除 {diff.removed.length}。
          </p>
          <p>发布后将同步到所有边缘节点，并影响相关人员的赋码。</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
