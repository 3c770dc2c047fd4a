import { useState } from 'react';
import { api } from './api.js';
import { ExportButton } from './export.js';
import { EXPORT_TABLES } from './export-columns.js';
import { fmtTime, localInputToSec, RISK_LEVEL_LABEL, secToDateInput } from './format.js';
import { RegionPicker, regionText, useRegions } from './regions.js';
import { ConfirmDialog, Empty, ErrorBox, OkBox, Section, useBusy, useLoad } from './ui.js';

/**
 * 风险区域: edit the list (region picker by name, level, start date in China
 * time) or paste / load the national list in the JSON view; see what would
 * change against what is published; publish it.
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

/** The date of `sec` in China time, for a date input. */
function dayOf(sec: number): string {
  return secToDateInput(sec);
}

function Level({ level }: { level: string | undefined }) {
  if (!level) return <>—</>;
  return <span className={`tag tag-risk-${level}`}>{RISK_LEVEL_LABEL[level] ?? level}</span>;
}

/**
 * The list being edited: starts as the areas in force; rows are added with
 * the region picker, changed (level, start date) or removed; then the whole
 * list is previewed as a diff against what is in force, and published. The
 * JSON view (the national list's file format) is an option for bulk pastes.
 */
export function RiskPage({ canWrite }: { canWrite: boolean }) {
  const regions = useRegions();
  const [current, setCurrent] = useState<RiskArea[]>([]);
  const [draft, setDraft] = useState<RiskArea[] | null>(null);
  const [jsonMode, setJsonMode] = useState(false);
  const [text, setText] = useState('');
  const [newRegion, setNewRegion] = useState('');
  const [newLevel, setNewLevel] = useState('medium');
  const [newDay, setNewDay] = useState(dayOf(Math.floor(Date.now() / 1000)));
  const [staged, setStaged] = useState<Staged | null>(null);
  const diff = staged?.diff ?? null;
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const { busy, run } = useBusy(setError);
  const [confirming, setConfirming] = useState(false);

  const refresh = useLoad(async () => {
    const areas = (await api<{ areas: RiskArea[] }>('GET', '/admin/v1/risk-areas')).areas;
    setCurrent(areas);
    setDraft(areas.map((a) => ({ ...a })));
  }, setError);

  const list = draft ?? [];

  let parseError: string | null = null;
  let parsed: unknown = null;
  if (jsonMode) {
    try {
      parsed = JSON.parse(text);
      if (!Array.isArray(parsed)) parseError = '应为 JSON 数组：[{"region": "510104", "level": "high", "since": 1700000000}]';
    } catch {
      parseError = 'JSON 格式不正确，请检查括号、引号和逗号';
    }
  }

  function toJson() {
    setText(JSON.stringify(list, null, 2));
    setJsonMode(true);
  }

  function fromJson() {
    if (parseError === null && Array.isArray(parsed)) setDraft(parsed as RiskArea[]);
    setJsonMode(false);
  }

  function addArea() {
    const since = localInputToSec(newDay);
    if (newRegion.length < 6 || since === null) return;
    setDraft([...list.filter((a) => a.region !== newRegion), { region: newRegion, level: newLevel, since }]);
    setNewRegion('');
  }

  async function preview() {
    setOk(null);
    setStaged(null);
    await run(async () => {
      setStaged(await api<Staged>('POST', '/admin/v1/risk-areas/import', jsonMode ? parsed : list));
    });
  }

  async function publish() {
    if (!staged) return;
    await run(async () => {
      const r = await api<{ added: number; changed: number; removed: number }>('POST', `/admin/v1/risk-areas/import/${encodeURIComponent(staged.id)}/publish`, {});
      setOk(`已发布：新增 ${r.added}，变更 ${r.changed}，移除 ${r.removed}，将同步到所有边缘节点。`);
      setStaged(null);
      await refresh();
    });
    setConfirming(false);
  }

  function loadFile(f: File | undefined) {
    if (!f) return;
    void f.text().then((t) => {
      setText(t);
      setJsonMode(true);
    });
  }

  const name = (code: string) => regionText(regions, code);

  const nothing = diff !== null && diff.added.length + diff.changed.length + diff.removed.length === 0;

  return (
    <>
      {canWrite ? (
        <Section
          title="编辑风险区域名单"
          actions={
            jsonMode ? (
              <button type="button" onClick={fromJson} disabled={parseError !== null}>
                返回表格编辑
              </button>
            ) : (
              <button type="button" onClick={toJson}>
                JSON 视图
              </button>
            )
          }
        >
          {jsonMode ? (
            <>
              <p className="muted">JSON 视图：每项为 {'{'}"region": 区划代码, "level": "high" | "medium" | "low", "since": 起始时间（Unix 秒）{'}'}。可粘贴国家发布的名单文件。</p>
              <div className="form-row">
                <label className="file-pick">
                  <span className="btn-like">从文件读取…</span>
                  <input type="file" className="visually-hidden" accept=".json,application/json" onChange={(e) => loadFile(e.target.files?.[0])} />
                </label>
              </div>
              <textarea className="code-editor short" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} aria-label="风险区域 JSON" rows={8} />
              {parseError ? <ErrorBox error={parseError} /> : null}
            </>
          ) : (
            <>
              <div className="form-row" aria-label="添加风险区域">
                <label>
                  地区（选到区县或乡镇街道）
                  <RegionPicker value={newRegion} onChange={setNewRegion} name="risk-region" root="51" minLength={6} />
                </label>
                <label>
                  风险等级
                  <select name="risk-level" value={newLevel} onChange={(e) => setNewLevel(e.target.value)}>
                    {Object.entries(RISK_LEVEL_LABEL).map(([v, l]) => (
                      <option key={v} value={v}>
                        {l}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  起始日期
                  <input type="date" name="risk-since" value={newDay} onChange={(e) => setNewDay(e.target.value)} />
                </label>
                <button type="button" onClick={addArea} disabled={newRegion.length < 6 || newDay === ''} data-testid="risk-add">
                  添加到名单
                </button>
              </div>
              {list.length === 0 ? (
                <Empty>名单为空（发布空名单将移除所有风险区域）</Empty>
              ) : (
                <table data-testid="risk-draft">
                  <thead>
                    <tr>
                      <th>地区</th>
                      <th>等级</th>
                      <th>起始日期</th>
                      <th>操作</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((a, i) => (
                      <tr key={a.region}>
                        <td title={a.region}>{name(a.region)}</td>
                        <td>
                          <select value={a.level} aria-label="等级" onChange={(e) => setDraft(list.map((x, k) => (k === i ? { ...x, level: e.target.value } : x)))}>
                            {Object.entries(RISK_LEVEL_LABEL).map(([v, l]) => (
                              <option key={v} value={v}>
                                {l}
                              </option>
                            ))}
                          </select>
                        </td>
                        <td>
                          <input
                            type="date"
                            aria-label="起始日期"
                            value={dayOf(a.since)}
                            onChange={(e) => {
                              const sec = localInputToSec(e.target.value);
                              if (sec !== null) setDraft(list.map((x, k) => (k === i ? { ...x, since: sec } : x)));
                            }}
                          />
                        </td>
                        <td>
                          <button type="button" className="btn-link" onClick={() => setDraft(list.filter((_, k) => k !== i))}>
                            移除
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )}
          <div className="form-row">
            <button type="button" className="btn-primary" onClick={() => void preview()} disabled={busy || (jsonMode && parseError !== null)}>
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
                <th>地区</th>
                <th>原等级</th>
                <th>新等级</th>
                <th>起始时间</th>
              </tr>
            </thead>
            <tbody>
              {diff.added.map((a) => (
                <tr key={`a${a.region}`} className="row-add">
                  <td>新增</td>
                  <td title={a.region}>{name(a.region)}</td>
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
                  <td title={c.region}>{name(c.region)}</td>
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
                  <td title={r.region}>{name(r.region)}</td>
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

      <Section
        title={`当前风险区域（${current.length}）`}
        actions={<ExportButton {...EXPORT_TABLES.risk} rows={() => current.map((a) => [name(a.region), a.region, RISK_LEVEL_LABEL[a.level] ?? a.level, fmtTime(a.since)])} />}
      >
        {current.length === 0 ? (
          <Empty>当前无风险区域</Empty>
        ) : (
          <table data-testid="risk-current">
            <thead>
              <tr>
                <th>地区</th>
                <th>等级</th>
                <th>起始时间</th>
              </tr>
            </thead>
            <tbody>
              {current.map((a) => (
                <tr key={a.region}>
                  <td title={a.region}>{name(a.region)}</td>
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
