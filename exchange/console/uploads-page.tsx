import { useCallback, useEffect, useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { fmtTime } from '../../admin-api/console/src/format.js';
import { Empty, ErrorBox, Section } from '../../admin-api/console/src/ui.js';
import { codeLabel, exchangeErrorText, pct, STATUS_LABEL } from './labels.js';

/**
 * 数据上报: what each department uploaded in the last days — batches,
 * status, rows accepted and rejected, failed files — so a department (and
 * the province) sees its own reporting next to the returns it gets back.
 * A city officer sees the uploads made inside its region.
 */
interface Upload {
  id: string; dataset: string; fileName: string; status: string; rows: { total: number; accepted: number; rejected: number };
  errorCode: string | null; origin: string; createdAt: number;
}
interface Department {
  department: string; batches: number; rows: number; accepted: number; rejected: number; failed: number; pending: number; lastAt: number;
  byRule: Record<string, number>; recent: Upload[];
}

export function UploadsPage() {
  const [departments, setDepartments] = useState<Department[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  const [days, setDays] = useState('7');
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [u, d] = await Promise.all([
        api<{ departments: Department[] }>('GET', `/admin/v1/exchange/uploads?days=${days}`),
        api<{ datasets: { id: string; name: string }[] }>('GET', '/admin/v1/exchange/datasets'),
      ]);
      setDepartments(u.departments);
      setNames(Object.fromEntries(d.datasets.map((x) => [x.id, x.name])));
    } catch (e) {
      setError(exchangeErrorText(e));
    }
  }, [days]);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  const shown = departments.find((d) => d.department === open) ?? null;
  return (
    <>
      <ErrorBox error={error} />
      <Section
        title="各单位数据上报"
        actions={(
          <label>
            时间范围{' '}
            <select value={days} onChange={(e) => setDays(e.target.value)}>
              <option value="1">今天</option><option value="7">近 7 天</option><option value="30">近 30 天</option>
            </select>
          </label>
        )}
      >
        {departments.length === 0 ? <Empty>这段时间没有上报</Empty> : (
          <table className="table">
            <thead><tr><th>报送单位</th><th>批次</th><th>总行数</th><th>受理</th><th>拒收</th><th>拒收率</th><th>主要拒收原因</th><th>失败文件</th><th>处理中</th><th>最近上报</th><th /></tr></thead>
            <tbody>
              {departments.map((d) => (
                <tr key={d.department}>
                  <td>{d.department}</td><td>{d.batches}</td><td>{d.rows}</td><td>{d.accepted}</td><td>{d.rejected}</td>
                  <td>{d.rows === 0 ? '—' : pct(d.rejected / d.rows)}</td>
                  <td>{Object.keys(d.byRule).length === 0 ? '—' : Object.entries(d.byRule).slice(0, 3).map(([c, n]) => `${codeLabel(c)} ${n} 行`).join('；')}</td>
                  <td>{d.failed > 0 ? <span className="badge badge-red">{d.failed}</span> : 0}</td><td>{d.pending}</td>
                  <td>{fmtTime(d.lastAt)}</td>
                  <td><button type="button" className="btn-link" onClick={() => setOpen(d.department)}>明细</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {shown && (
        <Section title={`${shown.department}：最近的上报`} actions={<button type="button" className="btn-link" onClick={() => setOpen(null)}>关闭</button>}>
          <table className="table">
            <thead><tr><th>上报时间</th><th>数据标准</th><th>文件</th><th>来源</th><th>状态</th><th>总行数</th><th>受理</th><th>拒收</th></tr></thead>
            <tbody>
              {shown.recent.map((b) => (
                <tr key={b.id}>
                  <td>{fmtTime(b.createdAt)}</td><td>{names[b.dataset] ?? b.dataset}</td><td>{b.fileName}</td>
                  <td>{b.origin === 'upload' ? '页面上传' : '加密数据包'}</td>
                  <td>{STATUS_LABEL[b.status] ?? b.status}{b.errorCode ? `：${codeLabel(b.errorCode)}` : ''}</td>
                  <td>{b.rows.total}</td><td>{b.rows.accepted}</td><td>{b.rows.rejected}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted">拒收明细与拒收记录下载见“数据导入”页。</p>
        </Section>
      )}
    </>
  );
}
