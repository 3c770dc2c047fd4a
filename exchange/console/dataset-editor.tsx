import { useMemo, useState } from 'react';
import { api, ApiError } from '../../admin-api/console/src/api.js';
import { ErrorBox, Section } from '../../admin-api/console/src/ui.js';
import {
  codeTables, dataElements, diffDatasets, fieldPathZh, FIELD_TYPES, formatText, registeredValues, tableOf,
  type Change, type DatasetDef, type FieldDef, type FieldType, type RegisteredTable,
} from './dataset-model.js';
import { codeLabel, exchangeErrorText, FIELD_TYPE_LABEL, TARGET_LABEL } from './labels.js';

/**
 * The structured editor of a data standard's next version: one row per
 * field (name, Chinese header, type, required, code table, format, key and
 * not-in-future flags), the code tables and data elements of every standard
 * to reuse, the diff against the version it starts from shown before
 * anything is saved, and the server's validation refusal in Chinese with the
 * field named. Saving posts the whole definition (POST /admin/v1/exchange/datasets);
 * the server checks it again and numbers it.
 */
interface Row extends FieldDef { rid: number; key: boolean; notFuture: boolean }

let nextRid = 1;
function toRows(d: DatasetDef): Row[] {
  return d.fields.map((f) => ({ ...f, aliases: [...(f.aliases ?? [])], rid: nextRid++, key: d.key.includes(f.name), notFuture: d.notFuture.includes(f.name) }));
}

function toDef(base: DatasetDef, name: string, description: string, rows: readonly Row[], id: string, target: string): DatasetDef {
  const fields: FieldDef[] = rows.map((r) => {
    const f: FieldDef = { name: r.name.trim(), zh: r.zh.trim(), type: r.type, required: r.required };
    if ((r.aliases ?? []).length > 0) f.aliases = r.aliases;
    if (r.type === 'enum') f.values = r.values ?? {};
    if (r.type === 'enum' && r.codeTable !== undefined) {
      f.codeTable = r.codeTable;
      f.codeTableVersion = r.codeTableVersion;
    }
    if ((r.type === 'text' || r.type === 'name') && r.max !== undefined) f.max = r.max;
    if (r.type === 'region' && r.regionLengths !== undefined) f.regionLengths = r.regionLengths;
    return f;
  });
  const names = new Set(fields.map((f) => f.name));
  const d: DatasetDef = {
    id: base.version === 0 ? id.trim() : base.id, version: base.version + 1, name: name.trim(), description: description.trim(),
    target: base.version === 0 ? target : base.target, fields,
    key: rows.filter((r) => r.key).map((r) => r.name.trim()),
    notFuture: rows.filter((r) => r.notFuture && (r.type === 'datetime' || r.type === 'date')).map((r) => r.name.trim()),
  };
  // time-order pairs survive as long as both fields do (the editor does not edit them)
  const order = (base.order ?? []).filter(([a, b]) => names.has(a) && names.has(b));
  if (order.length > 0) d.order = order;
  return d;
}

/** Errors that name a place in the definition (`field`): shown with that place in Chinese. */
const FIELD_ERRORS = new Set([
  'EXC_ERR_DATASET_INVALID', 'EXC_ERR_DATASET_ID', 'EXC_ERR_FIELD_TYPE', 'EXC_ERR_CODE_TABLE_UNKNOWN', 'EXC_ERR_CODE_TABLE_EMPTY', 'EXC_ERR_DATASET_TARGET_FIELDS',
]);

/** `base.version === 0`: a brand-new dataset (标识 and 入库去向 are chosen here, POST /datasets/new). */
export function DatasetEditor({ base, all, registered = [], onSaved, onCancel }: {
  base: DatasetDef;
  all: readonly { name: string; fields: readonly FieldDef[] }[];
  /** the registered code tables (latest versions), offered for enum fields */
  registered?: readonly RegisteredTable[];
  onSaved: (d: DatasetDef) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(base.name);
  const [description, setDescription] = useState(base.description);
  const [rows, setRows] = useState<Row[]>(() => toRows(base));
  const [diff, setDiff] = useState<Change[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const isNew = base.version === 0;
  const [id, setId] = useState(base.id);
  const [target, setTarget] = useState(base.target);
  const tables = useMemo(() => codeTables(all), [all]);
  const elements = useMemo(() => dataElements(all), [all]);
  const draft = toDef(base, name, description, rows, id, target);

  function edit(rid: number, patch: Partial<Row>) {
    setDiff(null);
    setRows((rs) => rs.map((r) => (r.rid === rid ? { ...r, ...patch } : r)));
  }
  function move(rid: number, by: -1 | 1) {
    setDiff(null);
    setRows((rs) => {
      const i = rs.findIndex((r) => r.rid === rid);
      const j = i + by;
      if (i < 0 || j < 0 || j >= rs.length) return rs;
      const out = [...rs];
      [out[i], out[j]] = [out[j]!, out[i]!];
      return out;
    });
  }
  function add(f?: FieldDef) {
    setDiff(null);
    setRows((rs) => [...rs, { name: f?.name ?? '', zh: f?.zh ?? '', aliases: [...(f?.aliases ?? [])], type: f?.type ?? 'text', required: f?.required ?? false, values: f?.values, max: f?.max, regionLengths: f?.regionLengths, rid: nextRid++, key: false, notFuture: false }]);
  }
  function setType(r: Row, type: FieldType) {
    edit(r.rid, { type, values: type === 'enum' ? r.values ?? tables[0]?.values : undefined, ...(type === 'enum' ? {} : { codeTable: undefined, codeTableVersion: undefined }) });
  }
  function pickTable(r: Row, value: string) {
    if (value.startsWith('ct:')) {
      const t = registered.find((x) => x.id === value.slice(3));
      if (t !== undefined) edit(r.rid, { codeTable: t.id, codeTableVersion: t.version, values: registeredValues(t) });
      return;
    }
    edit(r.rid, { codeTable: undefined, codeTableVersion: undefined, values: tables.find((x) => x.id === value)?.values ?? {} });
  }

  async function save() {
    setBusy(true);
    setError(null);
    try {
      const saved = isNew
        ? (await api<{ definition: DatasetDef }>('POST', '/admin/v1/exchange/datasets/new', draft)).definition
        : await api<DatasetDef>('POST', '/admin/v1/exchange/datasets', draft);
      onSaved(saved);
    } catch (e) {
      setDiff(null);
      if (e instanceof ApiError && FIELD_ERRORS.has(e.code)) setError(`${codeLabel(e.code)}：${fieldPathZh(e.field, draft, e.code)}不符合要求，请修改后重新预览。`);
      else setError(exchangeErrorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title={isNew ? '新建数据标准（将发布为第 1 版）' : `编辑数据标准：${base.name}（将发布为第 ${base.version + 1} 版）`} actions={<button type="button" className="btn-link" onClick={onCancel}>取消</button>}>
      <ErrorBox error={error} />
      <form aria-label={isNew ? '新建数据标准' : '数据标准新版本'} onSubmit={(e) => { e.preventDefault(); setDiff(diffDatasets(isNew ? undefined : base, draft)); }}>
        {isNew && (
          <div className="form-row">
            <label>标识（小写字母开头，字母、数字、连字符） <input name="dataset-id" className="mono" value={id} maxLength={40} onChange={(e) => { setDiff(null); setId(e.target.value); }} /></label>
            <label>
              入库去向{' '}
              <select name="dataset-target" value={target} onChange={(e) => { setDiff(null); setTarget(e.target.value); }}>
                {Object.entries(TARGET_LABEL).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
              </select>
            </label>
          </div>
        )}
        <div className="form-row">
          <label className="grow">名称 <input name="dataset-name" value={name} maxLength={64} onChange={(e) => { setDiff(null); setName(e.target.value); }} /></label>
          <label className="grow">说明 <input name="dataset-description" value={description} maxLength={500} onChange={(e) => { setDiff(null); setDescription(e.target.value); }} /></label>
        </div>
        <table className="table" data-testid="dataset-fields">
          <thead><tr><th>#</th><th>字段名</th><th>中文表头</th><th>其他表头（顿号分隔）</th><th>类型</th><th>必填</th><th>代码表</th><th>格式</th><th>判重</th><th>不晚于当前</th><th /></tr></thead>
          <tbody>
            {rows.map((r, i) => {
              const t = tableOf(r, tables);
              return (
                <tr key={r.rid} data-field-row={i}>
                  <td>{i + 1}</td>
                  <td><input name="field-name" className="mono" size={12} value={r.name} onChange={(e) => edit(r.rid, { name: e.target.value })} aria-label={`第 ${i + 1} 个字段的字段名`} /></td>
                  <td><input name="field-zh" size={8} value={r.zh} onChange={(e) => edit(r.rid, { zh: e.target.value })} aria-label={`第 ${i + 1} 个字段的中文表头`} /></td>
                  <td><input name="field-aliases" size={12} value={(r.aliases ?? []).join('、')} onChange={(e) => edit(r.rid, { aliases: e.target.value.split(/[、,，]/).map((s) => s.trim()).filter((s) => s !== '') })} /></td>
                  <td>
                    <select name="field-type" value={r.type} onChange={(e) => setType(r, e.target.value as FieldType)}>
                      {FIELD_TYPES.map((ft) => <option key={ft} value={ft}>{FIELD_TYPE_LABEL[ft] ?? ft}</option>)}
                    </select>
                  </td>
                  <td><input type="checkbox" name="field-required" checked={r.required} onChange={(e) => edit(r.rid, { required: e.target.checked })} /></td>
                  <td>
                    {r.type === 'enum' ? (
                      <select name="field-table" value={r.codeTable !== undefined ? `ct:${r.codeTable}` : t?.id ?? ''} onChange={(e) => pickTable(r, e.target.value)}>
                        <option value="">（未选）</option>
                        {registered.length > 0 && (
                          <optgroup label="已登记的码表">
                            {registered.map((x) => <option key={x.id} value={`ct:${x.id}`}>{`${x.name}（第 ${x.version} 版）`}</option>)}
                          </optgroup>
                        )}
                        <optgroup label="沿用其他标准的代码表">
                          {tables.map((x) => <option key={x.id} value={x.id}>{x.label}</option>)}
                        </optgroup>
                      </select>
                    ) : r.type === 'idType' ? '证件类型代码表' : '—'}
                  </td>
                  <td>
                    {(r.type === 'text' || r.type === 'name') && (
                      <label>最长 <input name="field-max" type="number" min={1} max={10000} style={{ width: '5em' }} value={r.max ?? 64} onChange={(e) => edit(r.rid, { max: Number(e.target.value) })} /> 字</label>
                    )}
                    {r.type === 'region' && (
                      <select name="field-region-lengths" value={(r.regionLengths ?? [6]).join(',')} onChange={(e) => edit(r.rid, { regionLengths: e.target.value.split(',').map(Number) })}>
                        <option value="6">6 位（区县）</option>
                        <option value="4,6">4 或 6 位（地市或区县）</option>
                      </select>
                    )}
                    {r.type !== 'text' && r.type !== 'name' && r.type !== 'region' && <span className="muted">{formatText(r)}</span>}
                  </td>
                  <td><input type="checkbox" name="field-key" checked={r.key} onChange={(e) => edit(r.rid, { key: e.target.checked })} /></td>
                  <td>{(r.type === 'datetime' || r.type === 'date') ? <input type="checkbox" name="field-not-future" checked={r.notFuture} onChange={(e) => edit(r.rid, { notFuture: e.target.checked })} /> : '—'}</td>
                  <td>
                    <button type="button" className="btn-link" onClick={() => move(r.rid, -1)} disabled={i === 0}>上移</button>
                    <button type="button" className="btn-link" onClick={() => move(r.rid, 1)} disabled={i === rows.length - 1}>下移</button>
                    <button type="button" className="btn-link" onClick={() => { setDiff(null); setRows((rs) => rs.filter((x) => x.rid !== r.rid)); }}>删除</button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <div className="form-row">
          <button type="button" className="btn" onClick={() => add()}>添加字段</button>
          <button type="submit" className="btn-primary">预览变更</button>
        </div>
      </form>
      {diff !== null && (
        <div data-testid="dataset-diff">
          <h4>{isNew ? '新建内容' : `与第 ${base.version} 版相比`}</h4>
          {diff.length === 0 ? <p className="muted">没有变更，无需发布新版本。</p> : (
            <table className="table">
              <thead><tr><th>变更</th><th>原来</th><th>改为</th></tr></thead>
              <tbody>{diff.map((c, i) => <tr key={i}><td>{c.what}</td><td className={c.code ? 'mono' : undefined}>{c.from}</td><td className={c.code ? 'mono' : undefined}>{c.to}</td></tr>)}</tbody>
            </table>
          )}
          <button type="button" className="btn-primary" disabled={busy || diff.length === 0} onClick={() => void save()}>{isNew ? '确认新建数据标准' : `确认发布第 ${base.version + 1} 版`}</button>
        </div>
      )}
      <details>
        <summary>代码表（{tables.length} 个）</summary>
        <table className="table" data-testid="code-tables">
          <thead><tr><th>代码表</th><th>可填写的值 → 标准值</th></tr></thead>
          <tbody>{tables.map((t) => <tr key={t.id}><td>{t.label}</td><td>{Object.entries(t.values).map(([k, v]) => `${k}→${v}`).join('、')}</td></tr>)}</tbody>
        </table>
      </details>
      <details>
        <summary>数据元（{elements.length} 个，可加入本标准）</summary>
        <table className="table" data-testid="data-elements">
          <thead><tr><th>字段名</th><th>中文表头</th><th>类型</th><th>格式</th><th>所在标准</th><th /></tr></thead>
          <tbody>
            {elements.map((el) => (
              <tr key={`${el.name}|${el.type}`} data-element={el.name}>
                <td className="mono">{el.name}</td><td>{el.zh}</td><td>{FIELD_TYPE_LABEL[el.type] ?? el.type}</td><td>{formatText(el)}</td><td>{el.usedIn.join('、')}</td>
                <td><button type="button" className="btn-link" disabled={rows.some((r) => r.name === el.name)} onClick={() => add(el)}>加入</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </Section>
  );
}
