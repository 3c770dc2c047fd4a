import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { DISPLAY_HEADER_BYTES, displayExpiresAt, displayKid, encodeDisplayEntry } from '../core/replica-layout.js';
import { issueSession } from '../core/session-token.js';
import { decodeTf1 } from '../core/tf1.js';
import { signTf1, verifyTf1 } from '../core/token.js';
import { generateSigningKey } from '../core/signing-key.js';
import { readNodeKeys, rotateNodeKey } from '../edge/node-keys.js';
import { ScanSpool } from '../edge/scan-spool.js';
import { call, nowSec, type Answer, record, RISK_AREA, startEdgeNode, uidOf, VENUE_ENTRY, VENUE_NORMAL, VENUE_RISKY, type EdgeNode } from './edge-fixture.js';

let node: EdgeNode;
let spool: ScanSpool;

beforeAll(async () => {
  node = await startEdgeNode({ people: 40 });
  // the server's spool env, opened a second time in this process (lmdb-js shares the env): reads what the server committed
  spool = ScanSpool.open(node.dataDir);
});
afterAll(async () => {
  await spool.close();
  await node.close();
});

async function publishedKeys(): Promise<KeySet> {
  const r = await call(node.base, '/v1/keys');
  expect(r.status).toBe(200);
  return KeySet.fromPublicJson(r.json);
}

async function display(i: number): Promise<Answer> {
  return call(node.base, '/v1/code', { auth: node.session(uidOf(i)) });
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Raw HTTP over a socket: for bodies and aborts fetch will not produce. */
function raw(request: string | Buffer, opts: { endAfterWrite?: boolean; destroyAfterMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(Number(new URL(node.base).port), '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString('utf8')));
    s.on('error', (e) => (opts.destroyAfterMs !== undefined ? resolve(out) : reject(e)));
    s.on('close', () => resolve(out));
    s.write(request);
    if (opts.destroyAfterMs !== undefined) setTimeout(() => s.destroy(), opts.destroyAfterMs);
    else if (opts.endAfterWrite) s.end();
  });
}

describe('edge health', () => {
  it('answers healthz and readyz on a fresh, synced replica', async () => {
    const h = await call(node.base, '/healthz');
    expect(h.status).toBe(200);
    expect(h.json).toEqual({ status: 'ok', pid: process.pid });
    const r = await call(node.base, '/readyz');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ready: true, maxLagSec: 60, signingKeyPublished: true });
    expect(r.json.lagSec).toBeLessThan(60);
  });
});

describe('GET /v1/code', () => {
  it('signs on a miss: the token verifies with the published keys, then is served from the stored bytes', async () => {
    const before = (await call(node.base, '/metrics')).text;
    const a = await display(1);
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ color: 'green', reason: 'none', since: 1_780_000_000, until: null, name: '张*三', notices: [] });
    expect(Object.keys(a.json)).toEqual(['color', 'reason', 'since', 'until', 'name', 'token', 'expiresAt', 'notices']);
    const claims = verifyTf1(a.json.token, await publishedKeys(), nowSec());
    expect(claims.uid.equals(uidOf(1))).toBe(true);
    expect(claims.color).toBe(0);
    expect(claims.exp).toBe(a.json.expiresAt);
    expect(claims.exp - claims.iat).toBe(3600);
    // stored in the replica exactly as sent
    let entry: Uint8Array | undefined;
    for (let i = 0; i < 50 && entry === undefined; i++) {
      entry = node.writer.displayEntry(uidOf(1));
      if (entry === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    expect(Buffer.from(entry!.subarray(DISPLAY_HEADER_BYTES)).toString('utf8')).toBe(a.text);
    expect(displayExpiresAt(entry!)).toBe(claims.exp);
    expect(displayKid(entry!)).toBe(claims.kid);
    const b = await display(1);
    expect(b.text).toBe(a.text);
    const after = (await call(node.base, '/metrics')).text;
    expect(metric(after, 'edge_display_total', 'result="hit"') - metric(before, 'edge_display_total', 'result="hit"')).toBe(1);
    expect(metric(after, 'edge_display_total', 'result="miss"') - metric(before, 'edge_display_total', 'result="miss"')).toBe(1);
  });

  it('sends a stored display entry byte for byte (the hot path touches nothing else)', async () => {
    const body = Buffer.from('{"color":"yellow","reason":"precomputed","token":"TF1:X","notices":[],"extra":"é"}');
    const [key] = readNodeKeys(node.dataDir)!;
    await node.writer.putDisplay(uidOf(2), encodeDisplayEntry(nowSec() + 3000, key!.kid, body));
    const r = await display(2);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(Buffer.from(r.text).equals(body)).toBe(true);
  });

  it('re-signs a stored display whose token is near expiry (< 10 % left)', async () => {
    const [key] = readNodeKeys(node.dataDir)!;
    await node.writer.putDisplay(uidOf(3), encodeDisplayEntry(nowSec() + 100, key!.kid, Buffer.from('{"old":true}')));
    const r = await display(3);
    expect(r.json.color).toBe('green');
    expect(r.json.expiresAt).toBeGreaterThan(nowSec() + 3000);
  });

  it('shows the new colour after a code change (the delta deletes the stored display)', async () => {
    const first = await display(4);
    expect(first.json.color).toBe('green');
    node.setCode(uidOf(4), record('red', 0, { reason: 'confirmed', notices: [{ kind: 'isolation', message: '请居家隔离', until: null }] }));
    const second = await display(4);
    expect(second.json).toMatchObject({ color: 'red', reason: 'confirmed', notices: [{ kind: 'isolation', message: '请居家隔离' }] });
    expect(verifyTf1(second.json.token, await publishedKeys(), nowSec()).color).toBe(2);
  });

  it('serves repeat displays from memory, and a code change drops that person’s body only (display cache)', async () => {
    const cached = (t: string, ev: string) => metric(t, 'edge_display_cache_total', `event="${ev}"`);
    // one session per person for the whole test: a token issued in another
    // second is another session (another slot), whose first display is a miss
    const auth = new Map([6, 7].map((i) => [i, node.session(uidOf(i))] as const));
    const display = (i: number): Promise<Answer> => call(node.base, '/v1/code', { auth: auth.get(i)! });
    for (const i of [6, 7]) for (let k = 0; k < 3; k++) expect((await display(i)).json.color).toBe('green');
    const before = (await call(node.base, '/metrics')).text;
    const a = await display(6);
    const b = await display(7);
    const mid = (await call(node.base, '/metrics')).text;
    expect(cached(mid, 'hit') - cached(before, 'hit')).toBe(2);
    node.setCode(uidOf(6), record('yellow', 0, { reason: 'risk_area_visit' }));
    expect((await display(6)).json.color).toBe('yellow');
    expect((await display(7)).text).toBe(b.text);
    const after = (await call(node.base, '/metrics')).text;
    expect(cached(after, 'drop') - cached(mid, 'drop')).toBe(1);
    expect(cached(after, 'flush')).toBe(cached(mid, 'flush'));
    expect(cached(after, 'hit') - cached(mid, 'hit')).toBe(1); // person 7, from memory
    expect(a.json.color).toBe('green');
  });

  it('shows an entry-test notice while it is in force, and drops notices that have ended', async () => {
    node.setCode(uidOf(5), record('green', 0, {
      notices: [
        { kind: 'entry_test', message: '入川即检：请在24小时内完成核酸检测', until: nowSec() + 86_400 },
        { kind: 'old', message: 'ended', until: nowSec() - 1 },
      ],
    }));
    const r = await display(5);
    expect(r.json.notices).toEqual([{ kind: 'entry_test', message: '入川即检：请在24小时内完成核酸检测' }]);
  });

  it('answers 404 not_registered for a person not on the replica', async () => {
    const r = await display(9999);
    expect(r.status).toBe(404);
    expect(r.json.error).toBe('not_registered');
    expect(typeof r.json.message).toBe('string');
  });

  it('coalesces concurrent misses for one person into one signature', async () => {
    const before = (await call(node.base, '/metrics')).text;
    const answers = await Promise.all(Array.from({ length: 16 }, () => display(6)));
    for (const a of answers) expect(a.json.token).toBe(answers[0]!.json.token);
    const after = (await call(node.base, '/metrics')).text;
    const d = (n: string, l: string) => metric(after, n, l) - metric(before, n, l);
    // every request was a hit, a signature, or joined a signature in flight
    expect(d('edge_display_total', 'result="hit"') + d('edge_display_total', 'result="miss"')).toBe(16);
    expect(d('edge_sign_latency_seconds_count', 'pid=') + d('edge_display_total', 'result="coalesced"')).toBe(d('edge_display_total', 'result="miss"'));
  });
});

describe('sessions', () => {
  it('401 EDGE_ERR_UNAUTHENTICATED without a bearer token', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }] as Record<string, string>[]) {
      const r = await call(node.base, '/v1/code', { headers });
      expect(r.status).toBe(401);
      expect(r.json.error).toBe('EDGE_ERR_UNAUTHENTICATED');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('401 with the CORE_ERR_SESSION_* code for malformed, forged and expired sessions', async () => {
    const cases: [string, string][] = [
      ['not-a-token', 'CORE_ERR_SESSION_MALFORMED'],
      [issueSession(Buffer.alloc(32, 9), uidOf(1), nowSec() + 600), 'CORE_ERR_SESSION_BAD_MAC'],
      [issueSession(node.config.sessionKey, uidOf(1), nowSec() - 1), 'CORE_ERR_SESSION_EXPIRED'],
    ];
    for (const [token, code] of cases) {
      const r = await call(node.base, '/v1/code', { auth: token });
      expect(r.status).toBe(401);
      expect(r.json.error).toBe(code);
    }
  });

  it('accepts the scheme in any case (RFC 9110 §11.1)', async () => {
    const r = await call(node.base, '/v1/code', { headers: { authorization: `bearer ${node.session(uidOf(1))}` } });
    expect(r.status).toBe(200);
  });
});

describe('POST /v1/scan', () => {
  it('records the scan durably before answering, and answers colour, venue and notices', async () => {
    const uid = uidOf(10);
    const r = await call(node.base, '/v1/scan', { method: 'POST', auth: node.session(uid), body: JSON.stringify({ venue: VENUE_NORMAL.id }) });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ color: 'green', name: '张*三', venue: { id: VENUE_NORMAL.id, name: VENUE_NORMAL.name, kind: 'normal' }, riskArea: null, notices: [] });
    // the answer came after the commit: the event is already readable
    await spool.absorb(); // the server wrote its write-ahead file; the shipper would absorb it
    const events = spool.readBatch(null, 1000).filter((e) => Buffer.from(e.event.uid).equals(uid));
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toMatchObject({ kind: 'scan', venue: VENUE_NORMAL.id, color: 'green' });
    expect(Math.abs(events[0]!.event.at - Date.now())).toBeLessThan(60_000);
  });

  it('answers the 入川即检 notice at an entry venue', async () => {
    const r = await call(node.base, '/v1/scan', { method: 'POST', auth: node.session(uidOf(11)), body: JSON.stringify({ venue: VENUE_ENTRY.id }) });
    expect(r.status).toBe(200);
    expect(r.json.venue.kind).toBe('entry');
    expect(r.json.notices).toHaveLength(1);
    expect(r.json.notices[0].kind).toBe('entry_test');
    expect(r.json.notices[0].message).toContain('入川即检');
    expect(r.json.notices[0].message).toContain('24');
  });

  it('shows the risk area of the venue (its district is high risk)', async () => {
    const r = await call(node.base, '/v1/scan', { method: 'POST', auth: node.session(uidOf(12)), body: JSON.stringify({ venue: VENUE_RISKY.id }) });
    expect(r.json.riskArea).toEqual({ region: RISK_AREA.region, level: 'high' });
    expect(r.json.notices.map((n: { kind: string }) => n.kind)).toEqual(['risk_area']);
  });

  it('refuses bad input with stable codes', async () => {
    const auth = node.session(uidOf(13));
    const post = (body: string | Uint8Array, a: string | null = auth) => call(node.base, '/v1/scan', { method: 'POST', auth: a ?? undefined, body });
    const cases: [Promise<{ status: number; json: any }>, number, string][] = [
      [post(JSON.stringify({ venue: 'NO-SUCH-VENUE' })), 404, 'EDGE_ERR_VENUE_UNKNOWN'],
      [post('{"venue":'), 400, 'EDGE_ERR_JSON'],
      [post('[1,2]'), 400, 'EDGE_ERR_JSON'],
      [post(''), 400, 'EDGE_ERR_JSON'],
      [post(JSON.stringify({ place: VENUE_NORMAL.id })), 400, 'EDGE_ERR_FIELD'],
      [post(JSON.stringify({ venue: 42 })), 400, 'EDGE_ERR_FIELD'],
      [post(JSON.stringify({ venue: 'x'.repeat(65) })), 400, 'EDGE_ERR_FIELD'],
      [post(JSON.stringify({ venue: VENUE_NORMAL.id, pad: 'x'.repeat(5000) })), 413, 'EDGE_ERR_BODY_TOO_LARGE'],
      [post(JSON.stringify({ venue: VENUE_NORMAL.id }), null), 401, 'EDGE_ERR_UNAUTHENTICATED'],
      [post(JSON.stringify({ venue: VENUE_NORMAL.id }), 'garbage'), 401, 'CORE_ERR_SESSION_MALFORMED'],
      // no session and a bad body: the 401 first (the body is read before the session is looked up)
      [post('{"venue":', null), 401, 'EDGE_ERR_UNAUTHENTICATED'],
      [call(node.base, '/v1/scan', { method: 'POST', auth: node.session(uidOf(9999)), body: JSON.stringify({ venue: VENUE_NORMAL.id }) }), 404, 'not_registered'],
    ];
    for (const [p, status, code] of cases) {
      const r = await p;
      expect([r.status, r.json?.error]).toEqual([status, code]);
      expect(typeof r.json.message).toBe('string');
    }
  });

  it('stops reading a streamed body at 4 KB: 413 and the connection is closed', async () => {
    const head = `POST /v1/scan HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${node.session(uidOf(13))}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const chunk = 'x'.repeat(1000);
    const body = Array.from({ length: 6 }, () => `${(1000).toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n';
    const out = await raw(head + body);
    expect(out).toMatch(/^HTTP\/1\.1 413/);
    expect(out).toContain('EDGE_ERR_BODY_TOO_LARGE');
  });

  it('answers 413 at once for a declared Content-Length over 4 KB', async () => {
    const out = await raw(`POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"venue":`);
    expect(out).toMatch(/^HTTP\/1\.1 413/);
    expect(out).toContain('EDGE_ERR_BODY_TOO_LARGE');
  });
});

describe('POST /v1/verify', () => {
  it('answers the CURRENT colour: a green token of a person now red answers red, and records the scan', async () => {
    const uid = uidOf(20);
    const shown = await display(20);
    expect(shown.json.color).toBe('green');
    node.setCode(uid, record('red', 0, { reason: 'confirmed' }));
    const r = await call(node.base, '/v1/verify', { method: 'POST', body: JSON.stringify({ token: shown.json.token, venue: VENUE_NORMAL.id }) });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ valid: true, color: 'red', tokenColor: 'green', changed: true, reason: 'confirmed', name: '张*三', venue: { id: VENUE_NORMAL.id } });
    await spool.absorb(); // the server wrote its write-ahead file; the shipper would absorb it
    const events = spool.readBatch(null, 1000).filter((e) => Buffer.from(e.event.uid).equals(uid));
    expect(events.map((e) => [e.event.kind, e.event.color])).toEqual([['verify', 'red']]);
  });

  it('verifies an unchanged code as valid and unchanged', async () => {
    const shown = await display(21);
    const r = await call(node.base, '/v1/verify', { method: 'POST', body: JSON.stringify({ token: shown.json.token, venue: VENUE_ENTRY.id }) });
    expect(r.json).toMatchObject({ valid: true, color: 'green', tokenColor: 'green', changed: false });
    expect(r.json.notices.map((n: { kind: string }) => n.kind)).toEqual(['entry_test']);
  });

  it('refuses forged, truncated and foreign tokens with the CORE_ERR_TF1_* code', async () => {
    const good: string = (await display(22)).json.token;
    const bytes = decodeTf1(good);
    const forged = Buffer.alloc(93);
    bytes.body.copy(forged, 0);
    bytes.signature.copy(forged, 29);
    forged[20] = 2; // green → red, signature kept
    const { tf1ToText } = await import('../core/tf1.js');
    const stranger = generateSigningKey('Ed25519', 7, nowSec() - 10, nowSec() + 86_400);
    const known = new Set(readNodeKeys(node.dataDir)!.map((k) => k.kid));
    const foreignKid = known.has(7) ? 8 : 7;
    const foreign = signTf1({ ...stranger, kid: foreignKid }, { uid: uidOf(22), color: 0, iat: nowSec() - 5, exp: nowSec() + 600 });
    const cases: [string, string][] = [
      [tf1ToText(forged), 'CORE_ERR_TF1_SIGNATURE'],
      [good.slice(0, 100), 'CORE_ERR_TF1_LENGTH'],
      [good.slice(0, good.length - 1), 'CORE_ERR_TF1_BASE45'],
      ['hello', 'CORE_ERR_TF1_PREFIX'],
      ['TF1:' + 'a'.repeat(140), 'CORE_ERR_TF1_BASE45'],
      [foreign, 'CORE_ERR_TF1_KID'],
    ];
    for (const [token, code] of cases) {
      const r = await call(node.base, '/v1/verify', { method: 'POST', body: JSON.stringify({ token, venue: VENUE_NORMAL.id }) });
      expect([r.status, r.json.error, token.slice(0, 12)]).toEqual([400, code, token.slice(0, 12)]);
    }
  });

  it('refuses bad requests with stable codes', async () => {
    const good: string = (await display(23)).json.token;
    const cases: [string, number, string][] = [
      [JSON.stringify({ token: good, venue: 'NOPE' }), 404, 'EDGE_ERR_VENUE_UNKNOWN'],
      [JSON.stringify({ venue: VENUE_NORMAL.id }), 400, 'EDGE_ERR_FIELD'],
      [JSON.stringify({ token: good }), 400, 'EDGE_ERR_FIELD'],
      [JSON.stringify({ token: 'T'.repeat(300), venue: VENUE_NORMAL.id }), 400, 'EDGE_ERR_FIELD'],
      ['not json', 400, 'EDGE_ERR_JSON'],
      ['null', 400, 'EDGE_ERR_JSON'],
    ];
    for (const [body, status, code] of cases) {
      const r = await call(node.base, '/v1/verify', { method: 'POST', body });
      expect([r.status, r.json.error]).toEqual([status, code]);
    }
  });
});

describe('GET /v1/keys', () => {
  it('serves the replica key set, cacheable with an ETag', async () => {
    const r = await call(node.base, '/v1/keys');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('public, max-age=60');
    const etag = r.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    const mine = readNodeKeys(node.dataDir)!.map((k) => k.kid);
    expect(r.json.keys.map((k: { kid: number }) => k.kid)).toEqual(mine.sort((a, b) => a - b));
    for (const k of r.json.keys) expect(Object.keys(k)).toEqual(['kid', 'alg', 'publicKey', 'notBefore', 'notAfter']);
    expect(r.text).not.toContain('privateKey');
    const again = await call(node.base, '/v1/keys', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
  });
});

describe('routing and aborted requests', () => {
  it('404 EDGE_ERR_ROUTE for unknown routes, 405 EDGE_ERR_METHOD with Allow for wrong methods', async () => {
    const a = await call(node.base, '/v1/nothing');
    expect([a.status, a.json.error]).toEqual([404, 'EDGE_ERR_ROUTE']);
    const b = await call(node.base, '/v1/code', { method: 'POST', body: '{}' });
    expect([b.status, b.json.error, b.headers.get('allow')]).toEqual([405, 'EDGE_ERR_METHOD', 'GET']);
    const c = await call(node.base, '/v1/scan');
    expect([c.status, c.json.error, c.headers.get('allow')]).toEqual([405, 'EDGE_ERR_METHOD', 'POST']);
    const d = await call(node.base, '/v1/keys', { method: 'DELETE' });
    expect([d.status, d.json.error]).toEqual([405, 'EDGE_ERR_METHOD']);
  });

  it('survives clients that hang up mid-body and mid-signature', async () => {
    const auth = node.session(uidOf(30));
    // body promised, never finished
    await raw(`POST /v1/scan HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${auth}\r\nContent-Length: 200\r\n\r\n{"venue":"V`, { destroyAfterMs: 30 });
    await raw(`POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{"tok`, { destroyAfterMs: 30 });
    // a display miss whose client is gone before the signature is back
    await raw(`GET /v1/code HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${node.session(uidOf(31))}\r\n\r\n`, { destroyAfterMs: 0 });
    // half a request line
    await raw('GET /v1/co', { destroyAfterMs: 10 });
    await new Promise((r) => setTimeout(r, 100));
    const ok = await display(31);
    expect(ok.status).toBe(200);
    expect((await call(node.base, '/healthz')).status).toBe(200);
    expect(node.logs.filter((l) => l.includes('internal error'))).toEqual([]);
  });
});

describe('staleness', () => {
  it('past EDGE_MAX_LAG_SEC: readyz 503 and displays carry the stale notice; level again: ready, no notice', async () => {
    const stored = await display(32); // stored while fresh
    expect(stored.json.notices).toEqual([]);
    node.writer.setSyncedAt(Date.now() - 600_000);
    const r = await call(node.base, '/readyz');
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error: 'EDGE_ERR_NOT_READY', ready: false });
    expect(r.json.lagSec).toBeGreaterThan(590);
    // from the stored bytes, with the notice added
    const a = await display(32);
    expect(a.json.token).toBe(stored.json.token);
    expect(a.json.notices).toHaveLength(1);
    expect(a.json.notices[0].kind).toBe('stale');
    expect(a.json.notices[0].message).toContain('状态可能不是最新');
    // a miss while stale: signed, and carries the notice too
    const b = await display(33);
    expect(b.json.notices.map((n: { kind: string }) => n.kind)).toEqual(['stale']);
    // scans say so as well
    const s = await call(node.base, '/v1/scan', { method: 'POST', auth: node.session(uidOf(33)), body: JSON.stringify({ venue: VENUE_NORMAL.id }) });
    expect(s.json.notices.map((n: { kind: string }) => n.kind)).toEqual(['stale']);
    node.writer.setSyncedAt(Date.now());
    expect((await call(node.base, '/readyz')).status).toBe(200);
    const c = await display(33);
    expect(c.json.notices).toEqual([]);
    // the stored bytes never carried the notice
    expect(Buffer.from(node.writer.displayEntry(uidOf(33))!.subarray(DISPLAY_HEADER_BYTES)).toString()).not.toContain('stale');
  });
});

describe('key rotation without restart', () => {
  it('signs with a new key once it is published; tokens of the old key keep verifying', async () => {
    const oldToken: string = (await display(34)).json.token;
    const oldKid = decodeTf1(oldToken).claims.kid;
    const fresh = rotateNodeKey(node.dataDir, { alg: 'SM2', lifetimeSec: 30 * 86_400, now: nowSec() - 1 });
    // not published yet: the node keeps signing with the old key
    let ready = await call(node.base, '/readyz');
    expect(ready.json.signingKid).toBe(oldKid);
    expect(decodeTf1((await display(35)).json.token).claims.kid).toBe(oldKid);
    // sync delivers the new public half
    node.publishNodeKeys();
    ready = await call(node.base, '/readyz');
    expect(ready.json).toMatchObject({ signingKid: fresh.kid, signingKeyPublished: true });
    const t = (await display(36)).json.token as string;
    const keys = await publishedKeys();
    expect(verifyTf1(t, keys, nowSec())).toMatchObject({ kid: fresh.kid, alg: 2 });
    expect(verifyTf1(oldToken, keys, nowSec()).kid).toBe(oldKid);
  });
});

describe('GET /metrics', () => {
  it('exposes requests by route and status, display hits and misses, sign latency, lag and spool depth', async () => {
    const r = await call(node.base, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    for (const name of ['edge_requests_total', 'edge_display_total', 'edge_sign_latency_seconds_bucket', 'edge_replica_lag_seconds', 'edge_spool_depth']) {
      expect(r.text).toContain(`# TYPE ${name.replace(/_bucket$/, '')}`);
    }
    expect(metric(r.text, 'edge_requests_total', 'route="/v1/code",status="200"')).toBeGreaterThan(10);
    expect(metric(r.text, 'edge_requests_total', 'route="/v1/scan",status="404"')).toBeGreaterThan(0);
    // answered scans are counted apart from the map (edge/metrics.ts scansAnswered) and still show here
    expect(metric(r.text, 'edge_requests_total', 'route="/v1/scan",status="200"')).toBeGreaterThan(0);
    expect(metric(r.text, 'edge_spool_depth', 'pid=')).toBe(spool.depth());
    expect(metric(r.text, 'edge_sign_latency_seconds_bucket', 'le="+Inf"')).toBeGreaterThan(0);
  });
});

describe('a node whose replica is not there yet', () => {
  it('starts, answers 503 until sync bootstraps the replica, then serves without a restart', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { edgeConfig, seedReplica } = await import('./edge-fixture.js');
    const { startEdgeServer } = await import('../edge/server.js');
    const dir = mkdtempSync(join(tmpdir(), 'hc-edge-empty-'));
    const config = edgeConfig(dir);
    const logs: string[] = [];
    const server = await startEdgeServer(config, { log: (l) => logs.push(l), writerInProcess: true });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const r = await call(base, '/readyz');
      expect([r.status, r.json.error]).toEqual([503, 'EDGE_ERR_NOT_READY']);
      expect(r.json.message).toContain('replica not loaded');
      const auth = issueSession(config.sessionKey, uidOf(1), nowSec() + 600);
      const d = await call(base, '/v1/code', { auth });
      expect([d.status, d.json.error]).toEqual([503, 'EDGE_ERR_REPLICA_MISSING']);
      expect((await call(base, '/healthz')).status).toBe(200);
      // sync bootstraps the replica (this node's key was created at start; seedReplica publishes it)
      const writer = seedReplica(dir, 3);
      try {
        let ready = await call(base, '/readyz');
        for (let i = 0; i < 50 && ready.status !== 200; i++) {
          await new Promise((res) => setTimeout(res, 100));
          ready = await call(base, '/readyz');
        }
        expect(ready.status).toBe(200);
        const ok = await call(base, '/v1/code', { auth });
        expect(ok.status).toBe(200);
        expect(verifyTf1(ok.json.token, KeySet.fromPublicJson((await call(base, '/v1/keys')).json), nowSec()).color).toBe(0);
      } finally {
        await server.close();
        await writer.close();
      }
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('citizen page at /app/ (issue 6)', () => {
  it('serves the page precompressed with revalidation, its service worker, and 404 / 301 around it', async () => {
    const page = await call(node.base, '/app/', { headers: { 'accept-encoding': 'br' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-encoding')).toBe('br');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.text).toContain('id="qr"');
    const etag = page.headers.get('etag')!;
    const again = await call(node.base, '/app/', { headers: { 'accept-encoding': 'br', 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const sw = await call(node.base, '/app/sw.js');
    expect(sw.status).toBe(200);
    expect(sw.headers.get('content-type')).toMatch(/javascript/);
    const head = await call(node.base, '/app/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const missing = await call(node.base, '/app/../../etc/passwd');
    expect(missing.status).toBe(404);
    const unknown = await call(node.base, '/app/nope.js');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('EDGE_ERR_APP_NOT_FOUND');
    const bare = await fetch(`${node.base}/app`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/app/');
  });
});
