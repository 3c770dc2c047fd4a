import { randomBytes } from 'node:crypto';
import type { Color } from '../core/code-record.js';
import { AdminError } from './errors.js';

/**
 * Pending bulk code changes awaiting a second approver (四眼原则; GB/T
 * 35273-2020 7.1 asks that operations on personal information in bulk be
 * approved and recorded; a bulk transcode is exactly that).
 *
 * A request holds person ids, never identities, and lives in this process
 * until approved, rejected or expired (BULK_REQUEST_TTL_SEC). Losing pending
 * requests on a restart fails safe — nothing was applied, the requester
 * submits again — and the audit log keeps who asked for what.
 */
export type BulkStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface BulkChange {
  readonly color: Color;
  readonly reason: string;
  readonly until: number | null;
}

export interface BulkRequest {
  readonly id: string;
  readonly requestedBy: string;
  /** unix seconds */
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly change: BulkChange;
  readonly personIds: readonly number[];
  /** region of each person (same order), for region-scoped approvers */
  readonly regions: readonly (string | null)[];
  /** masked identities, for the approver's review and the audit log */
  readonly targets: readonly string[];
  status: BulkStatus;
  decidedBy: string | null;
  decidedAt: number | null;
}

export class BulkRequests {
  private readonly pending = new Map<string, BulkRequest>();
  constructor(
    private readonly ttlSec: number,
    private readonly now: () => number = Date.now,
    private readonly max = 1000,
  ) {}

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  create(input: Omit<BulkRequest, 'id' | 'createdAt' | 'expiresAt' | 'status' | 'decidedBy' | 'decidedAt'>): BulkRequest {
    this.expire();
    if (this.pending.size >= this.max) {
      throw new AdminError('ADM_ERR_RATE_LIMITED', `${this.max} bulk requests are already pending: approve or reject some first`);
    }
    const now = this.seconds();
    const req: BulkRequest = {
      ...input,
      id: randomBytes(12).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.ttlSec,
      status: 'pending',
      decidedBy: null,
      decidedAt: null,
    };
    this.pending.set(req.id, req);
    return req;
  }

  get(id: string): BulkRequest | undefined {
    this.expire();
    return this.pending.get(id);
  }

  list(): BulkRequest[] {
    this.expire();
    return [...this.pending.values()];
  }

  /** Takes the request out of the pending set with its decision; throws when it is gone or not pending. */
  decide(id: string, by: string, decision: 'approved' | 'rejected'): BulkRequest {
    const req = this.get(id);
    if (req === undefined) throw new AdminError('ADM_ERR_NOT_FOUND', 'no such pending bulk request');
    if (req.status !== 'pending') throw new AdminError('ADM_ERR_REQUEST_STATE', `request is ${req.status}`);
    req.status = decision;
    req.decidedBy = by;
    req.decidedAt = this.seconds();
    this.pending.delete(id);
    return req;
  }

  private expire(): void {
    const now = this.seconds();
    for (const [id, r] of this.pending) {
      if (r.expiresAt <= now) {
        r.status = 'expired';
        this.pending.delete(id);
      }
    }
  }
}
