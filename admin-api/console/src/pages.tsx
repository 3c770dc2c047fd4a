import { lazy, type ComponentType, type ReactNode } from 'react';
import { EXCHANGE_PAGES } from '../../../exchange/console/pages.js';
import { ALERTING_PAGES } from '../../../alerting/console/pages.js';
import { LOGAUDIT_PAGES } from '../../../logaudit/console/pages.js';
import { CITIZEN_PAGES } from '../../../citizen/console/pages.js';
import type { Permission } from './roles.js';
import { TRACING_PAGES } from '../../../tracing/console/pages.js';

/**
 * Every page of the console, in navigation order, grouped under a heading.
 * A capability (exchange/, tracing/, alerting/, …) keeps its pages in its own
 * folder (<capability>/console/*.tsx) and adds them here with one import and
 * a spread: `...EXCHANGE_PAGES`.
 *
 * `perm` decides whether the navigation shows the page (roles.ts, the same
 * table the server enforces; the server's 403 stays the real check);
 * `render` gets `can` to hide actions the role may not take.
 */
export interface PageDef {
  /** hash route: #/<id>; also the nav link's data-page (browser tests click it) */
  readonly id: string;
  /** navigation label, Chinese */
  readonly title: string;
  /** navigation group heading, Chinese */
  readonly group: string;
  /** 'any': every logged-in role (the landing page) */
  readonly perm: Permission | 'any';
  render(p: PageProps): ReactNode;
}

export interface PageProps {
  can(perm: Permission): boolean;
}

/**
 * The shell's own pages load on first visit, each its own chunk: the entry
 * bundle carries React, the shell and the navigation, not every screen of
 * every capability (test/console.test.ts holds the entry to a budget).
 * app.tsx renders pages inside <Suspense>.
 */
function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>) {
  return lazy(async () => ({ default: await load() }));
}
const HomePage = lazyPage(async () => (await import('./home-page.js')).HomePage);
const CodesPage = lazyPage(async () => (await import('./codes-page.js')).CodesPage);
const BulkPage = lazyPage(async () => (await import('./bulk-page.js')).BulkPage);
const RulesPage = lazyPage(async () => (await import('./rules-page.js')).RulesPage);
const RiskPage = lazyPage(async () => (await import('./risk-page.js')).RiskPage);
const VenuesPage = lazyPage(async () => (await import('./venues-page.js')).VenuesPage);
const UsersPage = lazyPage(async () => (await import('./users-page.js')).UsersPage);
const AuditPage = lazyPage(async () => (await import('./audit-page.js')).AuditPage);

export const GROUP_HOME = '总览';
export const GROUP_CODES = '赋码管理';
export const GROUP_SYSTEM = '系统管理';

export const PAGES: readonly PageDef[] = [
  { id: 'home', title: '首页', group: GROUP_HOME, perm: 'any', render: (p) => <HomePage canCodes={p.can('codes.read')} canApprove={p.can('codes.approve')} /> },
  { id: 'codes', title: '赋码查询与转码', group: GROUP_CODES, perm: 'codes.read', render: (p) => <CodesPage canWrite={p.can('codes.write')} /> },
  { id: 'bulk', title: '批量转码与审批', group: GROUP_CODES, perm: 'codes.approve', render: (p) => <BulkPage canRequest={p.can('codes.write')} canApprove={p.can('codes.approve')} /> },
  { id: 'rules', title: '规则', group: GROUP_CODES, perm: 'rules.read', render: (p) => <RulesPage canWrite={p.can('rules.write')} /> },
  { id: 'risk', title: '风险区域', group: GROUP_CODES, perm: 'risk.read', render: (p) => <RiskPage canWrite={p.can('risk.write')} /> },
  { id: 'venues', title: '场所码', group: GROUP_CODES, perm: 'venues.read', render: (p) => <VenuesPage canWrite={p.can('venues.write')} /> },
  { id: 'users', title: '账号与角色', group: GROUP_SYSTEM, perm: 'users.manage', render: () => <UsersPage /> },
  ...EXCHANGE_PAGES,
  ...CITIZEN_PAGES,
  { id: 'audit', title: '审计日志', group: GROUP_SYSTEM, perm: 'audit.read', render: () => <AuditPage /> },
  ...TRACING_PAGES,
  ...ALERTING_PAGES,
  ...LOGAUDIT_PAGES,
];
