import { useState } from 'react';
import { api, ApiError } from '../../admin-api/console/src/api.js';
import { fmtTime } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { entriesText, parseEntries, type RegisteredTable } from './dataset-model.js';
import { codeLabel, exchangeErrorText } from './labels.js';

/**
 * 码表 (code tables) of the data standards: each table's latest version
 * (code → Chinese name, accepted aliases), and for officers with
 * exchange.write a form to register a new table or publish the next version
 * of one. Entries are edited as lines `代码,中文名称,别名|别名`; the server
 * checks them (EXC_ERR_CODE_TABLE_*) and its refusal is shown in Chinese with
 * the line named.
 */
export interface ListedTable extends RegisteredTable { createdBy: string; createdAt: number }

function placeZh(field: string | undefined): string {
  if (field === undefined) return '';
  const m = /^entries\[(\d+)\](?:\.(\w+))?$/.exec(field);
  if (m !== null) return `（第 ${Number(m[1]) + 1} 行${m[2] === undefined ? '' : { code: '的代码', name: '的中文名称', aliases: '的别名' }[m[2]] ?? ''}）`;
  return { id: '（标识）', name: '（名称）', entries: '（代码项）', description: '（说明）' }[field] ?? '';
}

export function CodeTablesSection({ tables, canWrite, onChanged }: { tables: readonly ListedTable[]; canWrite: boolean; onChanged: () => void }) {
  const latest = tables.filter((t, i) => tables.findIndex((x) => x.id === t.id) === i);
  const [mode, setMode] = useState<'new' | string | null>(null);
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [lines, setLines] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);

  function startNew() {
    setMode('new');
    setId('');
    setName('');
    setLines('');
    setError(null);
  }
  function startVersion(t: ListedTable) {
    setMode(t.id);
    setId(t.id);
    setName(t.name);
    setLines(entriesText(t));
    setError(null);
  }

  async function save(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    setOk(null);
    const body = { name: name.trim(), entries: parseEntries(lines) };
    try {
      const t = mode === 'new'
        ? await api<RegisteredTable>('POST', '/admin/v1/exchange/code-tables', { id: id.trim(), ...body })
        : await api<RegisteredTable>('POST', `/admin/v1/exchange/code-tables/${encodeURIComponent(mode ?? '')}/versions`, body);
      setOk(`已发布码表「${t.name}」第 ${t.version} 版，共 ${t.entries.length} 项`);
      setMode(null);
      onChanged();
    } catch (err) {
      setError(err instanceof ApiError ? `${codeLabel(err.code)}${placeZh(err.field)}` : exchangeErrorText(err));
    }
  }

  return (
    <Section title="码表" actions={canWrite && mode === null ? <button type="button" className="btn" onClick={startNew}>新建码表</button> : undefined}>
      {ok && <OkBox>{ok}</OkBox>}
      {mode !== null && (
        <form aria-label="码表" onSubmit={(e) => void save(e)} data-testid="code-table-form">
          <ErrorBox error={error} />
          <div className="form-row">
            {mode === 'new'
              ? <label>标识（小写字母开头，字母、数字、连字符） <input name="table-id" className="mono" value={id} maxLength={40} onChange={(e) => setId(e.target.value)} /></label>
              : <span>发布码表 <span className="mono">{mode}</span> 的新版本</span>}
            <label className="grow">中文名称 <input name="table-name" value={name} maxLength={32} onChange={(e) => setName(e.target.value)} /></label>
          </div>
          <label>
            代码项（每行一项：代码,中文名称,别名|别名）
            <textarea name="table-entries" rows={6} style={{ width: '100%' }} value={lines} onChange={(e) => setLines(e.target.value)} />
          </label>
          <div className="form-row">
            <button type="submit" className="btn-primary">{mode === 'new' ? '保存码表' : '发布新版本'}</button>
            <button type="button" className="btn-link" onClick={() => setMode(null)}>取消</button>
          </div>
        </form>
      )}
      {latest.length === 0 ? <Empty>没有码表</Empty> : (
        <table className="table" data-testid="registered-code-tables">
          <thead><tr><th>码表</th><th>标识</th><th>版本</th><th>代码 → 中文名称（别名）</th><th>发布</th><th /></tr></thead>
          <tbody>
            {latest.map((t) => (
              <tr key={t.id} data-table={t.id}>
                <td>{t.name}</td>
                <td className="mono">{t.id}</td>
                <td>第 {t.version} 版</td>
                <td><span className="mono">{t.entries.map((e) => `${e.code}→${e.name}${(e.aliases ?? []).length > 0 ? `（${(e.aliases ?? []).join('、')}）` : ''}`).join('；')}</span></td>
                <td>{t.createdBy === 'builtin' ? '系统内置' : `${t.createdBy} ${fmtTime(t.createdAt)}`}</td>
                <td>{canWrite && mode === null && <button type="button" className="btn-link" onClick={() => startVersion(t)}>新增版本</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
