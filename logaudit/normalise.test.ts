import { describe, expect, it } from 'vitest';
import { DecoderSet } from './decoders.js';
import { headerPlan, lastAtMs, normaliseInto, normaliseRow, type RawMessage } from './normalise.js';
import { RowBatch } from './row-format.js';
import { Correlator, loadRules, type RuleHit } from './sigma.js';

/**
 * The engine builds correlation events with only the header fields the rules
 * (and the asset list) read (`headerPlan`). Those fields must be exactly the
 * full event's, the stored row must not change, and correlation over a stream
 * of lean events must raise exactly the hits it raises over full events.
 */
const decoders = DecoderSet.load();
const rules = loadRules();
const opts = { tzOffsetMin: 480, maxSkewMs: 86_400_000 };
const at = Date.parse('2026-12-07T10:00:00+08:00');
const need = new Set([...new Correlator(rules).fieldsUsed, 'host.name', 'observer.vendor', 'observer.product']);
const plan = headerPlan(need);

function stream(): RawMessage[] {
  const lines: string[] = [];
  for (const f of decoders.families) for (const t of f.types) for (const s of t.samples) lines.push(s.line);
  for (let i = 0; i < 12; i++) lines.push(`<38>1 - web-1 sshd 1 - - Failed password for root from 198.18.0.7 port ${1000 + i} ssh2`);
  lines.push('<34>1 2001-01-01T00:00:00Z h app - - - forged', 'no header at all');
  return lines.map((l, i) => ({ bytes: Buffer.from(l), from: `10.0.${i % 3}.1`, transport: 'udp' as const, receivedMs: at + i * 10 }));
}

const hitKey = (h: RuleHit): string => `${h.rule.id}|${h.group}|${h.count}|${h.firstMs}|${h.lastMs}|${h.triggerReceivedMs}`;

describe('lean correlation events (headerPlan)', () => {
  it('rules read fields, including message and labels.hour_cst', () => {
    expect(need.has('event.action')).toBe(true);
    expect(need.has('source.ip')).toBe(true);
    expect(plan.timestamp).toBe(false);
    expect(plan.original).toBe(false);
  });

  it('carry every field the rules read with the full event\'s value, and the same stored row', () => {
    let leanKeys = 0;
    let fullKeys = 0;
    for (const m of stream()) {
      const full = normaliseRow(m, decoders, opts, () => undefined);
      const lean = normaliseRow(m, decoders, opts, () => undefined, plan);
      leanKeys += Object.keys(lean.event).length;
      fullKeys += Object.keys(full.event).length;
      expect(lean.row).toStrictEqual(full.row);
      for (const f of need) expect([f, lean.event[f]]).toStrictEqual([f, full.event[f]]);
      for (const f of Object.keys(lean.event)) expect(lean.event[f]).toStrictEqual(full.event[f]);
    }
    // decoder fields no rule reads are left out of the lean event too (the stored row keeps them)
    expect(leanKeys).toBeLessThan(fullKeys / 2);
  });

  it('raise exactly the hits full events raise (lean events, and the engine\'s normaliseInto events)', () => {
    const a = new Correlator(rules);
    const b = new Correlator(rules);
    const c = new Correlator(rules);
    const ha: string[] = [];
    const hb: string[] = [];
    const hc: string[] = [];
    const batch = new RowBatch();
    for (const m of stream()) {
      const full = normaliseRow(m, decoders, opts, () => undefined);
      const lean = normaliseRow(m, decoders, opts, () => undefined, plan);
      const inPlace = normaliseInto(m, decoders, opts, () => undefined, plan, batch);
      ha.push(...a.feed(full.event, m.receivedMs, full.row.atMs).map(hitKey));
      hb.push(...b.feed(lean.event, m.receivedMs, lean.row.atMs).map(hitKey));
      hc.push(...c.feed(inPlace, m.receivedMs, lastAtMs()).map(hitKey));
      for (const f of need) expect([f, inPlace[f]]).toStrictEqual([f, full.event[f]]);
    }
    expect(ha.length).toBeGreaterThan(5);
    expect(hb).toStrictEqual(ha);
    expect(hc).toStrictEqual(ha);
  });

  it('after sweep (state older than a day dropped) the same burst hits again from a fresh count', () => {
    const k = new Correlator(rules);
    const brute = (i: number, t: number): RuleHit[] => {
      const m: RawMessage = { bytes: Buffer.from(`<38>1 - web-1 sshd 1 - - Failed password for root from 198.18.0.9 port ${1000 + i} ssh2`), from: '10.9.9.9', transport: 'udp', receivedMs: t };
      const { event, row } = normaliseRow(m, decoders, opts, () => undefined, plan);
      return k.feed(event, m.receivedMs, row.atMs);
    };
    const first: RuleHit[] = [];
    for (let i = 0; i < 12; i++) first.push(...brute(i, at + i * 10));
    expect(first.some((h) => h.rule.id === 'la-linux-ssh-bruteforce')).toBe(true);
    k.sweep(at + 2 * 86_400_000);
    // sweep walks the per-rule, per-group maps; correlation must still work on what is left
    const again: RuleHit[] = [];
    for (let i = 0; i < 12; i++) again.push(...brute(i, at + 2 * 86_400_000 + i * 10));
    const h = again.find((x) => x.rule.id === 'la-linux-ssh-bruteforce');
    expect(h?.firstMs).toBe(at + 2 * 86_400_000);
  });
});
