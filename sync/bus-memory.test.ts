import { describe, expect, it } from 'vitest';
import { MemoryDeltaBus } from './bus-memory.js';
import { runDeltaBusSuite, testBatch } from './delta-bus.common.js';

// In-process, "another edge" is the same object: every edge of the embedded
// mode reads the one bus.
runDeltaBusSuite('in-process', async () => new MemoryDeltaBus(), { reopen: async (bus) => bus });

describe('MemoryDeltaBus specifics', () => {
  it('trims exactly to maxLen and stays correct across compactions', async () => {
    const bus = new MemoryDeltaBus();
    for (let round = 0; round < 5; round++) {
      for (let i = 1; i <= 100; i++) {
        const s = round * 100 + i;
        await bus.publishDeltas(testBatch(s, s), s, s);
      }
      await bus.trimDeltas(30);
      const kept = await bus.readDeltas(0, 1000, 0);
      expect(kept.map((e) => e.toSeq)).toEqual(Array.from({ length: 30 }, (_, k) => round * 100 + 71 + k));
      expect(await bus.firstDeltaSeq()).toBe(round * 100 + 71);
    }
    await bus.close();
  });

  it('copies scan payloads on append (a spool may reuse its buffers)', async () => {
    const bus = new MemoryDeltaBus();
    const buf = Buffer.from('scan-1');
    await bus.appendScans([buf]);
    buf.write('XXXX');
    const [e] = await bus.readScans('0-0', 1, 0);
    expect(e!.payload.toString()).toBe('scan-1');
    await bus.close();
  });
});
