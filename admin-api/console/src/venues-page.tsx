import { Fragment, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, apiBlob } from './api.js';
import { errorText, fmtTime, triggerDownload, VENUE_KIND_LABEL } from './format.js';
import { ExportButton } from './export.js';
import { EXPORT_TABLES } from './export-columns.js';
import { RegionName, RegionPicker, regionText, useRegions } from './regions.js';
import { ConfirmDialog, Empty, ErrorBox, OkBox, Section, useBusy } from './ui.js';

/**
 * 场所码: create a venue (kind 'entry' = 入川即检 checkpoint, with the hours
 * within which an arrival must be tested), bulk import, fuzzy search by name,
 * place-code QR as PNG (to print) or SVG (to scale for posters).
 *
 * QR images need the bearer token, so they are fetched and handed to the
 * browser as blob: URLs rather than linked directly.
 */

/** admin-api/routes-venues.ts venueView */
export interface VenueRow {
  id: string;
  name: string;
  region: string;
  kind: 'normal' | 'entry';
  entryTestHours: number | null;
  /** the QR text, HCV1:<id> */
  placeCode: string;
  /** 停用 since (unix s): kept and listed, off the edges, no place code printed; null in service */
  disabledAt?: number | null;
}

const IMPORT_EXAMPLE = `[
  { "name": "双流国际机场 T2 入川卡口", "region": "510116", "kind": "entry", "entryTestHours": 24 },
  { "name": "春熙路步行街", "region": "510104", "kind": "normal" }
]`;

/** admin-api/routes-venues.ts: entryTestHours 1–336 (two weeks) */
const MAX_HOURS = 336;

function QrPreview({ venue, onClose }: { venue: VenueRow; onClose: () => void }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let u: string | null = null;
    apiBlob(`/admin/v1/venues/${encodeURIComponent(venue.id)}/qr.svg`)
      .then((b) => {
        u = URL.createObjectURL(b);
        setUrl(u);
      })
      .catch((e: unknown) => setError(errorText(e)));
    return () => {
      if (u) URL.revokeObjectURL(u);
    };
  }, [venue.id]);
  return (
    <div className="qr-preview">
      <div>
        <strong>{venue.name}</strong>
        <div className="muted mono">{venue.placeCode}</div>
      </div>
      {url ? <img src={url} alt={`${venue.name} 场所码`} width={180} height={180} data-testid="qr-img" /> : null}
      <ErrorBox error={error} />
      <button type="button" onClick={onClose}>
        关闭
      </button>
    </div>
  );
}

const PAGE = 50;

interface ParsedRow {
  row: number;
  venue: Omit<VenueRow, 'placeCode' | 'id' | 'entryTestHours'> & { id?: string; entryTestHours?: number } | null;
  problem: string | null;
}

async function fileBase64(f: File): Promise<string> {
  const bytes = new Uint8Array(await f.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** The venue's editable fields, as the create form and the edit dialog both hold them. */
interface VenueDraft {
  name: string;
  region: string;
  kind: 'normal' | 'entry';
  /** entry checkpoints only: as typed */
  hours: string;
}

/** The body POST /admin/v1/venues(/:id) takes for a draft. */
function venueBody(d: VenueDraft): Record<string, unknown> {
  const body: Record<string, unknown> = { name: d.name.trim(), region: d.region, kind: d.kind };
  if (d.kind === 'entry') body.entryTestHours = Number(d.hours);
  return body;
}

/** A draft the server would refuse for its hours (an entry checkpoint needs 1–MAX_HOURS) or its region (district or finer). */
function draftBad(d: VenueDraft): boolean {
  const h = Number(d.hours);
  return (d.kind === 'entry' && !(Number.isInteger(h) && h >= 1 && h <= MAX_HOURS)) || d.region.length < 6;
}

/** The name, region, kind and (entry checkpoints) hours inputs; `names` are the inputs' name attributes. */
function VenueFields(props: {
  draft: VenueDraft;
  onChange: (d: VenueDraft) => void;
  names: { name: string; region: string; kind: string; hours: string };
  regionLabel: string;
  nameClass?: string;
}) {
  const { draft, onChange, names } = props;
  const set = (patch: Partial<VenueDraft>) => onChange({ ...draft, ...patch });
  return (
    <>
      <label className={props.nameClass}>
        场所名称
        <input name={names.name} value={draft.name} onChange={(e) => set({ name: e.target.value })} required maxLength={200} />
      </label>
      <label>
        {props.regionLabel}
        <RegionPicker value={draft.region} onChange={(region) => set({ region })} name={names.region} minLength={6} />
      </label>
      <label>
        类型
        <select name={names.kind} value={draft.kind} onChange={(e) => set({ kind: e.target.value as 'normal' | 'entry' })}>
          <option value="normal">{VENUE_KIND_LABEL.normal}</option>
          <option value="entry">{VENUE_KIND_LABEL.entry}</option>
        </select>
      </label>
      {draft.kind === 'entry' ? (
        <label>
          检测时限（小时）
          <input name={names.hours} type="number" min={1} max={MAX_HOURS} value={draft.hours} onChange={(e) => set({ hours: e.target.value })} required />
        </label>
      ) : null}
    </>
  );
}

function VenueEdit({ venue, onDone, onCancel }: { venue: VenueRow; onDone: (v: VenueRow) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState<VenueDraft>({ name: venue.name, region: venue.region, kind: venue.kind, hours: String(venue.entryTestHours ?? 24) });
  const [error, setError] = useState<string | null>(null);
  const { busy, run } = useBusy(setError);
  async function save(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      onDone(await api<VenueRow>('POST', `/admin/v1/venues/${encodeURIComponent(venue.id)}`, venueBody(draft)));
    });
  }
  return (
    <div className="overlay">
      <form className="dialog" role="dialog" aria-modal="true" aria-label="修改场所" onSubmit={save}>
        <h3>修改场所（编号 {venue.id} 不变，已张贴的场所码继续有效）</h3>
        <VenueFields draft={draft} onChange={setDraft} names={{ name: 'edit-name', region: 'edit-region', kind: 'edit-kind', hours: 'edit-hours' }} regionLabel="所在地区" />
        <ErrorBox error={error} />
        <div className="dialog-actions">
          <button type="button" onClick={onCancel} disabled={busy}>
            取消
          </button>
          <button type="submit" className="btn-primary" disabled={busy || draftBad(draft)}>
            保存
          </button>
        </div>
      </form>
    </div>
  );
}

export function VenuesPage({ canWrite }: { canWrite: boolean }) {
  const regions = useRegions();
  const [draft, setDraft] = useState<VenueDraft>({ name: '', region: '', kind: 'normal', hours: '24' });
  const [created, setCreated] = useState<VenueRow | null>(null);
  const [importText, setImportText] = useState(IMPORT_EXAMPLE);
  const [importJson, setImportJson] = useState(false);
  const [parsed, setParsed] = useState<ParsedRow[] | null>(null);
  const [importOk, setImportOk] = useState<string | null>(null);
  const [q, setQ] = useState('');
  const [filterRegion, setFilterRegion] = useState('');
  const [filterKind, setFilterKind] = useState('');
  const [offset, setOffset] = useState(0);
  const [results, setResults] = useState<VenueRow[] | null>(null);
  const [total, setTotal] = useState(0);
  const [preview, setPreview] = useState<string | null>(null);
  const [editing, setEditing] = useState<VenueRow | null>(null);
  const [disabling, setDisabling] = useState<VenueRow | null>(null);
  const [disabled, setDisabled] = useState<VenueRow | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { busy, run } = useBusy(setError);
  const [reload, setReload] = useState(0);
  const searchSeq = useRef(0);

  async function create(e: FormEvent) {
    e.preventDefault();
    setCreated(null);
    await run(async () => {
      const row = await api<VenueRow>('POST', '/admin/v1/venues', venueBody(draft));
      setCreated(row);
      setDraft((d) => ({ ...d, name: '' }));
      setQ(row.name);
    });
  }

  async function readFile(f: File | undefined) {
    if (!f) return;
    setImportOk(null);
    setParsed(null);
    await run(async () => {
      const r = await api<{ rows: ParsedRow[] }>('POST', '/admin/v1/venues/parse', { filename: f.name, data: await fileBase64(f) });
      setParsed(r.rows);
    });
  }

  async function bulkImport(venues: unknown[]) {
    setImportOk(null);
    await run(async () => {
      const r = await api<{ count: number; changed: number; unchanged: number; ids: string[] }>('POST', '/admin/v1/venues/import', { venues });
      setImportOk(`已导入 ${r.count} 个场所（新建或更新 ${r.changed}，未变 ${r.unchanged}）。`);
      setParsed(null);
      setReload((n) => n + 1);
    });
  }

  function importFromJson() {
    let venues: unknown;
    try {
      venues = JSON.parse(importText);
    } catch {
      setError('JSON 格式不正确，请检查括号、引号和逗号');
      return;
    }
    if (!Array.isArray(venues)) {
      setError('应为 JSON 数组');
      return;
    }
    void bulkImport(venues);
  }

  const query = (extra: Record<string, string>) => {
    const p: Record<string, string> = { limit: String(PAGE), offset: String(offset), ...extra };
    if (q.trim() !== '') p.q = q.trim();
    if (filterRegion !== '') p.region = filterRegion;
    if (filterKind !== '') p.kind = filterKind;
    return new URLSearchParams(p).toString();
  };

  // Search as you type, debounced; only the latest answer is shown.
  useEffect(() => {
    const seq = ++searchSeq.current;
    const t = setTimeout(() => {
      api<{ venues: VenueRow[]; total: number }>('GET', `/admin/v1/venues?${query({})}`)
        .then((a) => {
          if (seq !== searchSeq.current) return;
          setResults(a.venues);
          setTotal(a.total);
        })
        .catch((e: unknown) => {
          if (seq === searchSeq.current) setError(errorText(e));
        });
    }, 250);
    return () => clearTimeout(t);
  }, [q, filterRegion, filterKind, offset, created, reload]);

  useEffect(() => setOffset(0), [q, filterRegion, filterKind]);

  async function download(v: VenueRow, ext: 'png' | 'svg' | 'pdf') {
    setError(null);
    try {
      const b = await apiBlob(`/admin/v1/venues/${encodeURIComponent(v.id)}/${ext === 'pdf' ? 'poster.pdf' : `qr.${ext}`}`);
      triggerDownload(b, `${ext === 'pdf' ? '场所码海报' : '场所码'}-${v.name}-${v.id}.${ext}`);
    } catch (e) {
      setError(errorText(e));
    }
  }

  async function disable() {
    if (!disabling) return;
    await run(async () => {
      await api('POST', `/admin/v1/venues/${encodeURIComponent(disabling.id)}/disable`);
      setDisabled(disabling);
      setOk(`已停用场所 ${disabling.name}，其场所码即刻失效。`);
      setDisabling(null);
      setReload((n) => n + 1);
    }, { onFail: () => setDisabling(null) });
  }

  async function restore(v: VenueRow) {
    await run(async () => {
      await api('POST', `/admin/v1/venues/${encodeURIComponent(v.id)}/enable`);
      setOk(`已恢复场所 ${v.name}，原场所码（编号 ${v.id}）重新生效。`);
      setDisabled(null);
      setReload((n) => n + 1);
    });
  }

  async function exportRows(): Promise<(string | number | null)[][]> {
    const out: (string | number | null)[][] = [];
    for (let off = 0; off < Math.min(total, 20_000); off += 1000) {
      const a = await api<{ venues: VenueRow[] }>('GET', `/admin/v1/venues?${query({ limit: '1000', offset: String(off) })}`);
      for (const v of a.venues) out.push([v.name, v.id, regionText(regions, v.region), v.region, VENUE_KIND_LABEL[v.kind] ?? v.kind, v.entryTestHours, v.placeCode, v.disabledAt ? `已停用（${fmtTime(v.disabledAt)}）` : '使用中']);
      if (a.venues.length < 1000) break;
    }
    return out;
  }

  const goodRows = parsed?.filter((r) => r.venue !== null) ?? [];
  const badRows = parsed?.filter((r) => r.venue === null) ?? [];
  const pages = Math.max(1, Math.ceil(total / PAGE));

  return (
    <>
      {canWrite ? (
        <Section title="新建场所">
          <form className="form-row" onSubmit={create} aria-label="新建场所">
            <VenueFields
              draft={draft}
              onChange={setDraft}
              names={{ name: 'venueName', region: 'region', kind: 'kind', hours: 'entryTestHours' }}
              regionLabel="所在地区（选到区县或乡镇街道）"
              nameClass="grow"
            />
            <button type="submit" className="btn-primary" disabled={busy || draftBad(draft)}>
              创建
            </button>
          </form>
          {created ? (
            <OkBox>
              已创建场所 {created.name}（编号 {created.id}）。
              <button type="button" className="btn-link" onClick={() => void download(created, 'pdf')}>
                打印海报（PDF）
              </button>
              <button type="button" className="btn-link" onClick={() => void download(created, 'png')}>
                下载 PNG
              </button>
            </OkBox>
          ) : null}
        </Section>
      ) : null}

      {canWrite ? (
        <Section
          title="批量导入"
          actions={
            <button type="button" onClick={() => setImportJson(!importJson)}>
              {importJson ? '从表格文件导入' : 'JSON 导入'}
            </button>
          }
        >
          {importJson ? (
            <>
              <p className="muted">JSON 数组，每项 {'{'}"name", "region", "kind": "normal" | "entry", "entryTestHours"?, "id"?{'}'}。</p>
              <textarea className="code-editor short" value={importText} onChange={(e) => setImportText(e.target.value)} spellCheck={false} rows={6} aria-label="场所 JSON" />
              <div className="form-row">
                <button type="button" className="btn-primary" onClick={importFromJson} disabled={busy}>
                  导入
                </button>
              </div>
            </>
          ) : (
            <>
              <p className="muted">
                Excel（.xlsx）或 CSV 文件，第一行为表头：场所名称、区划代码（或“地区”写名称，如 四川省成都市锦江区）、类型（普通场所 / 入川卡口）、检测时限（小时）、编号（可选，填写则更新该场所）。
              </p>
              <label className="file-pick">
                <span className="btn-like">选择 Excel 或 CSV 文件…</span>
                <input type="file" className="visually-hidden" name="venue-file" accept=".xlsx,.csv,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" onChange={(e) => void readFile(e.target.files?.[0])} />
              </label>
            </>
          )}
          {parsed ? (
            <div data-testid="venue-parsed">
              <p>
                共 {parsed.length} 行：可导入 {goodRows.length} 行{badRows.length > 0 ? `，有问题 ${badRows.length} 行（须修改文件后重新选择）` : ''}。
              </p>
              {badRows.length > 0 ? (
                <ul className="problems">
                  {badRows.slice(0, 50).map((r) => (
                    <li key={r.row}>
                      第 {r.row} 行：{r.problem}
                    </li>
                  ))}
                </ul>
              ) : null}
              <table>
                <thead>
                  <tr>
                    <th>行</th>
                    <th>场所名称</th>
                    <th>地区</th>
                    <th>类型</th>
                  </tr>
                </thead>
                <tbody>
                  {goodRows.slice(0, 20).map((r) => (
                    <tr key={r.row}>
                      <td>{r.row}</td>
                      <td>{r.venue!.name}</td>
                      <td>{regionText(regions, r.venue!.region)}</td>
                      <td>
                        {VENUE_KIND_LABEL[r.venue!.kind]}
                        {r.venue!.entryTestHours ? `，${r.venue!.entryTestHours} 小时` : ''}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {goodRows.length > 20 ? <p className="muted">仅显示前 20 行</p> : null}
              <button type="button" className="btn-primary" onClick={() => void bulkImport(goodRows.map((r) => r.venue))} disabled={busy || goodRows.length === 0 || badRows.length > 0} data-testid="venue-import">
                导入 {goodRows.length} 个场所
              </button>
            </div>
          ) : null}
          {importOk ? <OkBox>{importOk}</OkBox> : null}
        </Section>
      ) : null}

      <Section
        title="场所查询"
        actions={<ExportButton {...EXPORT_TABLES.venues} rows={exportRows} />}
      >
        <div className="filters">
          <label className="grow">
            名称关键字（模糊查询，留空为全部）
            <input name="q" value={q} onChange={(e) => setQ(e.target.value)} placeholder="例如：机场" autoComplete="off" />
          </label>
          <label>
            地区
            <RegionPicker value={filterRegion} onChange={setFilterRegion} name="filter-region" root="51" allowEmpty />
          </label>
          <label>
            类型
            <select name="filter-kind" value={filterKind} onChange={(e) => setFilterKind(e.target.value)}>
              <option value="">全部</option>
              <option value="normal">{VENUE_KIND_LABEL.normal}</option>
              <option value="entry">{VENUE_KIND_LABEL.entry}</option>
            </select>
          </label>
        </div>
        {ok ? (
          <OkBox>
            {ok}
            {disabled ? (
              <button type="button" className="btn-link" onClick={() => void restore(disabled)} disabled={busy}>
                恢复启用
              </button>
            ) : null}
          </OkBox>
        ) : null}
        <ErrorBox error={error} />
        {results === null ? null : results.length === 0 ? (
          <Empty>没有匹配的场所</Empty>
        ) : (
          <>
            <p className="muted" data-testid="venue-total">
              共 {total} 个场所，第 {Math.floor(offset / PAGE) + 1} / {pages} 页
            </p>
            <table data-testid="venue-results">
              <thead>
                <tr>
                  <th>名称</th>
                  <th>编号</th>
                  <th>地区</th>
                  <th>类型</th>
                  <th>场所码</th>
                </tr>
              </thead>
              <tbody>
                {results.map((v) => (
                  <Fragment key={v.id}>
                    <tr data-venue={v.id} data-disabled={v.disabledAt ? '1' : undefined}>
                      <td>
                        {v.name}
                        {v.disabledAt ? (
                          <span className="tag tag-warn" data-testid="venue-disabled" title={`停用于 ${fmtTime(v.disabledAt)}`}>
                            已停用
                          </span>
                        ) : null}
                      </td>
                      <td className="mono">{v.id}</td>
                      <td>
                        <RegionName code={v.region} />
                      </td>
                      <td>
                        {VENUE_KIND_LABEL[v.kind] ?? v.kind}
                        {v.kind === 'entry' && v.entryTestHours ? `，${v.entryTestHours} 小时内检测` : ''}
                      </td>
                      <td>
                        <div className="actions">
                          {v.disabledAt ? (
                            // a disabled place code is neither shown nor printed (the API refuses it too)
                            canWrite ? (
                              <button type="button" onClick={() => void restore(v)} disabled={busy} data-testid="venue-enable">
                                恢复启用
                              </button>
                            ) : (
                              <span className="muted">场所码已停用</span>
                            )
                          ) : (
                            <>
                          <button type="button" onClick={() => setPreview(preview === v.id ? null : v.id)}>
                            预览
                          </button>
                          <button type="button" onClick={() => void download(v, 'pdf')}>
                            海报
                          </button>
                          <button type="button" onClick={() => void download(v, 'png')}>
                            PNG
                          </button>
                          <button type="button" onClick={() => void download(v, 'svg')}>
                            SVG
                          </button>
                            </>
                          )}
                          {canWrite && !v.disabledAt ? (
                            <>
                              <button type="button" onClick={() => setEditing(v)}>
                                修改
                              </button>
                              <button type="button" onClick={() => setDisabling(v)}>
                                停用
                              </button>
                            </>
                          ) : null}
                        </div>
                      </td>
                    </tr>
                    {preview === v.id ? (
                      <tr className="qr-row" data-testid="qr-row">
                        <td colSpan={5}>
                          <QrPreview venue={v} onClose={() => setPreview(null)} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                ))}
              </tbody>
            </table>
            <div className="pager">
              <button type="button" onClick={() => setOffset(Math.max(0, offset - PAGE))} disabled={offset === 0}>
                上一页
              </button>
              <button type="button" onClick={() => setOffset(offset + PAGE)} disabled={offset + PAGE >= total} data-testid="next-page">
                下一页
              </button>
            </div>
          </>
        )}
      </Section>

      {editing ? (
        <VenueEdit
          venue={editing}
          onCancel={() => setEditing(null)}
          onDone={(v) => {
            setEditing(null);
            setOk(`已修改场所 ${v.name}`);
            setDisabled(null);
            setReload((n) => n + 1);
          }}
        />
      ) : null}
      {disabling ? (
        <ConfirmDialog title="确认停用场所" danger busy={busy} confirmText="确认停用" onCancel={() => setDisabling(null)} onConfirm={() => void disable()}>
          <p>
            场所：<strong>{disabling.name}</strong>（编号 {disabling.id}）
          </p>
          <p>停用后该场所码立即失效，市民扫码将提示场所码无效，也不能再打印。场所仍保留在列表中（标为已停用），可随时恢复启用，原编号和已张贴的场所码重新生效。</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
