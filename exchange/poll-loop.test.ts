import { describe, expect, it } from 'vitest';
import { PollLoop } from './poll-loop.js';

describe('PollLoop', () => {
  it('runs one pass at a time: a call during a pass gets that pass', async () => {
    let passes = 0;
    let release!: () => void;
    const loop = new PollLoop(async () => {
      passes++;
      await new Promise<void>((r) => (release = r));
      return passes;
    }, { pollMs: 0, log: () => undefined, what: 'test' });
    const a = loop.run();
    const b = loop.run();
    expect(b).toBe(a);
    release();
    expect(await a).toBe(1);
    const c = loop.run(); // the first has ended: a new pass
    release();
    expect(await c).toBe(2);
  });

  it('logs a failed timed pass and runs again at the next tick; stop waits for the pass in flight', async () => {
    const lines: string[] = [];
    let n = 0;
    let inFlight = false;
    const loop = new PollLoop(async () => {
      n++;
      if (n === 1) throw new Error('database away');
      inFlight = true;
      await new Promise((r) => setTimeout(r, 30));
      inFlight = false;
    }, { pollMs: 5, log: (l) => lines.push(l), what: 'forward' });
    loop.start();
    await expect.poll(() => n, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toBe('exchange: forward pass failed (retrying): database away');
    await expect.poll(() => inFlight, { timeout: 5000 }).toBe(true);
    await loop.stop();
    expect(inFlight).toBe(false);
    const after = n;
    await new Promise((r) => setTimeout(r, 30));
    expect(n).toBe(after); // no tick after stop
  });

  it('a failed pass rejects its callers and leaves the loop usable', async () => {
    let fail = true;
    const loop = new PollLoop(async () => {
      if (fail) throw new Error('server down');
      return 'ok';
    }, { pollMs: 0, log: () => undefined, what: 'test' });
    await expect(loop.run()).rejects.toThrow('server down');
    fail = false;
    await expect(loop.run()).resolves.toBe('ok');
    await loop.stop(); // never started: nothing to wait for
  });
});
