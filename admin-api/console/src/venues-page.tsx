import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, apiBlob } from './api.js';
import { errorText, triggerDownload, VENUE_KIND_LABEL } from './format.js';
import { Empty, ErrorBox, OkBox, Section } from './ui.js';

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

export function VenuesPage({ canWrite }: { canWrite: boolean }) {
  const [name, setName] = useState('');
  const [region, setRegion] = useState('');
  const [kind, setKind] = useState<'normal' | 'entry'>('normal');
  const [hours, setHours] = useState('24');
  const [created, setCreated] = useState<VenueRow | null>(null);
  const [importText, setImportText] = useState(IMPORT_EXAMPLE);
  const [importOk, setImportOk] = useState<string | null>(null);
  const [q, setQ] = useState('');
  const [results, setResults] = useState<VenueRow[] | null>(null);
  const [preview, setPreview] = useState<VenueRow | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const searchSeq = useRef(0);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      const body: Record<string, unknown> = { name: name.trim(), region: region.trim(), kind };
      if (kind === 'entry') body.entryTestHours = Number(hours);
      const row = await api<VenueRow>('POST', '/admin/v1/venues', body);
      setCreated(row);
      setName('');
      setQ(row.name);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function bulkImport() {
    setBusy(true);
    setError(null);
    setImportOk(null);
    try {
      const venues = JSON.parse(importText) as unknown;
      if (!Array.isArray(venues)) throw new Error('应为 JSON 数组');
      const r = await api<{ count: number; changed: number; unchanged: number; ids: string[] }>('POST', '/admin/v1/venues/import', { venues });
      setImportOk(`已导入 ${r.count} 个场所（新建或更新 ${r.changed}，未变 ${r.unchanged}）。`);
    } catch (err) {
      setError(err instanceof SyntaxError ? `JSON 语法错误：${err.message}` : errorText(err));
    } finally {
      setBusy(false);
    }
  }

  // Fuzzy search as you type, debounced; only the latest answer is shown.
  useEffect(() => {
    const text = q.trim();
    if (text === '') {
      setResults(null);
      return;
    }
    const seq = ++searchSeq.current;
    const t = setTimeout(() => {
      api<{ venues: VenueRow[] }>('GET', `/admin/v1/venues?${new URLSearchParams({ q: text, limit: '50' })}`)
        .then((a) => {
          if (seq === searchSeq.current) setResults(a.venues);
        })
        .catch((e: unknown) => {
          if (seq === searchSeq.current) setError(errorText(e));
        });
    }, 250);
    return () => clearTimeout(t);
  }, [q, created]);

  async function download(v: VenueRow, ext: 'png' | 'svg') {
    setError(null);
    try {
      const b = await apiBlob(`/admin/v1/venues/${encodeURIComponent(v.id)}/qr.${ext}`);
      triggerDownload(b, `场所码-${v.name}-${v.id}.${ext}`);
    } catch (e) {
      setError(errorText(e));
    }
  }

  const hoursBad = kind === 'entry' && !(Number.isInteger(Number(hours)) && Number(hours) >= 1 && Number(hours) <= MAX_HOURS);

  return (
    <>
      {canWrite ? (
        <Section title="新建场所">
          <form className="form-row" onSubmit={create} aria-label="新建场所">
            <label className="grow">
              场所名称
              <input name="venueName" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
            </label>
            <label>
              区划代码
              <input name="region" value={region} onChange={(e) => setRegion(e.target.value)} required pattern="\d{6}(\d{3}(\d{3})?)?" title="GB/T 2260 代码：6、9 或 12 位数字" inputMode="numeric" />
            </label>
            <label>
              类型
              <select name="kind" value={kind} onChange={(e) => setKind(e.target.value as 'normal' | 'entry')}>
                <option value="normal">{VENUE_KIND_LABEL.normal}</option>
                <option value="entry">{VENUE_KIND_LABEL.entry}</option>
              </select>
            </label>
            {kind === 'entry' ? (
              <label>
                检测时限（小时）
                <input name="entryTestHours" type="number" min={1} max={MAX_HOURS} value={hours} onChange={(e) => setHours(e.target.value)} required />
              </label>
            ) : null}
            <button type="submit" className="btn-primary" disabled={busy || hoursBad}>
              创建
            </button>
          </form>
          {created ? (
            <OkBox>
              已创建场所 {created.name}（编号 {created.id}）。
              <button type="button" className="btn-link" onClick={() => void download(created, 'png')}>
                下载 PNG
              </button>
              <button type="button" className="btn-link" onClick={() => void download(created, 'svg')}>
                下载 SVG
              </button>
            </OkBox>
          ) : null}
        </Section>
      ) : null}

      {canWrite ? (
        <Section title="批量导入">
          <p className="muted">JSON 数组，每项 {'{'}"name", "region", "kind": "normal" | "entry", "entryTestHours"?, "id"?{'}'}。</p>
          <textarea className="code-editor short" value={importText} onChange={(e) => setImportText(e.target.value)} spellCheck={false} rows={6} aria-label="场所 JSON" />
          <div className="form-row">
            <button type="button" className="btn-primary" onClick={() => void bulkImport()} disabled={busy}>
              导入
            </button>
          </div>
          {importOk ? <OkBox>{importOk}</OkBox> : null}
        </Section>
      ) : null}

      <Section title="场所查询">
        <div className="form-row">
          <label className="grow">
            名称关键字（模糊查询）
            <input name="q" value={q} onChange={(e) => setQ(e.target.value)} placeholder="例如：机场" autoComplete="off" />
          </label>
        </div>
        <ErrorBox error={error} />
        {results === null ? null : results.length === 0 ? (
          <Empty>没有匹配的场所</Empty>
        ) : (
          <table data-testid="venue-results">
            <thead>
              <tr>
                <th>名称</th>
                <th>编号</th>
                <th>区划</th>
                <th>类型</th>
                <th>场所码</th>
              </tr>
            </thead>
            <tbody>
              {results.map((v) => (
                <tr key={v.id}>
                  <td>{v.name}</td>
                  <td className="mono">{v.id}</td>
                  <td>{v.region}</td>
                  <td>
                    {VENUE_KIND_LABEL[v.kind] ?? v.kind}
                    {v.kind === 'entry' && v.entryTestHours ? `，${v.entryTestHours} 小时内检测` : ''}
                  </td>
                  <td>
                    <div className="actions">
                      <button type="button" onClick={() => setPreview(v)}>
                        预览
                      </button>
                      <button type="button" onClick={() => void download(v, 'png')}>
                        PNG
                      </button>
                      <button type="button" onClick={() => void download(v, 'svg')}>
                        SVG
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {preview ? <QrPreview venue={preview} onClose={() => setPreview(null)} /> : null}
      </Section>
    </>
  );
}
