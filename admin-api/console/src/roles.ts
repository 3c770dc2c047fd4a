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
  | 'audit.read' | 'users.manage'
  | 'exchange.read' | 'exchange.write' | 'exchange.secrets'
  | 'tracing.read' | 'tracing.write' | 'stats.read'
  | 'alerts.read' | 'alerts.write'
  | 'logaudit.read' | 'logaudit.write'
  | 'appeals.read' | 'appeals.write' | 'kb.read' | 'kb.write';

export const CONSOLE_GRANTS: Readonly<Record<string, readonly Permission[]>> = {
  admin: [
    'codes.read', 'codes.write', 'codes.approve', 'rules.read', 'rules.write', 'risk.read', 'risk.write', 'venues.read', 'venues.write',
    'audit.read', 'users.manage', 'exchange.read', 'exchange.write', 'exchange.secrets', 'tracing.read', 'tracing.write', 'stats.read',
    'alerts.read', 'alerts.write', 'logaudit.read', 'logaudit.write', 'appeals.read', 'appeals.write', 'kb.read', 'kb.write',
  ],
  operator: [
    'codes.read', 'codes.write', 'codes.approve', 'rules.read', 'risk.read', 'venues.read', 'venues.write',
    'exchange.read', 'exchange.write', 'tracing.read', 'tracing.write', 'stats.read', 'alerts.read',
    'appeals.read', 'appeals.write', 'kb.read', 'kb.write',
  ],
  analyst: ['codes.read', 'rules.read', 'risk.read', 'venues.read', 'exchange.read', 'tracing.read', 'stats.read', 'kb.read'],
  city_officer: [
    'codes.read', 'codes.write', 'codes.approve', 'risk.read', 'venues.read', 'venues.write',
    'exchange.read', 'exchange.write', 'tracing.read', 'tracing.write', 'stats.read', 'appeals.read', 'appeals.write', 'kb.read',
  ],
  auditor: ['audit.read', 'alerts.read', 'logaudit.read'],
  security: ['alerts.read', 'alerts.write', 'logaudit.read', 'logaudit.write'],
  hotline: ['codes.read', 'risk.read', 'appeals.read', 'appeals.write', 'kb.read'],
};

/** An unknown role (a server newer than this console) shows everything: the server decides. */
export function consoleCan(role: string | null, perm: Permission): boolean {
  if (role === null || !Object.hasOwn(CONSOLE_GRANTS, role)) return true;
  return CONSOLE_GRANTS[role]!.includes(perm);
}
