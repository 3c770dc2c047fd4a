import type { AdminRole } from '../master/admin-users.js';

/**
 * Back-office roles and what each may do (DESIGN §7, issue 5 item 1; the
 * capability folders' permissions from issues 10–16).
 *
 *   permission      admin operator analyst city_officer auditor security hotline
 *   codes.read        ✓      ✓        ✓m       ✓r          ·       ·        ✓m
 *   codes.write       ✓      ✓        ·        ✓r          ·       ·        ·
 *   codes.approve     ✓      ✓        ·        ✓r          ·       ·        ·
 *   rules.read        ✓      ✓        ✓        ·           ·       ·        ·
 *   rules.write       ✓      ·        ·        ·           ·       ·        ·
 *   risk.read         ✓      ✓        ✓        ✓           ·       ·        ✓
 *   risk.write        ✓      ·        ·        ·           ·       ·        ·
 *   venues.read       ✓      ✓        ✓        ✓r          ·       ·        ·
 *   venues.write      ✓      ✓        ·        ✓r          ·       ·        ·
 *   audit.read        ✓      ·        ·        ·           ✓       ·        ·
 *   users.manage      ✓      ·        ·        ·           ·       ·        ·
 *   exchange.read     ✓      ✓        ✓m       ✓r          ·       ·        ·
 *   exchange.write    ✓      ✓        ·        ✓r          ·       ·        ·
 *   exchange.secrets  ✓      ·        ·        ·           ·       ·        ·
 *   tracing.read      ✓      ✓        ✓m       ✓r          ·       ·        ·
 *   tracing.write     ✓      ✓        ·        ✓r          ·       ·        ·
 *   stats.read        ✓      ✓        ✓        ✓r          ·       ·        ·
 *   alerts.read       ✓      ✓        ·        ·           ✓       ✓        ·
 *   alerts.write      ✓      ·        ·        ·           ·       ✓        ·
 *   logaudit.read     ✓      ·        ·        ·           ✓       ✓        ·
 *   logaudit.write    ✓      ·        ·        ·           ·       ✓        ·
 *   appeals.read      ✓      ✓        ·        ✓r          ·       ·        ✓m
 *   appeals.write     ✓      ✓        ·        ✓r          ·       ·        ✓
 *   kb.read           ✓      ✓        ✓        ✓           ·       ·        ✓
 *   kb.write          ✓      ✓        ·        ·           ·       ·        ·
 *
 *   m = identities and location data masked; r = only inside the account's
 *   GB/T 2260 region prefix (any account with a non-empty prefix is scoped,
 *   a city officer must have one).
 *
 * Why: the analyst reads aggregates and trends, so sees masked identities and
 * no places (行踪轨迹 is sensitive personal information, PIPL art. 28); the
 * auditor reviews the trail and nothing else, and nobody else but the
 * province admin reads it (separation of duties, GB/T 22239-2019 8.1.4.2 安全
 * 审计 / 三员分立: 系统管理员 admin, 安全管理员 security, 安全审计员 auditor).
 * The security officer runs the log audit system and the alerting rules and
 * reads no personal data; the hotline seat (热线坐席) files and answers
 * citizens' appeals for callers and reads codes masked. A city officer does
 * the operator's work for one city.
 */
export { ADMIN_ROLES as ROLES } from '../master/admin-users.js';
/** The roles master/admin-users.ts stores. */
export type Role = AdminRole;

export const PERMISSIONS = [
  'codes.read',
  'codes.write',
  'codes.approve',
  'rules.read',
  'rules.write',
  'risk.read',
  'risk.write',
  'venues.read',
  'venues.write',
  'audit.read',
  'users.manage',
  'exchange.read',
  'exchange.write',
  'exchange.secrets',
  'tracing.read',
  'tracing.write',
  'stats.read',
  'alerts.read',
  'alerts.write',
  'logaudit.read',
  'logaudit.write',
  'appeals.read',
  'appeals.write',
  'kb.read',
  'kb.write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: { readonly [R in Role]: ReadonlySet<Permission> } = {
  admin: new Set(PERMISSIONS),
  operator: new Set<Permission>([
    'codes.read', 'codes.write', 'codes.approve', 'rules.read', 'risk.read', 'venues.read', 'venues.write',
    'exchange.read', 'exchange.write', 'tracing.read', 'tracing.write', 'stats.read', 'alerts.read',
    'appeals.read', 'appeals.write', 'kb.read', 'kb.write',
  ]),
  analyst: new Set<Permission>(['codes.read', 'rules.read', 'risk.read', 'venues.read', 'exchange.read', 'tracing.read', 'stats.read', 'kb.read']),
  city_officer: new Set<Permission>([
    'codes.read', 'codes.write', 'codes.approve', 'risk.read', 'venues.read', 'venues.write',
    'exchange.read', 'exchange.write', 'tracing.read', 'tracing.write', 'stats.read', 'appeals.read', 'appeals.write', 'kb.read',
  ]),
  auditor: new Set<Permission>(['audit.read', 'alerts.read', 'logaudit.read']),
  security: new Set<Permission>(['alerts.read', 'alerts.write', 'logaudit.read', 'logaudit.write']),
  hotline: new Set<Permission>(['codes.read', 'risk.read', 'appeals.read', 'appeals.write', 'kb.read']),
};

export function can(role: Role, perm: Permission): boolean {
  return GRANTS[role].has(perm);
}

/** Roles that see identities and places masked in code queries. */
export function seesMasked(role: Role): boolean {
  return role === 'analyst' || role === 'hotline';
}

/**
 * Region scoping: an account with prefix '' sees the whole province; with
 * '5101' only regions starting with it. A record without a region is outside
 * every non-empty prefix (unknown residence must not leak to every city).
 */
export function inScope(regionPrefix: string, region: string | null | undefined): boolean {
  if (regionPrefix === '') return true;
  return typeof region === 'string' && region.startsWith(regionPrefix);
}
