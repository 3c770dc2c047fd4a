import { Redis } from 'ioredis';

/**
 * Shared by the cluster tests that need Redis: the URL, a unique key prefix
 * per run (deleted afterwards), and a connection check that FAILS LOUDLY —
 * `npm run test:cluster` must never pass by skipping.
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const RUN_ID = `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** Every key this run creates starts with this. */
export const RUN_PREFIX = `hc-test:${RUN_ID}:`;

export async function connectAdmin(): Promise<Redis> {
  const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: () => null });
  let last: Error | null = null;
  admin.on('error', (err: Error) => {
    last = err;
  });
  try {
    await admin.connect();
    await admin.ping();
  } catch (err) {
    admin.disconnect();
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(last ?? (err as Error)).message}). ` +
        'The cluster tests need a real Redis: start one on 127.0.0.1:6379 or set REDIS_URL.',
    );
  }
  return admin;
}

/** Deletes every key of this run. */
export async function deleteRunKeys(admin: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${RUN_PREFIX}*`, 'COUNT', 1000);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/**
 * Kills this run's connections named `name` (CLIENT KILL ID …) from the admin
 * connection — only ours, never other clients of a shared Redis — and returns
 * how many it killed.
 */
export async function killConnections(admin: Redis, name: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  let killed = 0;
  for (const line of list.split('\n')) {
    const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
    const n = /(?:^| )name=(\S*)/.exec(line)?.[1];
    if (id !== undefined && n === name) {
      killed += Number(await admin.client('KILL', 'ID', id));
    }
  }
  return killed;
}
