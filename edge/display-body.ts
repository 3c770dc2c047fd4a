import type { CodeRecord, Notice, RiskArea, Venue } from '../core/code-record.js';
import { regionName } from '../core/regions.js';

/**
 * The JSON bodies the edge answers with (DESIGN §5 operating contract) and
 * the notices it adds.
 *
 * GET /v1/code:
 *   {"color", "reason", "since", "until", "name", "token": "TF1:…",
 *    "expiresAt", "notices": [{"kind", "message"}]}
 *
 * The display body is rendered once per signature and stored in the
 * replica's display db (core/replica-layout.ts), then sent byte for byte on
 * every display until the code changes or the token nears expiry.
 */
export interface WireNotice {
  readonly kind: string;
  readonly message: string;
}

/** Notices still in force at `nowSec` (a notice's `until` is exclusive), in the {kind, message} wire shape. */
export function activeNotices(notices: readonly Notice[], nowSec: number): WireNotice[] {
  const out: WireNotice[] = [];
  for (const n of notices) if (n.until === null || n.until > nowSec) out.push({ kind: n.kind, message: n.message });
  return out;
}

/** Earliest `until` of the notices in force, or Infinity: when a stored display must be re-rendered without them. */
export function noticesChangeAt(notices: readonly Notice[], nowSec: number): number {
  let t = Infinity;
  for (const n of notices) if (n.until !== null && n.until > nowSec && n.until < t) t = n.until;
  return t;
}

export function renderDisplayBody(record: CodeRecord, token: string, expiresAt: number, nowSec: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      color: record.color,
      reason: record.reason,
      since: record.since,
      until: record.until,
      name: record.name,
      token,
      expiresAt,
      notices: activeNotices(record.notices, nowSec),
    }),
    'utf8',
  );
}

/**
 * The notice a lagging node adds (the Swiss COVID verifier's
 * TRUST_LIST_OUTDATED lesson: say so explicitly instead of drifting).
 * Notices are read by citizens: Chinese only (issue 15 item 8), no codes.
 */
export function staleNotice(lagSec: number | null): WireNotice {
  const age = lagSec === null ? '未知时长' : `${Math.round(lagSec)} 秒`;
  return {
    kind: 'stale',
    message: `健康码状态可能不是最新：本节点数据已 ${age} 未同步，请以现场核验为准`,
  };
}

/** A stored display body with one more notice appended (stale answers; the stored bytes stay clean). */
export function withNotice(body: Uint8Array, notice: WireNotice): string {
  const o = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as { notices?: WireNotice[] };
  o.notices = [...(o.notices ?? []), notice];
  return JSON.stringify(o);
}

/** 入川即检 (DESIGN §3): the notice a citizen sees when scanning an entry venue's place code. */
export function entryNotice(venue: Venue): WireNotice {
  const hours = venue.entryTestHours ?? 24;
  return { kind: 'entry_test', message: `入川即检：请在 ${hours} 小时内就近完成一次核酸检测` };
}

const LEVEL_TEXT = { high: '高风险', medium: '中风险', low: '低风险' } as const;

/**
 * Shown at a scan when the venue lies in a medium- or high-risk area. Low risk is the normal state: no notice.
 * The region by its Chinese name (GB/T 2260 table), never the bare code.
 */
export function riskNotice(area: RiskArea): WireNotice | null {
  if (area.level === 'low') return null;
  return { kind: 'risk_area', message: `该场所所在地区（${regionName(area.region)}）为${LEVEL_TEXT[area.level]}地区，请做好个人防护` };
}
