import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySet } from '../core/key-set.js';
import { verifyTf1 } from '../core/token.js';
import { demoName, demoResidentId } from '../demo-data.js';
import { loadStackConfig, type StackConfig } from '../stack-config.js';
import { startEmbeddedStack, type StackHandle } from '../stack.js';
import { adminCredentials, http, logSink, until } from './stack-helpers.js';

/**
 * The embedded stack end to end over real HTTP (DESIGN §5 operating
 * contract, issue 4): PGlite master, in-process bus, publisher, snapshot
 * service, edge daemon, edge server and admin-api in this process, on free
 * loopback ports, in a temp data dir, with a small demo.
 */
const PEOPLE = 300;
const VENUES = 40;

function configFor(dir: string): StackConfig {
  return loadStackConfig({
    HC_DATA_DIR: dir,
    EDGE_PORT: '0',
    ADMIN_PORT: '0',
    SYNC_PORT: '0',
    EDGE_WORKERS: '1',
    HC_DEMO_PEOPLE: String(PEOPLE),
    HC_DEMO_VENUES: String(VENUES),
    HC_NODE_ID: 'test-edge-1',
    ADMIN_LOG_LEVEL: 'silent',
    SESSION_RATE_PER_MIN: '10000',
  });
}

describe('embedded stack (npm start) over real HTTP', () => {
  let dir: string;
  let stack: StackHandle;
  const logs = logSink();
  let edge: string;
  let admin: string;
  const nowSec = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-stack-'));
    stack = await startEmbeddedStack(configFor(dir), { log: logs.log, adminLogStream: logs.stream });
    edge = `http://127.0.0.1:${stack.edgePort}`;
    admin = `http://127.0.0.1:${stack.adminPort}`;
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function session(identity: Record<string, string>): Promise<string> {
    const r = await http('POST', `${admin}/v1/session`, identity);
    expect(r.status, r.text).toBe(200);
    return r.body.token as string;
  }

  async function displayed(token: string, pred: (b: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
    return until(what, async () => {
      const r = await http('GET', `${edge}/v1/code`, undefined, token);
      return r.status === 200 && pred(r.body) ? r.body : undefined;
    });
  }

  async function adminToken(): Promise<string> {
    const c = adminCredentials(dir);
    const r = await http('POST', `${admin}/admin/v1/login`, c);
    expect(r.status, r.text).toBe(200);
    return r.body.token as string;
  }

  it('started what DESIGN §5 promises: demo data, first admin file, a ready edge', async () => {
    expect(stack.master!.demo).not.toBeNull();
    expect(stack.master!.demo!.people).toBe(PEOPLE);
    expect(stack.master!.firstAdmin.created).toBe(true);
    expect(adminCredentials(dir).username).toBe('admin');
    const ready = await until('edge /readyz', async () => {
      const r = await http('GET', `${edge}/readyz`);
      return r.status === 200 ? r.body : undefined;
    });
    expect(ready.ready).toBe(true);
    // the node registered its own key: /v1/keys lists it, and the edge signs with it
    const keys = await until('node key published', async () => {
      const r = await http('GET', `${edge}/v1/keys`);
      return (r.body.keys as unknown[]).length > 0 ? r.body : undefined;
    });
    expect((keys.keys as { alg: string }[])[0]!.alg).toBe('Ed25519');
  });

  it('POST /v1/session then GET /v1/code: a new person is green, with a TF1 token that verifies against /v1/keys', async () => {
    const token = await session({ idType: 'resident', idNo: demoResidentId(900_001), name: '测试者' });
    const code = await displayed(token, () => true, 'the new person on the edge');
    expect(code.color).toBe('green');
    expect(code.name).toBe('测*者');
    const keys = KeySet.fromPublicJson((await http('GET', `${edge}/v1/keys`)).body);
    const claims = verifyTf1(code.token as string, keys, nowSec());
    expect(claims.color).toBe(0);
    expect(code.expiresAt).toBe(claims.exp);
  });

  it('a demo person reaches the edge with the colour the master gave them', async () => {
    const s = stack.master!.store;
    for (const i of [0, 1, 2, 57, PEOPLE - 1]) {
      const p = await s.findPersonByCertificate('resident', demoResidentId(i));
      const master = await s.getCode(p!.id);
      const token = await session({ idType: 'resident', idNo: demoResidentId(i), name: demoName(i) });
      const code = await displayed(token, () => true, `demo person ${i}`);
      expect({ color: code.color, reason: code.reason }).toEqual({ color: master!.color, reason: master!.reason });
    }
  });

  it('admin transcode (转码) → the edge shows the new colour; /v1/verify of the old token says it changed', async () => {
    const idNo = demoResidentId(900_002);
    const citizen = await session({ idType: 'resident', idNo, name: '李四' });
    const green = await displayed(citizen, (b) => b.color === 'green', 'green before');
    const t = await adminToken();
    const r = await http('POST', `${admin}/admin/v1/codes/transcode`, { idType: 'resident', idNo, color: 'red', reason: 'manual_test' }, t);
    expect(r.status, r.text).toBe(200);
    const red = await displayed(citizen, (b) => b.color === 'red', 'red after the transcode');
    expect(red.reason).toBe('manual_test');
    expect(red.token).not.toBe(green.token);
    const venue = stack.master!.demo!.sampleVenue!;
    const v = await http('POST', `${edge}/v1/verify`, { token: green.token, venue });
    expect(v.status, v.text).toBe(200);
    expect(v.body).toMatchObject({ valid: true, color: 'red', tokenColor: 'green', changed: true });
  });

  it('a scan at an entry venue reaches the master scans table, becomes an entry fact, and the display carries the notice', async () => {
    const phone = '13800000001';
    const citizen = await session({ phone });
    await displayed(citizen, () => true, 'phone-only person on the edge');
    const venue = stack.master!.demo!.sampleEntryVenue!;
    const scan = await http('POST', `${edge}/v1/scan`, { venue }, citizen);
    expect(scan.status, scan.text).toBe(200);
    expect((scan.body.notices as { kind: string }[]).map((n) => n.kind)).toContain('entry_test');
    const store = stack.master!.store;
    const [person] = await store.findPersonsByPhone(phone);
    const rows = await until('the scan in the master scans table', async () => {
      const r = await store.db.query<{ venue_id: string; kind: string; node: string }>('SELECT venue_id, kind, node FROM scans WHERE uid = $1', [person!.uid]);
      return r.rows.length > 0 ? r.rows : undefined;
    });
    expect(rows).toEqual([{ venue_id: venue, kind: 'scan', node: 'test-edge-1' }]);
    const facts = await store.db.query<{ kind: string; venue: string }>('SELECT kind, venue FROM facts WHERE person_id = $1', [person!.id]);
    expect(facts.rows).toEqual([{ kind: 'entry', venue }]);
    const shown = await displayed(
      citizen,
      (b) => (b.notices as { kind: string }[]).some((n) => n.kind === 'entry_test'),
      'the entry-test notice on the display',
    );
    expect(shown.color).toBe('green');
  });

  it('the replica holds exactly the master codes (every code compared)', async () => {
    const store = stack.master!.store;
    const max = await store.maxOutboxSeq();
    expect(await stack.edge!.daemon.waitFor(max, 15_000)).toBe(true);
    const rows = await store.db.query<{ uid: Buffer; person_id: number }>('SELECT p.uid, c.person_id FROM codes c JOIN persons p ON p.id = c.person_id');
    expect(rows.rows.length).toBeGreaterThanOrEqual(PEOPLE);
    const writer = stack.edge!.daemon.writer;
    for (const r of rows.rows) {
      const m = (await store.getCode(r.person_id))!;
      expect(writer.code(r.uid)).toEqual({ color: m.color, reason: m.reason, since: m.since, until: m.until, name: m.name, notices: m.notices, seq: m.seq });
    }
    expect(writer.counts().codes).toBe(rows.rows.length);
  });

  it('a restart resumes from the replica and the master on disk: no demo regeneration, codes still served', async () => {
    const applied = stack.edge!.daemon.appliedSeq();
    const citizenId = demoResidentId(900_002);
    await stack.stop();
    stack = await startEmbeddedStack(configFor(dir), { log: logs.log, adminLogStream: logs.stream });
    edge = `http://127.0.0.1:${stack.edgePort}`;
    admin = `http://127.0.0.1:${stack.adminPort}`;
    expect(stack.master!.demo).toBeNull();
    expect(stack.master!.firstAdmin.created).toBe(false);
    expect(stack.edge!.daemon.appliedSeq()).toBeGreaterThanOrEqual(applied);
    expect(stack.edge!.daemon.metrics().bootstraps).toBe(0);
    const token = await session({ idType: 'resident', idNo: citizenId, name: '李四' });
    const code = await displayed(token, () => true, 'the red person after restart');
    expect(code.color).toBe('red');
  });
});
