import { useState } from 'react';
import { apiBlobPost } from './api.js';
import { errorText, triggerDownload } from './format.js';

/**
 * 导出 Excel: any table of the console as an .xlsx file. The rows are what
 * the screen shows (already masked by the server for this role); the server
 * writes the workbook (exceljs) and records the export in the audit log
 * (POST /admin/v1/export/xlsx, admin-api/routes-export.ts).
 */
export type Cell = string | number | null;

export function ExportButton(props: { title: string; columns: readonly string[]; rows: () => Cell[][] | Promise<Cell[][]>; label?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function run() {
    setBusy(true);
    setError(null);
    try {
      const rows = await props.rows();
      const blob = await apiBlobPost('/admin/v1/export/xlsx', { title: props.title, columns: props.columns, rows });
      const day = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
      triggerDownload(blob, `${props.title}-${day}.xlsx`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <span className="export">
      <button type="button" onClick={() => void run()} disabled={busy} data-testid="export-xlsx">
        {busy ? '导出中…' : props.label ?? '导出 Excel'}
      </button>
      {error ? <span className="hint-error">{error}</span> : null}
    </span>
  );
}
