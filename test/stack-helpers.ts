import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeRecord } from '../core/code-record.js';
import type { SqlClient } from '../master/sql-client.js';
import type { MasterStore } from '../master/store.js';

/**
 * Small helpers shared by the stack tests (embedded and cluster): real HTTP
 * against the ports the stack reports, and bounded polling (propagation is
 * asynchronous: a commit reaches the edge within milliseconds, tests wait
 * up to seconds and fail with what they last saw).
 */
export interface HttpResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

export async function http(method: string, url: string, body?: unknown, token?: string): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, text };
}

/** Polls `fn` until it returns a value other than undefined; throws with the last observation after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String((last as Error)?.message ?? last)}`}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function adminCredentials(dataDir: string): { username: string; password: string } {
  return JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as { username: string; password: string };
}

/** A log sink that keeps lines (HC_TEST_LOGS=1 also prints them, to debug a failing run). */
export function logSink(): { lines: string[]; log: (line: string) => void; stream: { write(line: string): boolean } } {
  const lines: string[] = [];
  const echo = process.env.HC_TEST_LOGS === '1';
  const keep = (line: string): void => {
    lines.push(line);
    if (echo) process.stderr.write(`${line}\n`);
  };
  return {
    lines,
    log: keep,
    stream: {
      write: (line: string) => {
        keep(line.trimEnd());
        return true;
      },
    },
  };
}

/** Every code of the master as the replica must hold it, by uid hex. */
export async function masterCodes(db: SqlClient, store: MasterStore): Promise<Map<string, CodeRecord>> {
  const rows = await db.query<{ uid: Buffer; person_id: number }>('SELECT p.uid, c.person_id FROM codes c JOIN persons p ON p.id = c.person_id');
  const out = new Map<string, CodeRecord>();
  for (const r of rows.rows) {
    const c = (await store.getCode(r.person_id))!;
    out.set(r.uid.toString('hex'), { color: c.color, reason: c.reason, since: c.since, until: c.until, name: c.name, notices: c.notices, seq: c.seq });
  }
  return out;
}
