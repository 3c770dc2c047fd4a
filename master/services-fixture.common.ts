import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import type { Delta } from '../core/delta.js';
import type { RuleSet } from '../core/rule-set.js';
import { AdminUsers } from './admin-users.js';
import { AuditLog } from './audit-log.js';
import { CodeService } from './code-service.js';
import { type Secrets } from './pii-crypto.js';
import { NodeKeysRegistry } from './node-keys-registry.js';
import { RuleVersions } from './rule-versions.js';
import type { SqlClient } from './sql-client.js';
import { MasterStore } from './store.js';

/**
 * The services suite's shared helpers and context (master/services.common.ts).
 */
export interface ServicesSuiteOptions {
  /** people in the mass publish test (default 100 000) */
  readonly massPersons?: number;
  /** report timings of the mass test here */
  readonly report?: (line: string) => void;
}

export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; field?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as { code: string; field?: string; message: string };
  }
  throw new Error('expected an error');
}

export const DAY = 86_400;
export const HOUR = 3600;
/** 2026-05-28: well inside the uint32 range, partitions are created around it */
export const BASE = 1_780_000_000;

/** Resident IDs with valid check digits, one per test person. */
export function residentId(n: number): string {
  const month = String(1 + (Math.floor(n / 1000) % 12)).padStart(2, '0');
  const first17 = `5101041990${month}01${String(n % 1000).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const chk = '10X98765432';
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * w[i]!;
  return first17 + chk[sum % 11]!;
}

let phoneCounter = 0;
export function nextPhone(): string {
  phoneCounter++;
  return `139${String(10_000_000 + phoneCounter).slice(-8)}`;
}

/** DEFAULT_RULE_SET plus one rule: a low-risk-area visit in the last 7 days → yellow `reason`. */
export function withLowRiskRule(version: string, reason: string): RuleSet {
  return {
    ...DEFAULT_RULE_SET,
    version,
    rules: [
      ...DEFAULT_RULE_SET.rules,
      {
        id: 'low_risk_visit',
        when: { '<': [{ var: 'now' }, { '+': [{ var: 'last.risk_low' }, 7 * DAY] }] },
        color: 'yellow',
        reason,
        until: { '+': [{ var: 'last.risk_low' }, 7 * DAY] },
      },
    ],
  };
}


/** What the services suite's parts share (runServicesSuite builds it; the services exist once its beforeAll ran). */
export interface ServicesContext {
  /** the services, valid inside tests and hooks (not while describe blocks are collected) */
  get(): { db: SqlClient; store: MasterStore; secrets: Secrets; dir: string; codes: CodeService; rules: RuleVersions; audit: AuditLog; users: AdminUsers; keys: NodeKeysRegistry };
  /** the pinned clock, unix seconds */
  readonly clock: { t: number };
  /** a new test person's number (residentId) */
  nextId(): number;
  lastId(): number;
  register(extra?: Record<string, string>): Promise<{ personId: number; uid: Buffer }>;
  deltasSince(seq: number): Promise<Delta[]>;
  readonly opts: ServicesSuiteOptions;
  /** the backend's name (reports) */
  readonly name: string;
}
