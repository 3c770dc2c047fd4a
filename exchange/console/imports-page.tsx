import { useCallback, useEffect, useState } from 'react';
import { api, apiBlob, loadSession } from '../../admin-api/console/src/api.js';
import { fmtTime, triggerDownload } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { codeLabel, exchangeErrorText, pct, STATUS_LABEL } from './labels.js';

/**
 * 数据导入: upload a CSV / XLSX file of a data standard (progress while it
 * uploads and while the server checks it), the batch list, a batch's row
 * errors (paged) and the download of its rejected rows.
 */
interface Batch {
  id: string; dataset: string; datasetVersion: number; department: string; fileName: string; format: string; encoding: string | null;
  sizeBytes: number; status: string; rows: { total: number; accepted: number; rejected: number }; error: { code: string; message: string } | null;
  createdBy: string; createdAt: number; finishedAt: number | null;
}
interface BatchDetail extends Batch {
  progress: number;
  errors: { row: number; field: string; code: string; message: string }[];
  errorsTotal: number;
  errorsOffset: number;
}
interface DatasetBrief { id: string; version: number; name: string; fields: { name: string; zh: string }[] }

const PAGE = 50;
const ENCODING_LABEL: Record<string, string> = { utf8: 'UTF-8', gb18030: 'GB18030', utf16le: 'UTF-16', utf16be: 'UTF-16' };

/** XMLHttpRequest, not fetch: only it reports upload progress. */
function uploadFile(form: FormData, onProgress: (share: number) => void): Promise<{ id: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/admin/v1/imports');
    const s = loadSession();
    if (s) xhr.setRequestHeader('authorization', `Bearer ${s.token}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: { id?: string; error?: string; message?: string } = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // not JSON
      }
      if (xhr.status === 202 && typeof body.id === 'string') resolve({ id: body.id });
      else reject(new Error(body.error !== undefined ? codeLabel(body.error) : `上传失败（HTTP ${xhr.status}）`));
    };
    xhr.onerror = () => reject(new Error('无法连接服务器，请检查网络后重试'));
    xhr.send(form);
  });
}

function Bar({ share, label }: { share: number; label: string }) {
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(share * 100)} aria-label={label}>
      <div style={{ width: `${Math.round(share * 100)}%`, background: '#2563eb', height: 8, borderRadius: 4 }} />
      <span className="muted">{label} {Math.round(share * 100)}%</span>
    </div>
  );
}

export function ImportsPage({ canWrite }: { canWrite: boolean }) {
  const [datasets, setDatasets] = useState<DatasetBrief[]>([]);
  const [dataset, setDataset] = useState('nat-result');
  const [department, setDepartment] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [uploading, setUploading] = useState<number | null>(null);
  const [batches, setBatches] = useState<Batch[]>([]);
  const [detail, setDetail] = useState<BatchDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setBatches((await api<{ batches: Batch[] }>('GET', '/admin/v1/imports?limit=50')).batches);
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }, []);
  const open = useCallback(async (id: string, offset = 0) => {
    try {
      setDetail(await api<BatchDetail>('GET', `/admin/v1/imports/${id}?errorsOffset=${offset}&errorsLimit=${PAGE}`));
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }, []);

  useEffect(() => {
    void refresh();
    api<{ datasets: DatasetBrief[] }>('GET', '/admin/v1/exchange/datasets').then(
      (r) => setDatasets(r.datasets.filter((d, i, all) => all.findIndex((x) => x.id === d.id) === i)),
      (e) => setError(exchangeErrorText(e)),
    );
  }, [refresh]);

  // Poll the open batch while the server works on it.
  useEffect(() => {
    if (detail === null || detail.status === 'done' || detail.status === 'failed') return;
    const t = setTimeout(() => {
      void open(detail.id, detail.errorsOffset);
      void refresh();
    }, 1000);
    return () => clearTimeout(t);
  }, [detail, open, refresh]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (file === null) return;
    setError(null);
    setOk(null);
    const form = new FormData();
    form.append('dataset', dataset);
    form.append('department', department);
    form.append('file', file, file.name);
    setUploading(0);
    try {
      const { id } = await uploadFile(form, setUploading);
      setOk('文件已上传，正在后台核查入库');
      await refresh();
      await open(id);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setUploading(null);
    }
  }

  async function downloadRejects(b: Batch) {
    try {
      triggerDownload(await apiBlob(`/admin/v1/imports/${b.id}/rejects.xlsx`), `拒收记录-${b.id}.xlsx`);
    } catch (err) {
      setError(exchangeErrorText(err));
    }
  }

  const nameOf = (id: string): string => datasets.find((d) => d.id === id)?.name ?? id;
  const fieldZh = (ds: string, f: string): string => datasets.find((d) => d.id === ds)?.fields.find((x) => x.name === f)?.zh ?? (f === '' ? '整行' : f);

  return (
    <>
      <ErrorBox error={error} />
      {ok && <OkBox>{ok}</OkBox>}
      {canWrite && (
        <Section title="上传数据文件">
          <form className="form-row" onSubmit={(e) => void submit(e)} aria-label="上传数据文件">
            <label>
              数据标准{' '}
              <select value={dataset} onChange={(e) => setDataset(e.target.value)} name="dataset">
                {datasets.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
              </select>
            </label>
            <label className="grow">
              报送单位 <input value={department} onChange={(e) => setDepartment(e.target.value)} maxLength={64} required name="department" placeholder="如：成都市疾控中心" />
            </label>
            <label>
              文件（CSV / XLSX，UTF-8 或 GB18030）{' '}
              <input type="file" accept=".csv,.txt,.xlsx" onChange={(e) => setFile(e.target.files?.[0] ?? null)} name="file" />
            </label>
            <button type="submit" className="btn-primary" disabled={file === null || department.trim() === '' || uploading !== null}>上传</button>
          </form>
          {uploading !== null && <Bar share={uploading} label="上传进度" />}
        </Section>
      )}
      {detail && (
        <Section title={`批次 ${detail.id}`} actions={<button type="button" className="btn-link" onClick={() => setDetail(null)}>关闭</button>}>
          <p>
            {nameOf(detail.dataset)}（第 {detail.datasetVersion} 版）· {detail.department} · {detail.fileName}
            {detail.encoding ? ` · ${ENCODING_LABEL[detail.encoding] ?? detail.encoding}` : ''} · <strong data-status={detail.status}>{STATUS_LABEL[detail.status] ?? detail.status}</strong>
          </p>
          {(detail.status === 'queued' || detail.status === 'running') && <Bar share={detail.progress} label="核查进度" />}
          {detail.status === 'done' && <Bar share={1} label="核查完成" />}
          <p>共 {detail.rows.total} 行，受理 {detail.rows.accepted} 行，拒收 {detail.rows.rejected} 行{detail.rows.total > 0 ? `（拒收率 ${pct(detail.rows.rejected / detail.rows.total)}）` : ''}。</p>
          {detail.error && <div className="msg msg-error">{detail.error.message}</div>}
          {canWrite && detail.rows.rejected > 0 && (detail.status === 'done' || detail.status === 'failed') && (
            <button type="button" className="btn" onClick={() => void downloadRejects(detail)}>下载拒收记录（XLSX）</button>
          )}
          {detail.errors.length === 0 ? <Empty>没有错误</Empty> : (
            <>
              <table className="table" data-testid="batch-errors">
                <thead><tr><th>行号</th><th>字段</th><th>原因</th></tr></thead>
                <tbody>
                  {detail.errors.map((e, i) => (
                    <tr key={`${e.row}-${e.field}-${i}`}><td>{e.row === 0 ? '整个文件' : e.row}</td><td>{fieldZh(detail.dataset, e.field)}</td><td>{e.message}</td></tr>
                  ))}
                </tbody>
              </table>
              <div className="form-row">
                <button type="button" className="btn" disabled={detail.errorsOffset === 0} onClick={() => void open(detail.id, Math.max(0, detail.errorsOffset - PAGE))}>上一页</button>
                <span className="muted">第 {detail.errorsOffset + 1}–{detail.errorsOffset + detail.errors.length} 条，共 {detail.errorsTotal} 条</span>
                <button type="button" className="btn" disabled={detail.errorsOffset + PAGE >= detail.errorsTotal} onClick={() => void open(detail.id, detail.errorsOffset + PAGE)}>下一页</button>
              </div>
            </>
          )}
        </Section>
      )}
      <Section title="导入批次" actions={<button type="button" className="btn-link" onClick={() => void refresh()}>刷新</button>}>
        {batches.length === 0 ? <Empty>还没有导入批次</Empty> : (
          <table className="table">
            <thead><tr><th>上传时间</th><th>数据标准</th><th>报送单位</th><th>文件</th><th>状态</th><th>总行数</th><th>受理</th><th>拒收</th><th /></tr></thead>
            <tbody>
              {batches.map((b) => (
                <tr key={b.id} data-batch={b.id}>
                  <td>{fmtTime(b.createdAt)}</td>
                  <td>{nameOf(b.dataset)}</td>
                  <td>{b.department}</td>
                  <td>{b.fileName}</td>
                  <td>{STATUS_LABEL[b.status] ?? b.status}{b.error ? `：${codeLabel(b.error.code)}` : ''}</td>
                  <td>{b.rows.total}</td>
                  <td>{b.rows.accepted}</td>
                  <td>{b.rows.rejected}</td>
                  <td><button type="button" className="btn-link" onClick={() => void open(b.id)}>详情</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
