/**
 * "扫场所码": read a venue's place code with the camera where the browser has
 * BarcodeDetector (Shape Detection API, WICG) and a camera, or type it, then
 * POST /v1/scan (DESIGN §5) and show what the edge answered.
 *
 * Loaded on demand (dynamic import) so the cold load of the code screen does
 * not carry it. Imports nothing from the page: a shared module would become a
 * third chunk that the page itself must load first.
 */

const SCAN_ERRORS = {
  400: '场所码格式不正确，请核对后重新输入',
  401: '登录已失效，请重新登录后扫码',
  404: '未找到该场所码，请核对编号',
  413: '场所码格式不正确，请核对后重新输入',
};

let stream = null;
let timer = 0;

function stopCamera(video) {
  clearTimeout(timer);
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  video.srcObject = null;
  video.hidden = true;
}

/**
 * A venue id from what a place code carries: the printed place code
 * `HCV1:<id>` (admin-api/place-code.ts), the id itself, or a URL with ?v=<id>
 * or ending in /<id>.
 */
export function venueId(text) {
  const s = String(text).trim();
  if (/^HCV1:/i.test(s)) return s.slice(5).trim();
  if (/^https?:\/\//i.test(s)) {
    try {
      const u = new URL(s);
      return u.searchParams.get('v') || u.pathname.split('/').filter(Boolean).pop() || '';
    } catch {
      return s;
    }
  }
  return s;
}

async function startCamera(video, onCode) {
  if (!('BarcodeDetector' in globalThis) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return false;
  try {
    const formats = await globalThis.BarcodeDetector.getSupportedFormats();
    if (!formats.includes('qr_code')) return false;
    const detector = new globalThis.BarcodeDetector({ formats: ['qr_code'] });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const look = async () => {
      if (!stream) return;
      try {
        const found = await detector.detect(video);
        if (found.length && found[0].rawValue) {
          onCode(found[0].rawValue);
          return;
        }
      } catch {
        // a frame that is not ready yet
      }
      timer = setTimeout(look, 200);
    };
    look();
    return true;
  } catch {
    stopCamera(video);
    return false;
  }
}

export function scan({ dialog, session, when, colors, onEntry, onDone }) {
  const q = (sel) => dialog.querySelector(sel);
  const video = q('video');
  const form = q('form');
  const out = q('.result');
  const hint = q('.hint');
  out.textContent = '';
  out.className = 'result';
  form.code.value = '';

  const submit = async (raw) => {
    const venue = venueId(raw);
    if (!venue) return;
    stopCamera(video);
    out.className = 'result';
    out.textContent = '正在登记…';
    try {
      const r = await fetch('/v1/scan', {
        method: 'POST',
        headers: { authorization: 'Bearer ' + session, 'content-type': 'application/json' },
        body: JSON.stringify({ venue }),
      });
      const j = await r.json().catch(() => ({}));
      // the edge's messages are for operators (English): say it in Chinese by status
      if (!r.ok) throw new Error(SCAN_ERRORS[r.status] || '登记失败（' + r.status + '），请稍后再试');
      const v = j.venue || {};
      const name = typeof v === 'string' ? v : v.name || v.id || venue;
      out.className = 'result ok ' + (j.color || '');
      out.textContent = '';
      const h = document.createElement('strong');
      h.textContent = '已登记：' + name;
      const p = document.createElement('p');
      p.textContent = (colors[j.color] || '') + ' · ' + when(Math.floor(Date.now() / 1000));
      out.append(h, p);
      for (const n of j.notices || []) {
        const li = document.createElement('p');
        li.className = 'notice';
        li.dataset.kind = n.kind;
        li.textContent = n.message;
        out.append(li);
        if (n.kind === 'entry_test') onEntry(n);
      }
      onDone();
    } catch (err) {
      out.className = 'result bad';
      out.textContent = err instanceof TypeError ? '网络不可用，请联网后再扫码' : err.message;
    }
  };

  form.onsubmit = (ev) => {
    ev.preventDefault();
    submit(form.code.value);
  };
  q('.close').onclick = () => {
    stopCamera(video);
    dialog.close();
  };
  dialog.onclose = () => stopCamera(video);
  dialog.showModal();
  hint.textContent = '正在打开相机…';
  startCamera(video, submit).then((ok) => {
    hint.textContent = ok ? '将场所码放入框内，或手动输入' : '此设备不能扫码，请输入场所码下方的编号';
  });
}
