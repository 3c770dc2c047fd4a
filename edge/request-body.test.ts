import { describe, expect, it } from 'vitest';
import { EdgeError } from './errors.js';
import { declaredLength, MAX_BODY_BYTES, parseJsonObject, PendingRequest, stringField } from './request-body.js';
import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';

function codeOf(fn: () => unknown): [string, string | undefined] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeError);
    return [(err as EdgeError).code, (err as EdgeError).field];
  }
  throw new Error('did not throw');
}

const fakeRes = {} as HttpResponse;

function ab(s: string): ArrayBuffer {
  const b = Buffer.from(s);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

describe('request bodies', () => {
  it('joins chunks and copies them (uWS detaches each chunk after the callback)', async () => {
    const p = new PendingRequest(fakeRes);
    const first = ab('{"ven');
    p.chunk(first, false);
    new Uint8Array(first).fill(0); // what detaching would do to our view if we had kept it
    p.chunk(ab('ue":"A"}'), true);
    await p.finished;
    expect(p.body!.toString()).toBe('{"venue":"A"}');
    expect(p.tooLarge).toBe(false);
  });

  it('stops at the first byte over the cap and ignores the rest', async () => {
    const p = new PendingRequest(fakeRes);
    p.chunk(ab('x'.repeat(MAX_BODY_BYTES)), false);
    expect(p.done).toBe(false);
    p.chunk(ab('y'), false);
    await p.finished;
    expect([p.tooLarge, p.body]).toEqual([true, null]);
    p.chunk(ab('z'), true);
    expect(p.body).toBeNull();
  });

  it('settles on abort', async () => {
    const p = new PendingRequest(fakeRes);
    p.chunk(ab('{'), false);
    p.abort();
    await p.finished;
    expect([p.aborted, p.body]).toEqual([true, null]);
  });

  it('parses only JSON objects (EDGE_ERR_JSON)', () => {
    expect(parseJsonObject(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    for (const bad of ['', '{', '[]', 'null', '"s"', '42', '{"a":1}x']) {
      expect(codeOf(() => parseJsonObject(Buffer.from(bad)))[0]).toBe('EDGE_ERR_JSON');
    }
    expect(codeOf(() => parseJsonObject(null))[0]).toBe('EDGE_ERR_JSON');
  });

  it('checks string fields (EDGE_ERR_FIELD naming the field)', () => {
    expect(stringField({ venue: 'V1' }, 'venue', 8)).toBe('V1');
    for (const v of [undefined, '', 42, null, ['V1'], 'x'.repeat(9)]) {
      expect(codeOf(() => stringField({ venue: v }, 'venue', 8))).toEqual(['EDGE_ERR_FIELD', 'venue']);
    }
  });

  it('reads Content-Length strictly', () => {
    expect(declaredLength('123')).toBe(123);
    for (const bad of ['', '-1', '1e3', ' 12', '0x10', '9'.repeat(16)]) expect(declaredLength(bad)).toBe(-1);
  });
});
