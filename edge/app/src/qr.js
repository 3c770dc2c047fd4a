/**
 * Minimal QR Code encoder for the citizen page: alphanumeric mode only,
 * error correction level M, versions 1–40 (ISO/IEC 18004:2015).
 *
 * Why our own and not a library: the TF1 text (DESIGN §4: "TF1:" + Base45 of
 * 93 bytes = 4 + 140 = 144 characters) is all in the 45-character alphanumeric set, so
 * one mode is enough. A general encoder (byte, kanji, numeric, mode
 * optimisation, SVG/PNG output) costs 5–7 KB compressed; this one about 1.5 KB,
 * and every 10 KB is 0.2 s at 400 kbit/s (issue 6). Structure after Project
 * Nayuki's reference encoder (MIT); mask penalties as in the npm `qrcode`
 * package so that both choose the same mask (qr.test.ts compares the two
 * module for module).
 *
 * 144 characters need version 6-M (41×41 modules, 154 alphanumeric characters
 * capacity, ISO/IEC 18004 Table 7).
 */

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

// Level M, indexed by version (ISO/IEC 18004 Table 9): error correction
// codewords per block, and the number of blocks.
const ECC_PER_BLOCK = [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28];
const BLOCKS = [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49];

/** Modules that carry data or ECC bits (function patterns removed), ISO/IEC 18004 §7.1. */
function rawModules(ver) {
  let n = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const a = Math.floor(ver / 7) + 2;
    n -= (25 * a - 10) * a - 55;
    if (ver >= 7) n -= 36;
  }
  return n;
}

function dataCodewords(ver) {
  return (rawModules(ver) >> 3) - ECC_PER_BLOCK[ver] * BLOCKS[ver];
}

/** GF(2^8) multiply modulo x^8+x^4+x^3+x^2+1 (0x11D), ISO/IEC 18004 §7.5.2. */
function gfMul(x, y) {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z;
}

/** Generator polynomial of the given degree, highest coefficient (1) dropped. */
function rsDivisor(degree) {
  const r = new Uint8Array(degree);
  r[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      r[j] = gfMul(r[j], root);
      if (j + 1 < degree) r[j] ^= r[j + 1];
    }
    root = gfMul(root, 2);
  }
  return r;
}

function rsRemainder(data, div) {
  const n = div.length;
  const r = new Uint8Array(n);
  for (const b of data) {
    const f = b ^ r[0];
    r.copyWithin(0, 1);
    r[n - 1] = 0;
    for (let i = 0; i < n; i++) r[i] ^= gfMul(div[i], f);
  }
  return r;
}

/**
 * Bit stream (ISO/IEC 18004 §7.4): mode 0010, character count (9/11/13 bits by
 * version range), pairs as 45a+b in 11 bits, a last single in 6 bits,
 * terminator, pad to a byte, then pad codewords 0xEC 0x11.
 */
function encodeData(text, ver) {
  const cap = dataCodewords(ver);
  const out = new Uint8Array(cap);
  let bit = 0;
  const put = (val, len) => {
    for (let i = len - 1; i >= 0; i--, bit++) if ((val >>> i) & 1) out[bit >> 3] |= 0x80 >> (bit & 7);
  };
  put(2, 4);
  put(text.length, ver < 10 ? 9 : ver < 27 ? 11 : 13);
  let i = 0;
  for (; i + 1 < text.length; i += 2) put(ALNUM.indexOf(text[i]) * 45 + ALNUM.indexOf(text[i + 1]), 11);
  if (i < text.length) put(ALNUM.indexOf(text[i]), 6);
  bit = Math.min(bit + 4, cap * 8); // terminator (zeros already there)
  bit = (bit + 7) & ~7;
  for (let p = 0xec; bit < cap * 8; p ^= 0xec ^ 0x11, bit += 8) out[bit >> 3] = p;
  return out;
}

/** Split into blocks, append RS codewords, interleave (ISO/IEC 18004 §7.6). */
function interleave(data, ver) {
  const nb = BLOCKS[ver];
  const ecl = ECC_PER_BLOCK[ver];
  const raw = rawModules(ver) >> 3;
  const nShort = nb - (raw % nb);
  const shortLen = Math.floor(raw / nb); // data + ecc of a short block
  const div = rsDivisor(ecl);
  const blocks = [];
  for (let b = 0, k = 0; b < nb; b++) {
    const len = shortLen - ecl + (b < nShort ? 0 : 1);
    const dat = data.subarray(k, k + len);
    k += len;
    blocks.push([dat, rsRemainder(dat, div)]);
  }
  const out = new Uint8Array(raw);
  let o = 0;
  for (let i = 0; i <= shortLen - ecl; i++) {
    for (const [dat] of blocks) if (i < dat.length) out[o++] = dat[i];
  }
  for (let i = 0; i < ecl; i++) for (const [, ecc] of blocks) out[o++] = ecc[i];
  return out;
}

function maskBit(m, y, x) {
  switch (m) {
    case 0: return (x + y) % 2 === 0;
    case 1: return y % 2 === 0;
    case 2: return x % 3 === 0;
    case 3: return (x + y) % 3 === 0;
    case 4: return (Math.floor(y / 2) + Math.floor(x / 3)) % 2 === 0;
    case 5: return ((x * y) % 2) + ((x * y) % 3) === 0;
    case 6: return (((x * y) % 2) + ((x * y) % 3)) % 2 === 0;
    default: return (((x + y) % 2) + ((x * y) % 3)) % 2 === 0;
  }
}

/** Penalty N1–N4 (ISO/IEC 18004 §7.8.3), computed as the npm `qrcode` package does. */
function penalty(mod, size) {
  let p = 0;
  let dark = 0;
  for (let a = 0; a < size; a++) {
    let runH = 0;
    let runV = 0;
    let lastH = -1;
    let lastV = -1;
    let winH = 0;
    let winV = 0;
    for (let b = 0; b < size; b++) {
      const h = mod[a * size + b];
      const v = mod[b * size + a];
      dark += h;
      if (h === lastH) runH++;
      else {
        if (runH >= 5) p += runH - 2;
        lastH = h;
        runH = 1;
      }
      if (v === lastV) runV++;
      else {
        if (runV >= 5) p += runV - 2;
        lastV = v;
        runV = 1;
      }
      winH = ((winH << 1) & 0x7ff) | h;
      winV = ((winV << 1) & 0x7ff) | v;
      if (b >= 10) {
        if (winH === 0x5d0 || winH === 0x05d) p += 40;
        if (winV === 0x5d0 || winV === 0x05d) p += 40;
      }
      if (a < size - 1 && b < size - 1) {
        const s = h + mod[a * size + b + 1] + mod[(a + 1) * size + b] + mod[(a + 1) * size + b + 1];
        if (s === 0 || s === 4) p += 3;
      }
    }
    if (runH >= 5) p += runH - 2;
    if (runV >= 5) p += runV - 2;
  }
  return p + 10 * Math.abs(Math.ceil((dark * 100) / (size * size) / 5) - 10);
}

/**
 * Encodes `text` (characters of the QR alphanumeric set only) at level M.
 * Returns { size, version, mask, modules } where modules[y * size + x] is 1 for
 * a dark module. `mask` forces a mask pattern 0–7 (tests); default: lowest penalty.
 */
export function encodeQr(text, mask = -1) {
  for (const c of text) if (ALNUM.indexOf(c) < 0) throw new RangeError('QR alphanumeric mode cannot encode ' + JSON.stringify(c));
  let ver = 1;
  // bits needed: 4 mode + count + 11 per pair + 6 for an odd one
  const bits = (v) => 4 + (v < 10 ? 9 : v < 27 ? 11 : 13) + 11 * (text.length >> 1) + 6 * (text.length & 1);
  while (bits(ver) > dataCodewords(ver) * 8) if (++ver > 40) throw new RangeError('text too long for a QR code');

  const size = ver * 4 + 17;
  const mod = new Uint8Array(size * size);
  const fn = new Uint8Array(size * size);
  const set = (x, y, d) => {
    mod[y * size + x] = d ? 1 : 0;
    fn[y * size + x] = 1;
  };

  // timing patterns, then finders (with separators) over them
  for (let i = 0; i < size; i++) {
    set(6, i, i % 2 === 0);
    set(i, 6, i % 2 === 0);
  }
  const finder = (cx, cy) => {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        if (x >= 0 && x < size && y >= 0 && y < size) set(x, y, d !== 2 && d !== 4);
      }
    }
  };
  finder(3, 3);
  finder(size - 4, 3);
  finder(3, size - 4);

  // alignment patterns (ISO/IEC 18004 Annex E), not over the finders
  if (ver > 1) {
    const n = Math.floor(ver / 7) + 2;
    const step = ver === 32 ? 26 : Math.ceil((ver * 4 + 4) / (n * 2 - 2)) * 2;
    const pos = [6];
    for (let p = size - 7; pos.length < n; p -= step) pos.splice(1, 0, p);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if ((i === 0 && j === 0) || (i === 0 && j === n - 1) || (i === n - 1 && j === 0)) continue;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) set(pos[i] + dx, pos[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
        }
      }
    }
  }

  // format information: 5 bits (level M = 00, mask) + BCH(15,5), XOR 0x5412 (§7.9)
  const format = (m) => {
    const d = m; // level M's two bits are 00
    let r = d;
    for (let i = 0; i < 10; i++) r = (r << 1) ^ ((r >>> 9) * 0x537);
    const b = ((d << 10) | r) ^ 0x5412;
    const g = (i) => (b >>> i) & 1;
    for (let i = 0; i <= 5; i++) set(8, i, g(i));
    set(8, 7, g(6));
    set(8, 8, g(7));
    set(7, 8, g(8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, g(i));
    for (let i = 0; i < 8; i++) set(size - 1 - i, 8, g(i));
    for (let i = 8; i < 15; i++) set(8, size - 15 + i, g(i));
    set(8, size - 8, 1); // the dark module
  };
  format(0); // reserve the areas

  // version information for version ≥ 7: BCH(18,6) (§7.10)
  if (ver >= 7) {
    let r = ver;
    for (let i = 0; i < 12; i++) r = (r << 1) ^ ((r >>> 11) * 0x1f25);
    const b = (ver << 12) | r;
    for (let i = 0; i < 18; i++) {
      const a = size - 11 + (i % 3);
      const c = Math.floor(i / 3);
      set(a, c, (b >>> i) & 1);
      set(c, a, (b >>> i) & 1);
    }
  }

  // data in two-module columns, zig-zag from the bottom right (§7.7.3)
  const cw = interleave(encodeData(text, ver), ver);
  let k = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    const up = ((right + 1) & 2) === 0;
    for (let v = 0; v < size; v++) {
      const y = up ? size - 1 - v : v;
      for (let j = 0; j < 2; j++) {
        const i = y * size + right - j;
        if (!fn[i] && k < cw.length * 8) {
          mod[i] = (cw[k >> 3] >>> (7 - (k & 7))) & 1;
          k++;
        }
      }
    }
  }

  const applyMask = (m) => {
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (!fn[y * size + x] && maskBit(m, y, x)) mod[y * size + x] ^= 1;
  };
  if (mask < 0) {
    let best = Infinity;
    for (let m = 0; m < 8; m++) {
      applyMask(m);
      format(m);
      const p = penalty(mod, size);
      if (p < best) {
        best = p;
        mask = m;
      }
      applyMask(m);
    }
  }
  applyMask(mask);
  format(mask);
  return { size, version: ver, mask, modules: mod };
}

/**
 * Draws the symbol on a canvas with the 4-module quiet zone the standard
 * requires (§6.3.8), `scale` device pixels per module.
 */
/**
 * `ink` tints the dark modules (the code colour, issue 15 item 8); the caller
 * keeps it dark enough against white for scanners (≥ 4.5:1 contrast).
 */
export function drawQr(canvas, qr, scale, ink) {
  const n = qr.size + 8;
  canvas.width = canvas.height = n * scale;
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, n * scale, n * scale);
  g.fillStyle = ink || '#000';
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) if (qr.modules[y * qr.size + x]) g.fillRect((x + 4) * scale, (y + 4) * scale, scale, scale);
  }
}
