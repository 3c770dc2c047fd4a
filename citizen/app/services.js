/**
 * 便民服务 on the citizen page (issue 16): 我要申诉 (file + my appeals with
 * the reply), 咨询帮助 (knowledge base, searchable, offline copy), 行程卡
 * (SMS-verified 14-day cities, risk cities marked) and 入川即检 采样登记
 * (signed sampling QR to show at the site).
 *
 * Loaded on demand by edge/app/src/app.js (dynamic import → its own chunk,
 * precached by the service worker like scan.js). Imports nothing from the
 * page: the QR drawing functions come in through `open()`, so no shared
 * chunk lands on the code screen's critical path.
 *
 * Talks to admin-api's /citizen/v1/* (same origin as POST /v1/session,
 * already allowed by the page's CSP connect-src) with the page's session
 * token. Everything from the server is put on screen with textContent —
 * never innerHTML — so no text can become markup.
 *
 * Offline: the help articles are kept in localStorage (hc.kb: {etag, body})
 * and revalidated with If-None-Match; without network the last copy shows.
 * The service worker (edge/app/src/sw.js) caches only the page's own
 * origin (/app/), so this copy is what makes help work offline.
 */

const LS_KB = 'hc.kb';
const TYPES = [
  ['code_wrong', '健康码颜色有误'],
  ['travel_wrong', '行程信息有误'],
  ['test_result', '核酸结果未更新'],
  ['info_wrong', '个人信息有误'],
  ['other', '其他问题'],
];
const HTTP_ZH = { 401: '登录已失效，请重新登录', 413: '提交的内容过大', 429: '操作过于频繁，请稍后再试' };
const MAX_PHOTO = 2 * 1024 * 1024;
const FORM = { display: 'flex', flexDirection: 'column', gap: '8px', fontSize: '14px' };

let opts = null;
let pane = null;

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e[k] = v;
      // CSSOM, not a style attribute: the page's CSP allows only its own hashed stylesheet
      else if (k === 'style') Object.assign(e.style, v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

function save(key, v) {
  try {
    localStorage.setItem(key, JSON.stringify(v));
  } catch {
    // quota / private mode: help just is not available offline
  }
}

async function call(method, path, body, headers) {
  const h = Object.assign({}, headers || {});
  if (opts.session) h.authorization = 'Bearer ' + opts.session;
  if (body !== undefined) h['content-type'] = 'application/json';
  let r;
  try {
    r = await fetch(opts.apiBase + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-cache' });
  } catch {
    throw new Error('网络不可用，请稍后再试');
  }
  if (r.status === 304) return { status: 304, body: null, etag: r.headers.get('etag') };
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.zh || HTTP_ZH[r.status] || '服务暂不可用（' + r.status + '）');
  return { status: r.status, body: j, etag: r.headers.get('etag') };
}

function msg(box, text, bad) {
  box.textContent = text || '';
  box.className = 'result' + (text ? (bad ? ' bad' : ' ok') : '');
}

function fmt(ms) {
  if (!ms) return '';
  return opts.when(Math.floor(ms / 1000));
}

// ---- 我要申诉 ------------------------------------------------------------

function appealsPane() {
  const out = el('div', { class: 'result', role: 'status' });
  const list = el('div');
  const type = el('select', { name: 'type' }, ...TYPES.map(([v, t]) => el('option', { value: v, text: t })));
  const text = el('textarea', { name: 'text', rows: 4, maxlength: 2000, required: true, placeholder: '请说明情况（不要填写网址或代码）' });
  const contact = el('input', { name: 'contact', inputmode: 'tel', maxlength: 14, placeholder: '回访手机号（选填）' });
  const photo = el('input', { name: 'photo', type: 'file', accept: 'image/jpeg,image/png' });
  const form = el('form', { class: 'svc-form', style: FORM },
    el('label', { text: '问题类型' }, type), el('label', { text: '情况说明' }, text), el('label', { text: '回访电话' }, contact),
    el('label', { text: '照片（选填，不超过 2 MB）' }, photo), el('button', { type: 'submit', class: 'primary', text: '提交申诉' }));
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    msg(out, '');
    const body = { type: type.value, text: text.value };
    if (contact.value.trim()) body.contact = contact.value.trim();
    try {
      const f = photo.files && photo.files[0];
      if (f) {
        if (f.size > MAX_PHOTO) throw new Error('照片不能超过 2 MB，请压缩后重新上传');
        body.photo = await base64(f);
      }
      const r = await call('POST', '/citizen/v1/appeals', body);
      msg(out, '已提交（工单 ' + r.body.id + '），请在“我的申诉”中查看进度和答复。');
      text.value = '';
      photo.value = '';
      refreshList();
    } catch (err) {
      msg(out, err.message, true);
    }
  };
  async function refreshList() {
    list.textContent = '';
    try {
      const r = await call('GET', '/citizen/v1/appeals');
      if (r.body.appeals.length === 0) return;
      list.append(el('h3', { text: '我的申诉' }));
      for (const a of r.body.appeals) {
        list.append(el('div', { class: 'svc-item', 'data-status': a.status },
          el('p', { text: a.typeZh + ' · ' + a.statusZh + ' · ' + fmt(a.createdAt) }),
          a.reply ? el('p', { class: 'svc-reply', text: '答复：' + a.reply }) : null,
          a.resolutionZh ? el('p', { text: '办结结论：' + a.resolutionZh }) : null));
      }
    } catch (err) {
      list.append(el('p', { class: 'hint', text: err.message }));
    }
  }
  refreshList();
  return el('div', null, form, out, list);
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(String(fr.result).replace(/^data:[^,]*,/, ''));
    fr.onerror = () => reject(new Error('无法读取照片'));
    fr.readAsDataURL(file);
  });
}

// ---- 咨询帮助 ------------------------------------------------------------

function helpPane() {
  const q = el('input', { type: 'search', placeholder: '搜索问题，例如：健康码变黄', maxlength: 100, style: { width: '100%' } });
  const out = el('div', { class: 'result', role: 'status' });
  const list = el('div');
  // the full list grouped by category; search hits in rank order
  const render = (articles, grouped) => {
    list.textContent = '';
    let cat = null;
    for (const a of articles) {
      if (grouped && a.categoryZh !== cat) {
        cat = a.categoryZh;
        list.append(el('h3', { class: 'svc-cat', text: cat, style: { fontSize: '15px', margin: '12px 0 4px' } }));
      }
      const body = el('p', { class: 'svc-body', text: a.body, hidden: true, style: { whiteSpace: 'pre-wrap', fontSize: '14px' } });
      const head = el('button', { type: 'button', class: 'link svc-title', text: a.title + (grouped ? '' : '（' + a.categoryZh + '）'), style: { textAlign: 'left' } });
      head.onclick = () => (body.hidden = !body.hidden);
      list.append(el('div', { class: 'svc-item' }, head, body));
    }
    if (articles.length === 0) list.append(el('p', { class: 'hint', text: '没有找到相关内容，可拨打热线咨询' }));
  };
  const cached = load(LS_KB);
  async function all() {
    try {
      const r = await call('GET', '/citizen/v1/kb', undefined, cached && cached.etag ? { 'if-none-match': cached.etag } : undefined);
      const body = r.status === 304 ? cached.body : r.body;
      if (r.status === 200) save(LS_KB, { etag: r.etag, body });
      render(body.articles, true);
    } catch (err) {
      if (cached) {
        render(cached.body.articles, true);
        msg(out, '当前离线，显示的是上次获取的内容');
      } else msg(out, err.message, true);
    }
  }
  let t = 0;
  q.oninput = () => {
    clearTimeout(t);
    t = setTimeout(async () => {
      const s = q.value.trim();
      if (!s) return all();
      try {
        const r = await call('GET', '/citizen/v1/kb/search?' + new URLSearchParams({ q: s }));
        render(r.body.hits, false);
      } catch {
        // offline: search the kept copy by plain substring
        const c = load(LS_KB);
        if (c) render(c.body.articles.filter((a) => (a.title + a.body).includes(s)), false);
      }
    }, 250);
  };
  all();
  return el('div', null, q, out, list);
}

// ---- 行程卡 ----------------------------------------------------------------

function travelPane() {
  const phone = el('input', { inputmode: 'tel', maxlength: 14, placeholder: '手机号' });
  const code = el('input', { inputmode: 'numeric', maxlength: 6, placeholder: '短信验证码' });
  const send = el('button', { type: 'button', text: '获取验证码' });
  const dev = el('p', { class: 'svc-dev', hidden: true, style: { background: '#fff4e0', color: '#7a4b00', padding: '6px', borderRadius: '6px' } });
  const out = el('div', { class: 'result', role: 'status' });
  const card = el('div');
  send.onclick = async () => {
    msg(out, '');
    dev.hidden = true;
    try {
      const r = await call('POST', '/citizen/v1/travel-card/code', { phone: phone.value.trim() });
      msg(out, '验证码已发送，5 分钟内有效');
      if (r.body.devCode) {
        // development only (embedded demo without an SMS gateway): clearly marked, never in production
        dev.textContent = '【开发环境，仅供测试】验证码：' + r.body.devCode;
        dev.hidden = false;
      }
    } catch (err) {
      msg(out, err.message, true);
    }
  };
  const form = el('form', { class: 'svc-form', style: FORM }, el('label', { text: '手机号' }, phone), send, dev,
    el('label', { text: '验证码' }, code), el('button', { type: 'submit', class: 'primary', text: '查询行程卡' }));
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    msg(out, '');
    card.textContent = '';
    try {
      const r = await call('POST', '/citizen/v1/travel-card', { phone: phone.value.trim(), code: code.value.trim() });
      const c = r.body;
      card.append(el('h3', { text: c.phoneMasked + ' 的动态行程卡' }),
        el('p', { class: 'hint', text: c.from + ' 至 ' + c.to + '（近 14 天）到达或途经：' }));
      if (c.stays.length === 0) card.append(el('p', { text: '近 14 天没有到访记录' }));
      for (const s of c.stays) {
        card.append(el('p', { class: 'svc-item', 'data-risk': s.risk || undefined,
          text: (s.risk ? '* ' : '') + s.regionZh + '（' + s.firstDay.slice(5) + (s.lastDay !== s.firstDay ? ' 至 ' + s.lastDay.slice(5) : '') + '）' + (s.riskZh ? ' ' + s.riskZh : '') }));
      }
      if (c.anyRisk) card.append(el('p', { class: 'svc-warn', text: '* 表示该城市有中高风险地区。请按要求进行核酸检测，健康码可能转为黄码。' }));
    } catch (err) {
      msg(out, err.message, true);
    }
  };
  return el('div', null, form, out, card);
}

// ---- 入川即检 采样登记 ------------------------------------------------------

function samplingPane() {
  const out = el('div', { class: 'result', role: 'status' });
  const status = el('div');
  const canvas = el('canvas', { class: 'svc-qr', role: 'img', 'aria-label': '采样码', width: 0, height: 0, style: { width: '220px', imageRendering: 'pixelated' } });
  const reg = el('button', { type: 'button', class: 'primary', text: '登记并生成采样码' });
  async function refresh() {
    status.textContent = '';
    try {
      const r = await call('GET', '/citizen/v1/sampling');
      status.append(el('p', { text: r.body.entryNotice ? '入川即检提醒：' + r.body.entryNotice.message : '当前没有入川即检提醒' }));
      const last = r.body.registrations[0];
      if (last) show(last);
    } catch (err) {
      msg(out, err.message, true);
    }
  }
  function show(x) {
    status.append(el('p', { class: 'svc-item', 'data-status': x.status, text: '登记 ' + x.id + '：' + x.statusZh + (x.site ? '（' + x.site + '）' : '') }));
    if (x.qr) {
      opts.drawQr(canvas, opts.encodeQr(x.qr), 6);
      canvas.dataset.qr = x.qr;
      canvas.hidden = false;
      status.append(el('p', { class: 'hint', text: '请到采样点出示此码，有效至 ' + opts.when(x.expiresAt) }));
    } else canvas.hidden = true;
  }
  reg.onclick = async () => {
    msg(out, '');
    try {
      await call('POST', '/citizen/v1/sampling', {});
      await refresh();
    } catch (err) {
      msg(out, err.message, true);
    }
  };
  refresh();
  return el('div', null, reg, out, canvas, status);
}

// ---- the dialog ----------------------------------------------------------

const TABS = [
  ['appeals', '我要申诉', appealsPane],
  ['help', '咨询帮助', helpPane],
  ['travel', '行程卡', travelPane],
  ['sampling', '采样登记', samplingPane],
];

/**
 * Opens the services dialog.
 * @param {{dialog: HTMLDialogElement, session: string, apiBase: string|null, tab?: string,
 *          when: (unixS: number) => string, encodeQr: Function, drawQr: Function}} o
 */
export function open(o) {
  opts = o;
  const d = o.dialog;
  d.textContent = '';
  d.className = 'scan svc';
  const nav = el('nav', { class: 'svc-tabs', style: { display: 'flex', flexWrap: 'wrap', gap: '6px', marginBottom: '10px' } });
  pane = el('div', { class: 'svc-pane', style: { maxHeight: '65vh', overflowY: 'auto', marginBottom: '10px' } });
  const close = el('button', { type: 'button', class: 'close', text: '关闭' });
  close.onclick = () => d.close();
  d.append(el('h2', { text: '便民服务' }), nav, pane, close);
  const select = (id) => {
    for (const b of nav.children) b.className = b.dataset.tab === id ? 'primary' : '';
    pane.textContent = '';
    if (!o.apiBase) {
      pane.append(el('p', { class: 'hint', text: '便民服务暂不可用，请从应用内打开' }));
      return;
    }
    pane.append(TABS.find((t) => t[0] === id)[2]());
  };
  for (const [id, label] of TABS) {
    // flex none: the page's button.primary grows (flex: 1) on the code screen, not here
    const b = el('button', { type: 'button', text: label, 'data-tab': id, style: { flex: 'none', padding: '8px 10px' } });
    b.onclick = () => select(id);
    nav.append(b);
  }
  select(o.tab || 'appeals');
  if (!d.open) d.showModal();
}
