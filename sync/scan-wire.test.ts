import { describe, expect, it } from 'vitest';
import { encodeVersioned } from '../core/code-record.js';
import { decodeScanBatch, encodeScanBatch, type WireScan } from './scan-wire.js';

const scan: WireScan = { id: 'edge-1:0001', uid: Buffer.alloc(16, 7), venue: 'V1', kind: 'scan', at: 1_780_000_000_123, color: 'green' };

function code(bytes: Uint8Array): string {
  try {
    decodeScanBatch(bytes);
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'accepted';
}

describe('scan batches on the scan stream', () => {
  it('round-trips', () => {
    const b = decodeScanBatch(encodeScanBatch({ node: 'edge-1', scans: [scan, { ...scan, id: 'edge-1:0002', kind: 'verify', color: 'red' }] }));
    expect(b.node).toBe('edge-1');
    expect(b.scans).toHaveLength(2);
    expect(Buffer.from(b.scans[0]!.uid).equals(Buffer.alloc(16, 7))).toBe(true);
    expect(b.scans[1]).toMatchObject({ kind: 'verify', color: 'red', at: scan.at });
  });

  it.each([
    ['not versioned', Buffer.from([0x00, 0x01])],
    ['a newer format', Buffer.from([0x09, 0x90])],
    ['not an object', encodeVersioned([1, 2])],
    ['a bad node id', encodeVersioned({ node: 'bad node', scans: [] })],
    ['scans not an array', encodeVersioned({ node: 'e', scans: {} })],
    ['a scan not an object', encodeVersioned({ node: 'e', scans: [7] })],
    ['an empty id', encodeVersioned({ node: 'e', scans: [{ ...scan, id: '' }] })],
    ['an id over 64', encodeVersioned({ node: 'e', scans: [{ ...scan, id: 'x'.repeat(65) }] })],
    ['a short uid', encodeVersioned({ node: 'e', scans: [{ ...scan, uid: Buffer.alloc(15) }] })],
    ['a venue not a string', encodeVersioned({ node: 'e', scans: [{ ...scan, venue: 5 }] })],
    ['an unknown kind', encodeVersioned({ node: 'e', scans: [{ ...scan, kind: 'peek' }] })],
    ['a fractional time', encodeVersioned({ node: 'e', scans: [{ ...scan, at: 1.5 }] })],
    ['a negative time', encodeVersioned({ node: 'e', scans: [{ ...scan, at: -1 }] })],
    ['an unknown colour', encodeVersioned({ node: 'e', scans: [{ ...scan, color: 'blue' }] })],
  ])('refuses %s with SYNC_ERR_SCAN_PAYLOAD', (_what, bytes) => {
    expect(code(bytes)).toBe('SYNC_ERR_SCAN_PAYLOAD');
  });
});
