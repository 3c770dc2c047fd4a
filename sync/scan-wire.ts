import type { Color } from '../core/code-record.js';
import { decodeVersioned, encodeVersioned } from '../core/code-record.js';
import { SyncError } from './errors.js';

/**
 * Scan events on the scan stream (edge spool → bus → master importer,
 * DESIGN §6). One stream entry carries one shipper batch:
 *
 *   byte 0    format version (core/code-record.ts)
 *   bytes 1.. msgpack { node: string, scans: WireScan[] }
 *
 * A scan's id is `<node>:<spool key in hex>` — the spool key is unique on
 * its node (unix ms, writer pid, counter: edge/scan-spool.ts) and never
 * changes when the same scan is shipped again, so the master's
 * `INSERT … ON CONFLICT (id, at) DO NOTHING` turns an at-least-once stream
 * into exactly-once rows. At most 64 characters (the scans.id column):
 * node ids are limited to 31.
 */
export interface WireScan {
  /** `<node>:<32 hex>` */
  readonly id: string;
  readonly uid: Uint8Array;
  readonly venue: string;
  readonly kind: 'scan' | 'verify';
  /** unix milliseconds */
  readonly at: number;
  readonly color: Color;
}

export interface ScanBatch {
  readonly node: string;
  readonly scans: readonly WireScan[];
}

/** Node ids: what `scans.node` and scan ids carry. */
export const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

export function encodeScanBatch(batch: ScanBatch): Buffer {
  return encodeVersioned({ node: batch.node, scans: batch.scans });
}

function bad(detail: string): never {
  throw new SyncError('SYNC_ERR_SCAN_PAYLOAD', detail);
}

export function decodeScanBatch(bytes: Uint8Array): ScanBatch {
  let v: unknown;
  try {
    v = decodeVersioned(bytes, 'scan batch');
  } catch (err) {
    bad((err as Error).message);
  }
  const o = v as { node?: unknown; scans?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.node !== 'string' || !NODE_ID.test(o.node) || !Array.isArray(o.scans)) {
    bad('not { node, scans[] }');
  }
  const scans = o.scans.map((s: unknown, i: number): WireScan => {
    const x = s as Record<string, unknown>;
    if (typeof x !== 'object' || x === null) bad(`scans[${i}] is not an object`);
    if (typeof x.id !== 'string' || x.id.length === 0 || x.id.length > 64) bad(`scans[${i}].id`);
    if (!(x.uid instanceof Uint8Array) || x.uid.length !== 16) bad(`scans[${i}].uid`);
    if (typeof x.venue !== 'string') bad(`scans[${i}].venue`);
    if (x.kind !== 'scan' && x.kind !== 'verify') bad(`scans[${i}].kind`);
    if (typeof x.at !== 'number' || !Number.isSafeInteger(x.at) || x.at < 0) bad(`scans[${i}].at`);
    if (x.color !== 'green' && x.color !== 'yellow' && x.color !== 'red') bad(`scans[${i}].color`);
    return { id: x.id, uid: x.uid, venue: x.venue, kind: x.kind, at: x.at, color: x.color };
  });
  return { node: o.node, scans };
}
