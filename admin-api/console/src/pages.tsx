import type { ReactNode } from 'react';
import { CITIZEN_PAGES } from '../../../citizen/console/pages.js';
import { AuditPage } from './audit-page.js';
import { CodesPage } from './codes-page.js';
import { RiskPage } from './risk-page.js';
import type { Permission } from './roles.js';
import { RulesPage } from './rules-page.js';
import { VenuesPage } from './venues-page.js';

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
  readonly perm: Permission;
  render(p: PageProps): ReactNode;
}

export interface PageProps {
  can(perm: Permission): boolean;
}

export const GROUP_CODES = '赋码管理';
export const GROUP_SYSTEM = '系统管理';

export const PAGES: readonly PageDef[] = [
  { id: 'codes', title: '赋码查询与转码', group: GROUP_CODES, perm: 'codes.read', render: (p) => <CodesPage canWrite={p.can('codes.write')} /> },
  { id: 'rules', title: '规则', group: GROUP_CODES, perm: 'rules.read', render: (p) => <RulesPage canWrite={p.can('rules.write')} /> },
  { id: 'risk', title: '风险区域', group: GROUP_CODES, perm: 'risk.read', render: (p) => <RiskPage canWrite={p.can('risk.write')} /> },
  { id: 'venues', title: '场所码', group: GROUP_CODES, perm: 'venues.read', render: (p) => <VenuesPage canWrite={p.can('venues.write')} /> },
  ...CITIZEN_PAGES,
  { id: 'audit', title: '审计日志', group: GROUP_SYSTEM, perm: 'audit.read', render: () => <AuditPage /> },
];
