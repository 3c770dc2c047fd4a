import { useState, type FormEvent } from 'react';
import { api, apiBlob, ApiError } from '../../admin-api/console/src/api.js';
import { Empty, ErrorBox, OkBox, Section, useLoad } from '../../admin-api/console/src/ui.js';
import { chinaTime } from '../../core/china-time.js';

/**
 * 日志审计 console pages: 日志检索 (search + saved queries), 设备与采集器
 * (assets, silent devices, collectors, intake health, events per day as a
 * chart), 解析与规则目录 (what is shipped, counted from the data files).
 * Everything in Chinese, times in China time.
 */

const LOG_ERR_ZH: Record<string, string> = {
  LOG_ERR_QUERY: '查询条件格式不正确', LOG_ERR_RANGE: '查询时间范围无效或过长', LOG_ERR_NOT_FOUND: '记录不存在',
  LOG_ERR_CONFLICT: '同名记录已存在', LOG_ERR_STORE_TAMPERED: '日志存储与清单不一致，疑似被篡改', ADM_ERR_FORBIDDEN: '当前角色无权执行此操作',
  ADM_ERR_VALIDATION: '输入内容不符合要求', NETWORK: '网络连接失败',
};

function errText(e: unknown): string {
  if (e instanceof ApiError) return `${LOG_ERR_ZH[e.code] ?? '操作失败'}${e.field ? `（字段 ${e.field}）` : ''}`;
  return '操作失败';
}

function cst(iso: unknown): string {
  const t = typeof iso === 'string' ? Date.parse(iso) : typeof iso === 'number' ? iso : NaN;
  return Number.isFinite(t) ? chinaTime(t, true) : '—';
}

const ACTION_ZH: Record<string, string> = {
  'ssh-login-failed': 'SSH 登录失败', 'ssh-login': 'SSH 登录成功', 'ssh-invalid-user': 'SSH 无效用户', 'admin-login-failed': '管理员登录失败', 'admin-login': '管理员登录',
  'logon-failed': 'Windows 登录失败', logon: 'Windows 登录', 'firewall-deny': '防火墙拒绝', 'firewall-allow': '防火墙放行', 'firewall-policy': '防火墙策略命中',
  'ids-alert': '入侵告警', 'waf-alert': 'WAF 告警', 'security-alert': '安全设备告警', 'config-command': '配置命令', 'config-change': '配置变更', 'interface-state': '接口状态',
  'db-login-failed': '数据库登录失败', 'db-login': '数据库登录', 'db-statement': '数据库语句', 'http-request': 'HTTP 请求', 'http-error': 'HTTP 错误', 'sudo-command': 'sudo 命令',
  'audit-log-cleared': '审计日志被清除', 'user-created': '新建账号', 'user-deleted': '删除账号', 'snmp-trap': 'SNMP Trap', 'snmp-auth-failure': 'SNMP 认证失败',
};
const LEVEL_ZH: Record<string, string> = { informational: '提示', low: '低', medium: '中', high: '高', critical: '严重' };
const COUNTER_ZH: Record<string, string> = {
  received: '接收', stored: '入库', spooled: '落盘缓冲', shed: '缓冲满丢弃', rate_limited: '超速丢弃', framing_error: '分帧错误/认证失败', connections: 'TCP/TLS 连接',
  alerts: '告警', alert_errors: '告警写入失败', invalid_utf8: '非 UTF-8（按 GB18030 解码）', forged_timestamp: '时间戳异常', unparsed: '非 Syslog 格式', undecoded: '未识别设备', oversized: '超长截断',
};

type Ev = Record<string, unknown>;

export function SearchPage({ canWrite }: { canWrite: boolean }) {
  const [q, setQ] = useState('');
  const [hours, setHours] = useState('24');
  const [rows, setRows] = useState<Ev[] | null>(null);
  const [info, setInfo] = useState('');
  const [saved, setSaved] = useState<{ id: number; name: string; query: string; rangeHours: number }[]>([]);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);

  const loadSaved = useLoad(async () => setSaved((await api<{ queries: typeof saved }>('GET', '/admin/v1/logaudit/saved-queries')).queries), setError, { toText: errText });

  async function run(e?: FormEvent, text = q, h = hours) {
    e?.preventDefault();
    setError(null);
    const to = new Date();
    const from = new Date(to.getTime() - Number(h) * 3_600_000);
    try {
      const r = await api<{ events: Ev[]; scanned: number; truncated: boolean }>('GET', `/admin/v1/logaudit/search?q=${encodeURIComponent(text)}&from=${from.toISOString()}&to=${to.toISOString()}&limit=200`);
      setRows(r.events);
      setInfo(`扫描 ${r.scanned} 条，命中 ${r.events.length} 条${r.truncated ? '（仅显示最新 200 条）' : ''}`);
    } catch (err) {
      setError(errText(err));
    }
  }

  async function save() {
    setError(null);
    try {
      await api('POST', '/admin/v1/logaudit/saved-queries', { name, query: q, rangeHours: Number(hours) });
      setOk(`已保存查询「${name}」`);
      setName('');
      await loadSaved();
    } catch (err) {
      setError(errText(err));
    }
  }

  return (
    <>
      <Section title="日志检索">
        <form onSubmit={(e) => void run(e)} className="row">
          <input value={q} onChange={(e) => setQ(e.target.value)} placeholder='例：source.ip:203.0.113.9 event.action:ssh-login-failed "登录失败" -user.name:root' style={{ flex: 1 }} data-testid="la-q" />
          <select value={hours} onChange={(e) => setHours(e.target.value)}>
            <option value="1">最近 1 小时</option><option value="24">最近 24 小时</option><option value="168">最近 7 天</option><option value="720">最近 30 天</option><option value="4416">最近 184 天</option>
          </select>
          <button type="submit">检索</button>
        </form>
        <p className="muted">按字段检索写作 字段:值（支持 * 通配、&gt;、&lt; 比较），引号内为全文检索，前加 - 表示排除。</p>
        {canWrite ? (
          <div className="row">
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="查询名称" />
            <button type="button" disabled={!name || !q} onClick={() => void save()}>保存为常用查询</button>
          </div>
        ) : null}
        <ErrorBox error={error} />
        {ok ? <OkBox>{ok}</OkBox> : null}
      </Section>
      <Section title="常用查询">
        {saved.length === 0 ? <Empty>暂无常用查询</Empty> : (
          <ul>
            {saved.map((s) => (
              <li key={s.id}>
                <button type="button" className="link" onClick={() => { setQ(s.query); setHours(String(s.rangeHours)); void run(undefined, s.query, String(s.rangeHours)); }}>{s.name}</button>
                <span className="muted mono"> {s.query}</span>
                {canWrite ? <button type="button" onClick={() => void api('DELETE', `/admin/v1/logaudit/saved-queries/${s.id}`).then(loadSaved)}>删除</button> : null}
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="检索结果">
        {rows === null ? <Empty>输入条件后检索</Empty> : rows.length === 0 ? <Empty>没有符合条件的日志</Empty> : (
          <>
            <p className="muted">{info}</p>
            <table>
              <thead><tr><th>时间</th><th>设备</th><th>类型</th><th>动作</th><th>结果</th><th>源地址</th><th>用户</th><th>内容</th></tr></thead>
              <tbody>
                {rows.map((e, i) => (
                  <tr key={i} onClick={() => setOpen(open === i ? null : i)}>
                    <td>{cst(e['@timestamp'])}</td>
                    <td>{String(e['host.name'] ?? e['observer.ip'] ?? '')}</td>
                    <td>{String(e['observer.vendor'] ?? '未识别')} {String(e['observer.product'] ?? '')}</td>
                    <td>{ACTION_ZH[String(e['event.action'])] ?? String(e['event.action'] ?? '—')}</td>
                    <td>{e['event.outcome'] === 'failure' ? '失败' : e['event.outcome'] === 'success' ? '成功' : '—'}</td>
                    <td className="mono">{String(e['source.ip'] ?? '')}</td>
                    <td>{String(e['user.name'] ?? '')}</td>
                    <td className="mono">{open === i ? <pre>{JSON.stringify(e, null, 1)}</pre> : String(e.message ?? '').slice(0, 120)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Section>
    </>
  );
}

interface Asset { ip: string; hostName: string | null; name: string | null; owner: string | null; dataset: string; vendor: string | null; product: string | null; lastSeen: string; events: number; silent: boolean }
interface Collector { id: string; remote: string; connected: boolean; lastSeen: string; batches: number; events: number; backlogBytes: number }

function DayChart({ days }: { days: { day: string; events: number }[] }) {
  if (days.length === 0) return <Empty>暂无入库数据</Empty>;
  const max = Math.max(1, ...days.map((d) => d.events));
  const w = 48;
  return (
    <svg width={days.length * w + 20} height={170} role="img" aria-label="每日入库日志量">
      {days.map((d, i) => {
        const h = Math.round((d.events / max) * 120);
        return (
          <g key={d.day} transform={`translate(${10 + i * w},0)`}>
            <rect x={6} y={140 - h} width={w - 12} height={h} fill="#2563eb" />
            <text x={w / 2} y={135 - h} fontSize={10} textAnchor="middle">{d.events}</text>
            <text x={w / 2} y={158} fontSize={10} textAnchor="middle">{d.day.slice(5)}</text>
          </g>
        );
      })}
    </svg>
  );
}

export function AssetsPage({ canWrite }: { canWrite: boolean }) {
  const [assets, setAssets] = useState<Asset[]>([]);
  const [collectors, setCollectors] = useState<Collector[]>([]);
  const [health, setHealth] = useState<{ counters: Record<string, number>; queue: number; spoolBytes: number; alertLatencyP99Ms: number | null } | null>(null);
  const [days, setDays] = useState<{ day: string; events: number }[]>([]);
  const [verify, setVerify] = useState<string | null>(null);
  const [daily, setDaily] = useState<{ at: string | null; reports: { day: string; fmt: 'xlsx' | 'pdf'; name: string; bytes: number }[] }>({ at: null, reports: [] });
  const [error, setError] = useState<string | null>(null);
  const [edit, setEdit] = useState<{ ip: string; name: string; owner: string } | null>(null);

  const load = useLoad(async () => {
    await Promise.all([
      api<{ assets: Asset[] }>('GET', '/admin/v1/logaudit/assets').then((r) => setAssets(r.assets)),
      api<{ collectors: Collector[] }>('GET', '/admin/v1/logaudit/collectors').then((r) => setCollectors(r.collectors)),
      api<typeof health>('GET', '/admin/v1/logaudit/health').then(setHealth),
      api<{ days: typeof days }>('GET', '/admin/v1/logaudit/stats?days=14').then((r) => setDays(r.days)),
      api<typeof daily>('GET', '/admin/v1/logaudit/reports').then(setDaily),
    ]);
  }, setError, { toText: errText });

  async function saveEdit() {
    if (!edit) return;
    try {
      await api('PUT', `/admin/v1/logaudit/assets/${encodeURIComponent(edit.ip)}`, { name: edit.name, owner: edit.owner });
      setEdit(null);
      await load();
    } catch (e) {
      setError(errText(e));
    }
  }

  return (
    <>
      <ErrorBox error={error} />
      <Section title="接入状态">
        {health ? (
          <div>
            <p>队列 {health.queue} 条，磁盘缓冲 {Math.round(health.spoolBytes / 1024)} KB，告警延迟 P99 {health.alertLatencyP99Ms ?? '—'} 毫秒</p>
            <table><tbody>{Object.entries(health.counters).map(([k, v]) => <tr key={k}><td>{COUNTER_ZH[k] ?? k}</td><td>{v}</td></tr>)}</tbody></table>
          </div>
        ) : <Empty>加载中</Empty>}
        <button type="button" onClick={() => void api<{ ok: boolean; days: number; events: number }>('POST', '/admin/v1/logaudit/verify', {}).then((r) => setVerify(r.ok ? `校验通过：${r.days} 天、${r.events} 条日志的哈希链与签名均一致` : '校验失败：存在被篡改或缺失的日志')).catch((e: unknown) => setError(errText(e)))}>校验日志完整性</button>
        {verify ? <OkBox>{verify}</OkBox> : null}
      </Section>
      <Section title="每日入库量（近 14 天）">
        <DayChart days={days} />
        <div className="row">
          {(['xlsx', 'pdf'] as const).map((fmt) => (
            <button key={fmt} type="button" onClick={() => void apiBlob(`/admin/v1/logaudit/report.${fmt}?days=14`).then((b) => {
              const u = URL.createObjectURL(b);
              const a = document.createElement('a');
              a.href = u;
              a.download = `日志审计报表.${fmt}`;
              a.click();
              setTimeout(() => URL.revokeObjectURL(u), 1000);
            }).catch((e: unknown) => setError(errText(e)))}>导出{fmt === 'xlsx' ? ' Excel' : ' PDF'} 报表</button>
          ))}
        </div>
      </Section>
      <Section title="定时日报">
        <p>{daily.at ? `每天北京时间 ${daily.at} 自动生成前一日的 Excel 与 PDF 日报` : '未启用定时日报'}</p>
        {daily.reports.length === 0 ? <Empty>尚无已生成的日报</Empty> : (
          <table>
            <thead><tr><th>日期</th><th>格式</th><th>大小</th><th>下载</th></tr></thead>
            <tbody>{daily.reports.map((r) => (
              <tr key={r.name}>
                <td>{r.day}</td><td>{r.fmt === 'xlsx' ? 'Excel' : 'PDF'}</td><td>{Math.max(1, Math.round(r.bytes / 1024))} KB</td>
                <td><button type="button" onClick={() => void apiBlob(`/admin/v1/logaudit/reports/${r.name}`).then((b) => {
                  const u = URL.createObjectURL(b);
                  const a = document.createElement('a');
                  a.href = u;
                  a.download = `日志审计日报-${r.name}`;
                  a.click();
                  setTimeout(() => URL.revokeObjectURL(u), 1000);
                }).catch((e: unknown) => setError(errText(e)))}>下载</button></td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </Section>
      <Section title="日志源设备">
        {assets.length === 0 ? <Empty>尚未收到任何设备的日志</Empty> : (
          <table>
            <thead><tr><th>地址</th><th>主机名</th><th>名称</th><th>责任人</th><th>设备类型</th><th>最后发送</th><th>日志量</th><th>状态</th>{canWrite ? <th>操作</th> : null}</tr></thead>
            <tbody>
              {assets.map((a) => (
                <tr key={a.ip}>
                  <td className="mono">{a.ip}</td><td>{a.hostName ?? '—'}</td>
                  <td>{edit?.ip === a.ip ? <input value={edit.name} onChange={(e) => setEdit({ ...edit, name: e.target.value })} /> : a.name ?? '—'}</td>
                  <td>{edit?.ip === a.ip ? <input value={edit.owner} onChange={(e) => setEdit({ ...edit, owner: e.target.value })} /> : a.owner ?? '—'}</td>
                  <td>{a.vendor ? `${a.vendor} ${a.product ?? ''}` : '未识别'}</td>
                  <td>{cst(a.lastSeen)}</td><td>{a.events}</td>
                  <td>{a.silent ? <strong style={{ color: '#dc2626' }}>静默</strong> : '正常'}</td>
                  {canWrite ? <td>{edit?.ip === a.ip ? <button type="button" onClick={() => void saveEdit()}>保存</button> : <button type="button" onClick={() => setEdit({ ip: a.ip, name: a.name ?? '', owner: a.owner ?? '' })}>编辑</button>}</td> : null}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="二级采集器">
        {collectors.length === 0 ? <Empty>暂无采集器接入</Empty> : (
          <table>
            <thead><tr><th>采集器</th><th>地址</th><th>连接</th><th>最后上报</th><th>批次</th><th>日志量</th><th>待转发积压</th></tr></thead>
            <tbody>{collectors.map((c) => <tr key={c.id}><td>{c.id}</td><td className="mono">{c.remote}</td><td>{c.connected ? '在线' : '离线'}</td><td>{cst(c.lastSeen)}</td><td>{c.batches}</td><td>{c.events}</td><td>{Math.round(c.backlogBytes / 1024)} KB</td></tr>)}</tbody>
          </table>
        )}
      </Section>
    </>
  );
}

interface CatalogDetail {
  deviceTypes: number; rules: number; fields: number;
  families: { family: string; vendor: string; product: string; types: { id: string; name: string }[] }[];
  ruleList: { id: string; zh: string; level: string; windowSeconds: number; aggregated: boolean }[];
  fieldList: { name: string; type: string; zh: string }[];
}

export function CatalogPage() {
  const [c, setC] = useState<CatalogDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useLoad(async () => setC(await api<CatalogDetail>('GET', '/admin/v1/logaudit/catalog?detail=true')), setError, { toText: errText });
  if (!c) return <><ErrorBox error={error} /><Empty>加载中</Empty></>;
  return (
    <>
      <Section title="概况"><p data-testid="la-catalog">支持设备类型 {c.deviceTypes} 种，关联分析规则 {c.rules} 条，标准化字段 {c.fields} 个。</p></Section>
      <Section title="设备解析器">
        <table>
          <thead><tr><th>厂商</th><th>产品族</th><th>型号数</th><th>型号</th></tr></thead>
          <tbody>{c.families.map((f) => <tr key={f.family}><td>{f.vendor}</td><td>{f.product}</td><td>{f.types.length}</td><td>{f.types.map((t) => t.name).join('、')}</td></tr>)}</tbody>
        </table>
      </Section>
      <Section title="关联分析规则">
        <table>
          <thead><tr><th>规则</th><th>级别</th><th>时间窗口</th></tr></thead>
          <tbody>{c.ruleList.map((r) => <tr key={r.id}><td>{r.zh}</td><td>{LEVEL_ZH[r.level] ?? r.level}</td><td>{r.aggregated ? `${r.windowSeconds} 秒` : '单条匹配'}</td></tr>)}</tbody>
        </table>
      </Section>
      <Section title="标准化字段">
        <table>
          <thead><tr><th>字段</th><th>说明</th></tr></thead>
          <tbody>{c.fieldList.map((f) => <tr key={f.name}><td className="mono">{f.name}</td><td>{f.zh}</td></tr>)}</tbody>
        </table>
      </Section>
    </>
  );
}
