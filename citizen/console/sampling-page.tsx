import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { citErrorText, fmtMs } from './common.js';

/**
 * 采样登记: a sampling site scans (or types) a traveller's CS1 sampling QR —
 * the server verifies the signature and expiry and marks it sampled once —
 * and the registrations with their state (the result comes from the
 * nucleic-acid imports). No identities: registration number, times, site.
 */
interface Reg { id: number; registeredAt: number; expiresAt: number; sampledAt: number | null; site: string | null; status: string; statusZh: string }

export function SamplingPage({ canWrite }: { canWrite: boolean }) {
  const [qr, setQr] = useState('');
  const [site, setSite] = useState('');
  const [filter, setFilter] = useState('');
  const [rows, setRows] = useState<Reg[] | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    api<{ registrations: Reg[] }>('GET', `/admin/v1/sampling${filter ? `?status=${filter}` : ''}`)
      .then((r) => setRows(r.registrations))
      .catch((e: unknown) => setError(citErrorText(e)));
  }, [filter, tick]);

  async function scan(e: FormEvent) {
    e.preventDefault();
    setOk(null);
    setError(null);
    try {
      const r = await api<{ id: number; nameMasked: string; sampledAt: number; statusZh: string }>('POST', '/admin/v1/sampling/scan', { qr: qr.trim(), site: site.trim() });
      setOk(`登记 ${r.id}（${r.nameMasked}）${r.statusZh}，采样时间 ${fmtMs(r.sampledAt * 1000)}`);
      setQr('');
      setTick((t) => t + 1);
    } catch (err) {
      setError(citErrorText(err));
    }
  }

  return (
    <>
      {canWrite ? (
        <Section title="采样点扫码">
          <form className="form-row" onSubmit={scan} aria-label="采样点扫码">
            <label className="grow">采样码（扫码枪输入或粘贴 CS1: 开头的内容）<input value={qr} onChange={(e) => setQr(e.target.value)} maxLength={400} required autoFocus /></label>
            <label>采样点<input value={site} onChange={(e) => setSite(e.target.value)} maxLength={100} required placeholder="例如：锦江区 3 号采样点" /></label>
            <button type="submit" className="btn-primary">确认采样</button>
          </form>
          {ok ? <OkBox>{ok}</OkBox> : null}
        </Section>
      ) : null}
      <Section title="入川即检登记">
        <div className="form-row">
          <label>状态
            <select value={filter} onChange={(e) => setFilter(e.target.value)}>
              <option value="">全部</option>
              <option value="registered">待采样</option>
              <option value="sampled">已采样</option>
            </select>
          </label>
        </div>
        <ErrorBox error={error} />
        {rows === null ? null : rows.length === 0 ? <Empty>暂无登记</Empty> : (
          <table>
            <thead><tr><th>登记号</th><th>登记时间</th><th>采样码有效至</th><th>采样时间</th><th>采样点</th><th>状态</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <td className="num">{r.id}</td><td>{fmtMs(r.registeredAt * 1000)}</td><td>{fmtMs(r.expiresAt * 1000)}</td>
                  <td>{r.sampledAt === null ? '—' : fmtMs(r.sampledAt * 1000)}</td><td>{r.site ?? '—'}</td><td>{r.statusZh}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
