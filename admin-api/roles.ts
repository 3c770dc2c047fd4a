import type { AdminRole } from '../master/admin-users.js';

/**
 * Back-office roles and what each may do (DESIGN §7, issue 5 item 1).
 *
 *   permission      admin operator analyst city_officer auditor
 *   codes.read        ✓      ✓        ✓m       ✓r          ·
 *   codes.write       ✓      ✓        ·        ✓r          ·
 *   codes.approve     ✓      ✓        ·        ✓r          ·
 *   rules.read        ✓      ✓        ✓        ·           ·
 *   rules.write       ✓      ·        ·        ·           ·
 *   risk.read         ✓      ✓        ✓        ✓           ·
 *   risk.write        ✓      ·        ·        ·           ·
 *   venues.read       ✓      ✓        ✓        ✓r          ·
 *   venues.write      ✓      ✓        ·        ✓r          ·
 *   audit.read        ✓      ·        ·        ·           ✓
 *   users.manage      ✓      ·        ·        ·           ·
 *
 *   m = identities and location data masked; r = only inside the account's
 *   GB/T 2260 region prefix (any account with a non-empty prefix is scoped,
 *   a city officer must have one).
 *
 * Why: the analyst reads aggregates and trends, so sees masked identities and
 * no places (行踪轨迹 is sensitive personal information, PIPL art. 28); the
 * auditor reviews the trail and nothing else, and nobody else but the
 * province admin reads it (separation of duties, GB/T 22239-2019 8.1.4.2 安全
 * 审计 / 三员分立). A city officer does the operator's work for one city.
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
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: { readonly [R in Role]: ReadonlySet<Permission> } = {
  admin: new Set(PERMISSIONS),
  operator: new Set<Permission>(['codes.read', 'codes.write', 'codes.approve', 'rules.read', 'risk.read', 'venues.read', 'venues.write']),
  analyst: new Set<Permission>(['codes.read', 'rules.read', 'risk.read', 'venues.read']),
  city_officer: new Set<Permission>(['codes.read', 'codes.write', 'codes.approve', 'risk.read', 'venues.read', 'venues.write']),
  auditor: new Set<Permission>(['audit.read']),
};

export function can(role: Role, perm: Permission): boolean {
  return GRANTS[role].has(perm);
}

/** Roles that see identities and places masked in code queries. */
export function seesMasked(role: Role): boolean {
  return role === 'analyst';
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
