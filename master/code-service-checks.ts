import { type Fact } from '../core/facts.js';
import { MasterError } from './errors.js';
import type { SqlClient } from './sql-client.js';
import { bad } from './store-checks.js';

/**
 * The code service's input checks and the fact-row writes its transactions
 * share (master/code-service.ts).
 */
export const REASON_MAX = 64;
export const CONTROL = /[\u0000-\u001f\u007f]/;
export const MAX_SECONDS = 0xffff_ffff;


export function checkPersonId(personId: unknown): number {
  if (typeof personId !== 'number' || !Number.isSafeInteger(personId) || personId < 1) throw bad('personId', 'must be a positive integer');
  return personId;
}

export function checkActor(actor: unknown): string {
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 128 || CONTROL.test(actor)) {
    throw bad('actor', 'must be 1–128 characters without control characters');
  }
  return actor;
}

export function checkSource(src: unknown): { source: string; sourceRef: string | null; actor: string } {
  const o = typeof src === 'string' ? { source: src } : src;
  if (typeof o !== 'object' || o === null) throw bad('source', 'must be a string or { source, sourceRef?, actor? }');
  const { source, sourceRef, actor } = o as { source?: unknown; sourceRef?: unknown; actor?: unknown };
  if (typeof source !== 'string' || source.length === 0 || source.length > 128 || CONTROL.test(source)) {
    throw bad('source', 'must be 1–128 characters without control characters');
  }
  if (sourceRef !== undefined && (typeof sourceRef !== 'string' || sourceRef.length === 0 || sourceRef.length > 256)) {
    throw bad('sourceRef', 'must be 1–256 characters');
  }
  return { source, sourceRef: (sourceRef as string | undefined) ?? null, actor: actor === undefined ? source : checkActor(actor) };
}

export function checkUid(uid: unknown): Uint8Array {
  if (!(uid instanceof Uint8Array) || uid.length !== 16) throw bad('uid', 'must be 16 bytes');
  return uid;
}

/** Inserts facts for one person (one statement); `fallbackSource` for facts without their own. */
export async function insertFacts(
  tx: SqlClient, personId: number, facts: readonly Fact[], fallbackSource: string, sourceRef: string | null,
): Promise<number> {
  if (facts.length === 0) return 0;
  const rows = facts.map((f) => ({
    p: personId, k: f.kind, t: f.at, s: f.source ?? fallbackSource, sr: sourceRef,
    l: f.level ?? null, r: f.result ?? null, rg: f.region ?? null, v: f.venue ?? null,
  }));
  return insertFactRows(tx, rows);
}

export type FactInsertRow = {
  p: number; k: string; t: number; s: string; sr: string | null; l: string | null; r: string | null; rg: string | null; v: string | null;
};

export async function insertFactRows(tx: SqlClient, rows: readonly FactInsertRow[]): Promise<number> {
  const r = await tx.query(
    `INSERT INTO facts (person_id, kind, at, source, source_ref, level, result, region, venue)
     SELECT x.p, x.k, to_timestamp(x.t), x.s, x.sr, x.l, x.r, x.rg, x.v
       FROM jsonb_to_recordset($1::jsonb) AS x(p bigint, k text, t bigint, s text, sr text, l text, r text, rg text, v text)`,
    [JSON.stringify(rows)],
  );
  return r.rowCount;
}

export async function lockPerson(tx: SqlClient, personId: number): Promise<void> {
  const r = await tx.query('SELECT id FROM persons WHERE id = $1 FOR UPDATE', [personId]);
  if (r.rows.length === 0) throw new MasterError('MASTER_ERR_PERSON_NOT_FOUND', `person ${personId}`);
}
