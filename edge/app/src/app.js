/**
 * Citizen page (issue 6): shows the health code from GET /v1/code (DESIGN §5)
 * and keeps showing the last good one without network.
 *
 * Speed: this file and the CSS are inlined into index.html by build.mjs, so a
 * cold load is two round trips — the page, then /v1/code — plus the bytes
 * (at 400 ms RTT a third request for a script would cost 0.4 s of the 1.5 s
 * budget). The scan dialog is the only thing loaded on demand
 * (scan-<hash>.js, cached for a year and precached by the service worker).
 *
 * State on <body data-state>: live | offline | stale | expired | error, plus
 * the transitional `loading` (before the edge answered; a cached code may
 * already be on screen) and `login` (development login form, no session yet).
 *
 * Storage (localStorage, read synchronously in the first turn so that a warm
 * start draws the QR before any network answer):
 *   hc.session  the citizen session token (from #token=… or the dev login)
 *   hc.id       { o: owner, k: kind, v: masked number } from the dev login's
 *               session answer (the masked ID is not in the code record: DESIGN §2)
 *   hc.hs       { o: owner, b: GET /citizen/v1/health-status body } — the card's 核酸 and
 *               疫苗 lines from the back office (not in the code record: DESIGN §4/§5),
 *               asked after the code is live so it never delays the QR
 *   hc.code     { o: owner of the session it was fetched with (see owner()),
 *                 t: saved at (ms, edge clock), k: clock skew edge − device (ms),
 *                 b: the /v1/code body }
 */
import { drawQr, encodeQr } from './qr.js';

const LS_SESSION = 'hc.session';
const LS_CODE = 'hc.code';
const LS_ID = 'hc.id';
const LS_HEALTH = 'hc.hs';
const LS_SEEN = 'hc.seen'; // the entry notice the person closed (it stays in the list)
const COLORS = { green: '绿码', yellow: '黄码', red: '红码' };
// the rules' reason codes (core/default-rules.ts) and the usual manual ones, as a citizen reads them
const REASONS = {
  confirmed: '确诊病例',
  test_positive: '核酸检测阳性',
  suspected: '疑似病例',
  close_contact: '密切接触者',
  secondary_contact: '密接的密接',
  risk_area: '中高风险地区旅居',
  high_risk_area: '高风险地区旅居',
  medium_risk_area: '中风险地区旅居',
  entry_no_test: '入川未按时检测',
  entry_test_overdue: '入川未按时检测',
  entry_test_pending: '入川待检测',
  manual_review: '人工复核',
  manual: '人工赋码',
};
// QR ink in the code colour, dark enough on white for any scanner (contrast ≥ 4.5:1)
const INK = { green: '#1a7f37', yellow: '#9a6700', red: '#c62828' };
const ID_KINDS = { resident: '身份证', passport: '护照', hk_macau: '港澳通行证', taiwan: '台湾通行证', foreign_permanent: '永居证', phone: '手机号' };
// what to do (issue 15 item 8); the hotlines are in index.html
const GUIDE = {
  yellow: '请减少外出、不聚集，尽快就近完成核酸检测并做好健康监测；符合条件后健康码将自动转为绿码。',
  red: '请立即居家、不要外出，配合社区和疾控部门做好隔离管控与核酸检测；如出现发热、咳嗽等症状，请佩戴口罩及时就医，途中不乘坐公共交通工具。',
};
const ENTRY_KIND = 'entry_test';
// Refresh a token this long before it expires (the edge re-signs near expiry).
const REFRESH_BEFORE_S = 60;
// Re-check while visible so state (live/stale) and notices stay current.
const REFRESH_EVERY_S = 300;
const FETCH_TIMEOUT_MS = 15000;
const SCALE = 8; // device pixels per module; CSS scales the canvas

const $ = (id) => document.getElementById(id);
const body = document.body;

let session = null;
let current = null; // { b: body, t: savedAt ms (edge clock), live: bool }
let skew = 0;
let mode = 'loading'; // what `current` is: loading (cache, edge not yet asked) | live | offline
let inflight = false;
let nextRefresh = 0; // ms, edge clock
let backoff = 5000;
let drawnToken = null;
let dismissedEntry = load(LS_SEEN) || '';
// the entry notice a scan answered with, shown until closed or until the code itself carries it
let scanEntry = null;
let swRegistered = false;
let notRegisteredTries = 0;
let offlineReason = '';
let health = null; // { o, b } the last health-status answer for this session's person
let nextHealth = 0;

function now() {
  return Date.now() + skew;
}

function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // private mode / quota: the page still works, only without offline copy
  }
}

function load(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

const fmtTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});
const fmtClock = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

function when(unixS) {
  return fmtTime.format(new Date(unixS * 1000));
}

function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return '刚刚';
  if (s < 3600) return Math.floor(s / 60) + ' 分钟前';
  if (s < 86400) return Math.floor(s / 3600) + ' 小时前';
  return Math.floor(s / 86400) + ' 天前';
}

function setState(s) {
  if (body.dataset.state !== s) body.dataset.state = s;
}

function show(id, on) {
  $(id).hidden = !on;
}

function message(text) {
  $('msg').textContent = text;
  show('msg', !!text);
}

/** The session token from `#token=…`, removed from the address bar at once (never kept in history or sent in a URL). */
function takeFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(history.state, '', location.pathname + location.search);
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/**
 * Whose code a session shows: the uid inside it (core/session-token.ts: base64url
 * of version 1, uid 16 bytes, expiry, MAC — 37 bytes), so that a host app
 * handing over a renewed session keeps the offline copy of the same person's
 * code, and another person's session never shows it. A token of another
 * shape is its own owner.
 */
function owner(token) {
  try {
    const b = atob(token.replace(/-/g, '+').replace(/_/g, '/'));
    return b.length === 37 && b.charCodeAt(0) === 1 ? btoa(b.slice(1, 17)) : token;
  } catch {
    return token;
  }
}

function readCache() {
  try {
    const c = JSON.parse(load(LS_CODE) || 'null');
    return c && c.o === owner(session) && c.b && typeof c.b.token === 'string' ? c : null;
  } catch {
    return null;
  }
}

// ---- rendering ------------------------------------------------------------

function render() {
  const c = current.b;
  const t = now();
  const expired = !(c.expiresAt * 1000 > t);
  const stale = mode === 'live' && (c.notices || []).some((n) => n.kind === 'stale');
  setState(expired ? 'expired' : mode === 'live' ? (stale ? 'stale' : 'live') : mode === 'offline' ? 'offline' : 'loading');
  show('card', true);
  show('login', false);
  message('');

  const color = $('color');
  color.className = 'color ' + (expired ? 'void' : c.color);
  $('color-label').textContent = expired ? '二维码已过期' : COLORS[c.color] || c.color;
  $('reason').textContent = c.color !== 'green' && c.reason ? '赋码原因：' + reasonText(c.reason) : '';
  $('name').textContent = c.name || '';
  const id = idOf(session);
  $('idno').textContent = id ? (ID_KINDS[id.k] || '证件') + ' ' + id.v : '';
  show('idno', !!id);
  const guide = GUIDE[c.color];
  $('guide').className = 'guide ' + c.color;
  $('guide-text').textContent = guide || '';
  show('guide', !!guide && !expired);
  renderHealth();

  const qr = $('qr');
  if (expired) {
    // Never show an expired token as valid: no QR at all, only what to do.
    clearQr();
  } else if (drawnToken !== c.token) {
    drawQr(qr, encodeQr(c.token), SCALE, INK[c.color]);
    qr.dataset.token = c.token;
    drawnToken = c.token;
    if (!performance.getEntriesByName('qr-drawn').length) performance.mark('qr-drawn');
  }
  show('qr', !expired);
  show('qr-void', expired);

  let valid = expired ? '二维码已于 ' + when(c.expiresAt) + ' 过期，请联网刷新' : '二维码有效至 ' + when(c.expiresAt);
  if (c.until) valid += ' · ' + (COLORS[c.color] || '') + '至 ' + when(c.until);
  $('valid').textContent = valid;

  const st = $('status');
  if (mode === 'live') st.textContent = stale ? '数据同步延迟，显示的可能不是最新状态' : '已更新 ' + when(Math.floor(current.t / 1000));
  else if (mode === 'offline') st.textContent = (offlineReason || '网络不可用') + ' · 离线显示 ' + age(t - current.t) + '获取的健康码';
  else st.textContent = '正在更新… 当前显示 ' + age(t - current.t) + '获取的健康码';
  st.className = 'status ' + (expired ? 'expired' : mode === 'live' && !stale ? 'live' : 'warn');

  renderNotices(c.notices || [], stale);
  if (mode === 'live' && performance.getEntriesByName('code-live').length === 0) performance.mark('code-live');
}

/** A reason code as a citizen reads it; a manual free text in Chinese as written, never a bare code. */
function reasonText(r) {
  return REASONS[r] || (/[A-Za-z]/.test(r) ? '其他原因，详情请咨询 12345' : r);
}

/** The masked certificate number (or phone) of this session's person, when the login answered it. */
function idOf(token) {
  try {
    const x = JSON.parse(load(LS_ID) || 'null');
    return x && x.o === owner(token) && typeof x.v === 'string' ? x : null;
  } catch {
    return null;
  }
}

function readHealth() {
  try {
    const x = JSON.parse(load(LS_HEALTH) || 'null');
    return x && x.o === owner(session) && x.b ? x : null;
  } catch {
    return null;
  }
}

/** China wall-clock "12月6日 14:00" (UTC+8, no daylight saving) */
function dayTime(s) {
  const d = new Date((s + 28800) * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return d.getUTCMonth() + 1 + '月' + d.getUTCDate() + '日 ' + p(d.getUTCHours()) + ':' + p(d.getUTCMinutes());
}

/** 核酸 and 疫苗 lines: each only when the back office knows it. */
function renderHealth() {
  const b = health ? health.b : {};
  const n = b.nat;
  const v = b.vaccination;
  $('nat').textContent = n ? '核酸检测：' + (n.result === 'positive' ? '阳性' : '阴性') + ' · ' + dayTime(n.sampledAt) + ' 采样' : '';
  $('vax').textContent = v ? '疫苗接种：已完成 ' + v.doses + ' 剂' : '';
  show('nat', !!n);
  show('vax', !!v);
}

function apiBase() {
  const u = sessionUrl();
  return u && u.replace(/\/v1\/session$/, '');
}

/** After a live code, at most every REFRESH_EVERY_S: a failure keeps the kept copy on screen. */
async function fetchHealth() {
  const base = apiBase();
  if (!base || !session || now() < nextHealth) return;
  const asked = session;
  nextHealth = now() + REFRESH_EVERY_S * 1000;
  try {
    const r = await fetch(base + '/citizen/v1/health-status', { headers: { authorization: 'Bearer ' + asked }, cache: 'no-store' });
    if (!r.ok) return;
    const b = await r.json();
    if (asked !== session) return;
    health = { o: owner(asked), b };
    store(LS_HEALTH, JSON.stringify(health));
    renderHealth();
  } catch {
    nextHealth = now() + 60000;
  }
}

function clearQr() {
  if (drawnToken === null) return;
  const qr = $('qr');
  qr.width = qr.height = 0;
  qr.removeAttribute('data-token');
  drawnToken = null;
}

function renderNotices(notices, stale) {
  const ul = $('notices');
  ul.textContent = '';
  let entry = null;
  for (const n of notices) {
    if (n.kind === 'stale' && !stale) continue; // a stale note from the cache says nothing now
    const li = document.createElement('li');
    li.dataset.kind = n.kind;
    li.textContent = n.message + (n.until ? '（' + when(n.until) + ' 前）' : '');
    ul.append(li);
    if (n.kind === ENTRY_KIND) entry = n;
  }
  showEntry(entry);
}

/**
 * The 入川即检 popup: shown while the notice is on the code (or a scan just
 * answered with it — the code gets it a moment later, through the master and
 * sync), until the person closes it.
 */
function showEntry(n) {
  if (n) scanEntry = null;
  else n = scanEntry;
  if (!n) {
    show('entry', false);
    if (dismissedEntry && mode === 'live') {
      // cleared on the code itself: a later notice pops up again
      dismissedEntry = '';
      store(LS_SEEN, null);
    }
    return;
  }
  const key = n.message + '|' + (n.until || '');
  $('entry-msg').textContent = n.message;
  $('entry-until').textContent = n.until ? '请在 ' + when(n.until) + ' 前完成核酸检测。' : '';
  show('entry', dismissedEntry !== key);
  $('entry').dataset.key = key;
}

function showError(text) {
  setState('error');
  show('card', false);
  show('entry', false);
  message(text);
}

// ---- network --------------------------------------------------------------

async function refresh() {
  if (inflight || !session) return;
  inflight = true;
  body.dataset.refreshing = '1';
  // the session this answer is for: another one may take over meanwhile (hashchange, logout)
  const asked = session;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  const sent = Date.now();
  try {
    const r = await fetch('/v1/code', { headers: { authorization: 'Bearer ' + asked }, cache: 'no-store', signal: ctl.signal });
    if (asked !== session) return;
    if (r.ok) {
      const code = await r.json();
      if (asked !== session) return;
      // Edge clock minus device clock, from the Date header (RFC 9110 §6.6.1):
      // a phone with a wrong clock must not call a fresh token expired.
      const d = Date.parse(r.headers.get('date') || '');
      skew = Number.isNaN(d) ? 0 : d + 500 - (sent + Date.now()) / 2;
      current = { b: code, t: now() };
      mode = 'live';
      notRegisteredTries = 0;
      backoff = 5000;
      store(LS_CODE, JSON.stringify({ o: owner(session), t: current.t, k: skew, b: code }));
      nextRefresh = Math.max(now() + 15000, Math.min(code.expiresAt - REFRESH_BEFORE_S, now() / 1000 + REFRESH_EVERY_S) * 1000);
      render();
      fetchHealth();
    } else if (r.status === 401 || r.status === 403) {
      // The session is no longer accepted: its cached code is not shown either.
      store(LS_SESSION, null);
      store(LS_CODE, null);
      store(LS_HEALTH, null);
      session = null;
      current = null;
      health = null;
      startLogin('登录已失效，请重新登录');
    } else if (r.status === 404 && ++notRegisteredTries <= 10) {
      // First login registers (领码); the new code reaches this edge through sync.
      showError('正在领取健康码，请稍候…');
      nextRefresh = now() + 2000;
    } else {
      // the edge's own messages are for operators (English): the person gets the status in Chinese
      throw Object.assign(new Error(r.status === 404 ? '尚未领取健康码' : '服务暂不可用（' + r.status + '）'), { zh: true });
    }
  } catch (err) {
    if (asked !== session) return;
    offlineReason = err && err.name === 'AbortError' ? '网络超时' : err instanceof TypeError ? '网络不可用' : err && err.zh ? err.message : '服务暂不可用';
    nextRefresh = now() + backoff;
    backoff = Math.min(backoff * 2, 60000);
    if (current) {
      mode = 'offline';
      render();
    } else showError(offlineReason + '，且本机没有可显示的健康码');
  } finally {
    clearTimeout(timer);
    inflight = false;
    delete body.dataset.refreshing;
    if (asked !== session) {
      if (session) refresh();
    } else registerSw();
  }
}

/** After the first answer, so that precaching never competes with the code for a slow link. */
function registerSw() {
  if (swRegistered || !('serviceWorker' in navigator)) return;
  swRegistered = true;
  navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
}

function tick() {
  $('clock').textContent = fmtClock.format(new Date(now()));
  if (!current && !session) return;
  if (current && mode !== 'loading') {
    const expired = !(current.b.expiresAt * 1000 > now());
    if (expired !== (body.dataset.state === 'expired') || mode === 'offline') render();
  }
  if (session && !inflight && document.visibilityState === 'visible' && now() >= nextRefresh) refresh();
}

// ---- development login (embedded mode) ------------------------------------

function sessionUrl() {
  const m = document.querySelector('meta[name="hc-session-url"]');
  const v = m ? m.content.trim() : 'auto';
  if (v === '') return null; // production: the host app passes #token=…
  // "auto": the admin-api of the embedded stack, same host, port 8081 (DESIGN §5);
  // ":<port>/path": same host, the port the stack configured (EDGE_APP_SESSION_URL)
  if (v === 'auto') return location.protocol + '//' + location.hostname + ':8081/v1/session';
  if (v.charAt(0) === ':') return location.protocol + '//' + location.hostname + v;
  return v;
}

/**
 * With demo data the admin-api lists a few demo identities (GET
 * <session url>/demo, 404 on a real database): shown under the form, a tap
 * fills it in. Fetched only when the login form is shown.
 */
let demoAsked = false;
async function showDemo() {
  if (demoAsked) return;
  demoAsked = true;
  try {
    const r = await fetch(sessionUrl() + '/demo', { cache: 'no-store' });
    if (!r.ok) return;
    const people = (await r.json()).people;
    if (!Array.isArray(people) || people.length === 0) return;
    const box = $('demo');
    const ul = box.querySelector('ul');
    for (const p of people) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'link';
      b.textContent = p.name + '（' + (COLORS[p.color] || '') + '）' + p.idNo;
      b.onclick = () => {
        const f = $('login');
        f.idNo.value = p.idNo;
        f.name.value = p.name;
        f.phone.value = '';
      };
      const li = document.createElement('li');
      li.appendChild(b);
      ul.appendChild(li);
    }
    box.hidden = false;
  } catch {
    // no demo list: the form works without it
  }
}

function startLogin(text) {
  show('card', false);
  show('entry', false);
  if (!sessionUrl()) {
    showError(text || '请从应用内打开健康码（缺少登录凭证）');
    return;
  }
  setState('login');
  message(text || '');
  show('login', true);
  showDemo();
}

async function login(ev) {
  ev.preventDefault();
  const f = ev.target;
  const phone = f.phone.value.trim();
  const req = phone ? { phone } : { idType: 'resident', idNo: f.idNo.value.trim(), name: f.name.value.trim() };
  $('login-err').textContent = '';
  try {
    // Cross-origin (the admin port): admin-api must answer the CORS preflight for
    // POST /v1/session (Content-Type: application/json is not a simple request).
    const r = await fetch(sessionUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
    const j = await r.json().catch(() => ({}));
    // admin-api's Chinese text (field named in Chinese), else a sentence by status
    if (!r.ok && typeof j.zh === 'string' && j.zh) throw new Error(j.zh);
    if (r.status === 400) throw new Error('证件号、姓名或手机号格式不正确');
    if (r.status === 429) throw new Error('操作过于频繁，请稍后再试');
    if (!r.ok || typeof j.token !== 'string') throw new Error('登录失败，请稍后再试');
    store(LS_ID, typeof j.idMasked === 'string' ? JSON.stringify({ o: owner(j.token), k: j.idKind, v: j.idMasked }) : null);
    begin(j.token);
  } catch (err) {
    $('login-err').textContent = err instanceof TypeError ? '无法连接登录服务' : err.message;
  }
}

// ---- scan a place code ----------------------------------------------------

async function openScan() {
  const { scan } = await import('./scan.js');
  scan({
    dialog: $('scan'),
    session,
    when,
    colors: COLORS,
    onEntry: (n) => {
      scanEntry = n;
      dismissedEntry = '';
      store(LS_SEEN, null);
      showEntry(null);
    },
    onDone: () => {
      nextRefresh = 0;
      refresh();
    },
  });
}

// ---- start ----------------------------------------------------------------

function begin(token) {
  if (token !== session) {
    session = token;
    store(LS_SESSION, token);
  }
  const cached = readCache();
  health = readHealth();
  nextHealth = 0;
  mode = 'loading';
  if (cached) {
    skew = cached.k || 0;
    current = { b: cached.b, t: cached.t };
    render();
  } else {
    // nothing on screen that is not this session's
    current = null;
    clearQr();
    show('card', false);
    show('login', false);
    show('entry', false);
    setState('loading');
    message('正在获取健康码…');
  }
  nextRefresh = 0;
  refresh();
}

$('refresh-btn').onclick = () => {
  nextRefresh = 0;
  refresh();
};
$('scan-btn').onclick = openScan;
// 便民服务 (issue 16, citizen/app/services.js): its own chunk, loaded on demand like scan.js
async function openServices(tab) {
  const { open } = await import('../../../citizen/app/services.js');
  open({ dialog: $('svc'), session, apiBase: apiBase(), tab, when, encodeQr, drawQr });
}
$('svc-btn').onclick = () => openServices();
$('entry-reg').onclick = () => ($('entry-ok').click(), openServices('sampling'));
$('entry-ok').onclick = () => {
  dismissedEntry = $('entry').dataset.key || '';
  store(LS_SEEN, dismissedEntry);
  scanEntry = null;
  show('entry', false);
};
$('login').onsubmit = login;
$('logout-btn').onclick = () => {
  store(LS_SESSION, null);
  store(LS_CODE, null);
  store(LS_SEEN, null);
  store(LS_ID, null);
  store(LS_HEALTH, null);
  session = null;
  current = null;
  health = null;
  scanEntry = null;
  clearQr();
  startLogin('');
};
addEventListener('online', () => {
  nextRefresh = 0;
  backoff = 5000;
  refresh();
});
// a host app that hands over another session without reloading the page
addEventListener('hashchange', () => {
  const t = takeFragment();
  if (t) begin(t);
});
addEventListener('pageshow', (e) => {
  if (e.persisted) nextRefresh = 0; // back from the back/forward cache: ask again
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && current && now() - current.t > 30000) nextRefresh = 0;
});

const fromFragment = takeFragment();
const stored = load(LS_SESSION);
if (fromFragment) begin(fromFragment);
else if (stored) begin(stored);
else startLogin('');
tick();
setInterval(tick, 1000);
