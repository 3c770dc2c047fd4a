import { CoreError } from './errors.js';
import {
  checkCodeRecord,
  checkRiskArea,
  checkVenue,
  decodeVersioned,
  encodeVersioned,
  type CodeRecord,
  type RiskArea,
  type Venue,
} from './code-record.js';

/**
 * Deltas: what the publisher copies from the master's outbox to every edge
 * (DESIGN §6). One outbox row = one delta with a gap-free sequence; deltas
 * travel in batches (one stream entry carries many — one entry per delta
 * cannot move a 1M-code mass change in seconds).
 *
 * Wire form of a batch (stream entry payload, snapshot chunks):
 *
 *   byte 0      format version (see code-record.ts)
 *   bytes 1..   msgpack { from, to, deltas: Delta[] }   from..to inclusive, dense
 *
 * No delta carries a certificate number, phone or full name: codes are keyed
 * by uid and carry only the masked name.
 */
export type Delta =
  | { readonly seq: number; readonly type: 'code'; readonly uid: Uint8Array; readonly record: CodeRecord | null }
  | { readonly seq: number; readonly type: 'venue'; readonly id: string; readonly venue: Venue | null }
  | { readonly seq: number; readonly type: 'risk_area'; readonly region: string; readonly area: RiskArea | null }
  /** a rule set version; `activeFrom` lets edges stage a future version ahead of time */
  | { readonly seq: number; readonly type: 'rules'; readonly version: string; readonly activeFrom: number; readonly ruleSet: unknown }
  /** the published verification keys of all nodes (replaces the whole set) */
  | { readonly seq: number; readonly type: 'keys'; readonly keys: unknown }
  /** a sequence number that carries no change (e.g. a rolled-back transaction's reserved number) */
  | { readonly seq: number; readonly type: 'noop' };

export type DeltaType = Delta['type'];

export interface DeltaBatch {
  readonly from: number;
  readonly to: number;
  readonly deltas: readonly Delta[];
}

export function encodeDeltaBatch(deltas: readonly Delta[]): Buffer {
  if (deltas.length === 0) throw new CoreError('CORE_ERR_RECORD_INVALID', 'empty delta batch');
  const from = deltas[0]!.seq;
  const to = deltas[deltas.length - 1]!.seq;
  return encodeVersioned({ from, to, deltas });
}

function checkDelta(d: unknown, expectSeq: number): Delta {
  if (typeof d !== 'object' || d === null) throw new CoreError('CORE_ERR_RECORD_INVALID', 'delta is not an object');
  const o = d as Record<string, unknown>;
  if (o.seq !== expectSeq) {
    throw new CoreError('CORE_ERR_RECORD_INVALID', `delta seq ${String(o.seq)} where ${expectSeq} was expected (batches are dense)`);
  }
  const seq = expectSeq;
  switch (o.type) {
    case 'code': {
      if (!(o.uid instanceof Uint8Array) || o.uid.length !== 16) throw new CoreError('CORE_ERR_RECORD_INVALID', `delta ${seq}: uid`);
      return { seq, type: 'code', uid: o.uid, record: o.record === null ? null : checkCodeRecord(o.record, `delta ${seq}`) };
    }
    case 'venue':
      if (typeof o.id !== 'string') throw new CoreError('CORE_ERR_RECORD_INVALID', `delta ${seq}: id`);
      return { seq, type: 'venue', id: o.id, venue: o.venue === null ? null : checkVenue(o.venue, `delta ${seq}`) };
    case 'risk_area':
      if (typeof o.region !== 'string') throw new CoreError('CORE_ERR_RECORD_INVALID', `delta ${seq}: region`);
      return { seq, type: 'risk_area', region: o.region, area: o.area === null ? null : checkRiskArea(o.area, `delta ${seq}`) };
    case 'rules':
      if (typeof o.version !== 'string' || typeof o.activeFrom !== 'number') {
        throw new CoreError('CORE_ERR_RECORD_INVALID', `delta ${seq}: rules`);
      }
      return { seq, type: 'rules', version: o.version, activeFrom: o.activeFrom, ruleSet: o.ruleSet };
    case 'keys':
      return { seq, type: 'keys', keys: o.keys };
    case 'noop':
      return { seq, type: 'noop' };
    default:
      throw new CoreError('CORE_ERR_RECORD_INVALID', `delta ${seq}: unknown type ${String(o.type)}`);
  }
}

export function decodeDeltaBatch(bytes: Uint8Array): DeltaBatch {
  const v = decodeVersioned(bytes, 'delta batch') as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || !Array.isArray(v.deltas) || typeof v.from !== 'number' || typeof v.to !== 'number') {
    throw new CoreError('CORE_ERR_RECORD_INVALID', 'delta batch shape');
  }
  if (v.to - v.from + 1 !== v.deltas.length) {
    throw new CoreError('CORE_ERR_RECORD_INVALID', `delta batch ${v.from}..${v.to} holds ${v.deltas.length} deltas`);
  }
  const deltas = v.deltas.map((d, i) => checkDelta(d, (v.from as number) + i));
  return { from: v.from, to: v.to, deltas };
}
