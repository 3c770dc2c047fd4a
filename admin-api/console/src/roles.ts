/**
 * Which console pages a role sees: a copy of admin-api/roles.ts's grant table
 * (that module imports server code, so it cannot be bundled into the
 * browser). test/console-roles.test.ts checks this copy against the server's
 * `can()` for every role and permission, so the two cannot drift apart.
 * The server's 403 stays the real check; this only hides what would fail.
 */
export type Permission =
  | 'codes.read' | 'codes.write' | 'codes.approve'
  | 'rules.read' | 'rules.write'
  | 'risk.read' | 'risk.write'
  | 'venues.read' | 'venues.write'
  | 'audit.read' | 'users.manage';

export const CONSOLE_GRANTS: Readonly<Record<string, readonly Permission[]>> = {
  admin: ['codes.read', 'codes.write', 'codes.approve', 'rules.read', 'rules.write', 'risk.read', 'risk.write', 'venues.read', 'venues.write', 'audit.read', 'users.manage'],
  operator: ['codes.read', 'codes.write', 'codes.approve', 'rules.read', 'risk.read', 'venues.read', 'venues.write'],
  analyst: ['codes.read', 'rules.read', 'risk.read', 'venues.read'],
  city_officer: ['codes.read', 'codes.write', 'codes.approve', 'risk.read', 'venues.read', 'venues.write'],
  auditor: ['audit.read'],
};

/** An unknown role (a server newer than this console) shows everything: the server decides. */
export function consoleCan(role: string | null, perm: Permission): boolean {
  if (role === null || !Object.hasOwn(CONSOLE_GRANTS, role)) return true;
  return CONSOLE_GRANTS[role]!.includes(perm);
}
