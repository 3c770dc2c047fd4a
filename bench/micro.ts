/**
 * `npm run bench:micro` — tinybench micro benchmarks of core, each next to
 * its ceiling or baseline in the same run (the machines are shared and noisy:
 * read the ratios, not the absolute numbers).
 *
 *   identity     normaliseResidentId / normalisePhone / uidOf (HMAC-SHA256)
 *   base45       encode / decode of a 93-byte TF1 token
 *   tf1 sign     Ed25519 TF1 sign vs raw node:crypto Ed25519 sign (ceiling);
 *                SM2 TF1 sign (GM/T 0003 via sm-crypto-v2)
 *   tf1 verify   Ed25519 and SM2
 *   rules        default rule set, compiled vs interpreted on the same facts
 *   session      HMAC session verify (what the edge's cache saves)
 */
import { createPrivateKey, randomBytes, sign as nodeSign } from 'node:crypto';
import { Bench } from 'tinybench';
import { base45Decode, base45Encode } from '../core/base45.js';
import { normalisePhone, normaliseResidentId, personKey, uidOf } from '../core/identity.js';
import { KeySet } from '../core/key-set.js';
import { generateSigningKey } from '../core/signing-key.js';
import { signTf1, verifyTf1 } from '../core/token.js';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import { compileRuleSet } from '../core/rule-compile.js';
import { interpretRuleSet } from '../core/rule-interpret.js';
import type { Facts } from '../core/facts.js';
import { issueSession, verifySession } from '../core/session-token.js';

const now = Math.floor(Date.now() / 1000);
const ed = generateSigningKey('Ed25519', 1, now - 3600, now + 86400 * 30);
const sm2 = generateSigningKey('SM2', 2, now - 3600, now + 86400 * 30);
const keys = new KeySet([ed, sm2]);
keys.warm();
const uid = randomBytes(16);
const claims = { uid, color: 0 as const, iat: now, exp: now + 3600 };
const edToken = signTf1(ed, claims);
const smToken = signTf1(sm2, claims);
const tokenBytes = base45Decode(edToken.slice(4));
const pepper = randomBytes(32);

// Raw node:crypto Ed25519 over the same 29-byte body with a cached KeyObject:
// the ceiling for TF1 signing (TF1 adds the body encoding and Base45).
const rawKey = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(ed.privateKey, 'hex')]),
  format: 'der',
  type: 'pkcs8',
});
const body29 = tokenBytes.subarray(0, 29);

const facts: Facts = {
  now,
  facts: [
    { kind: 'secondary_contact', at: now - 86400 * 2 },
    { kind: 'entry', at: now - 3600 * 30, venue: 'V1' },
    { kind: 'nucleic_acid', at: now - 86400 * 5, result: 'negative' },
    { kind: 'risk_area_visit', at: now - 86400 * 3, level: 'medium', region: '510104' },
  ],
};
const compiled = compileRuleSet(DEFAULT_RULE_SET);
const sessionKey = randomBytes(32);
const session = issueSession(sessionKey, uid, now + 3600);

const bench = new Bench({ time: 700, warmupTime: 200 });
bench
  .add('identity: normaliseResidentId', () => { normaliseResidentId('11010519491231002X'); })
  .add('identity: normalisePhone', () => { normalisePhone('+86 138-0013-8000'); })
  .add('identity: personKey + uidOf', () => { uidOf(personKey({ idType: 'resident', idNo: '11010519491231002X' }), pepper); })
  .add('base45: encode 93 B', () => { base45Encode(tokenBytes); })
  .add('base45: decode 93 B', () => { base45Decode(edToken.slice(4)); })
  .add('ceiling: raw node:crypto Ed25519 sign', () => { nodeSign(null, body29, rawKey); })
  .add('tf1: sign Ed25519', () => { signTf1(ed, claims); })
  .add('tf1: sign SM2', () => { signTf1(sm2, claims); })
  .add('tf1: verify Ed25519', () => { verifyTf1(edToken, keys, now); })
  .add('tf1: verify SM2', () => { verifyTf1(smToken, keys, now); })
  .add('rules: compiled', () => { compiled(facts); })
  .add('rules: interpreted', () => { interpretRuleSet(DEFAULT_RULE_SET, facts); })
  .add('session: HMAC verify', () => { verifySession(sessionKey, session, now); });

process.stderr.write('bench:micro — running 13 benchmarks (~15 s)\n');
await bench.run();

const hz = new Map<string, number>();
const rows = bench.tasks.map((t) => {
  const r = t.result as unknown as { throughput?: { mean: number }; latency?: { mean: number; rme: number }; hz?: number; mean?: number; rme?: number };
  const ops = r.throughput?.mean ?? r.hz ?? 0;
  const meanMs = r.latency?.mean ?? r.mean ?? 0;
  const rme = r.latency?.rme ?? r.rme ?? 0;
  hz.set(t.name, ops);
  return { name: t.name, ops, us: meanMs * 1000, rme };
});
const pad = (s: string, n: number) => s.padEnd(n);
console.log(`\n| ${pad('benchmark', 40)} | ${pad('ops/s', 12)} | ${pad('µs/op', 8)} | ±% |`);
console.log(`| ${'-'.repeat(40)} | ${'-'.repeat(12)} | ${'-'.repeat(8)} | --- |`);
for (const r of rows) {
  console.log(`| ${pad(r.name, 40)} | ${pad(Math.round(r.ops).toLocaleString('en-US'), 12)} | ${pad(r.us.toFixed(2), 8)} | ${r.rme.toFixed(1)} |`);
}
const ratio = (a: string, b: string) => (hz.get(a)! / hz.get(b)!).toFixed(2);
console.log('\nratios (same run):');
console.log(`  TF1 Ed25519 sign / raw node:crypto Ed25519 sign = ${ratio('tf1: sign Ed25519', 'ceiling: raw node:crypto Ed25519 sign')}`);
console.log(`  TF1 SM2 sign / TF1 Ed25519 sign               = ${ratio('tf1: sign SM2', 'tf1: sign Ed25519')}`);
console.log(`  rules compiled / interpreted                  = ${ratio('rules: compiled', 'rules: interpreted')}`);
console.log(`  session HMAC verify / TF1 Ed25519 verify      = ${ratio('session: HMAC verify', 'tf1: verify Ed25519')}`);
console.log(`\nmachine: ${(await import('node:os')).cpus()[0]?.model ?? '?'} ×${(await import('node:os')).cpus().length}, node ${process.version}`);
