import { lazy } from 'react';
import type { PageDef } from '../../admin-api/console/src/pages.js';

// Each page is its own lazily loaded chunk: the console's entry bundle has a
// size budget (test/console.test.ts) that every capability shares. The shell
// (app.tsx) renders every page inside <Suspense> while its chunk loads.
const ArchivesPage = lazy(() => import('./archives-page.js').then((m) => ({ default: m.ArchivesPage })));
const ImportsPage = lazy(() => import('./imports-page.js').then((m) => ({ default: m.ImportsPage })));
const StandardsPage = lazy(() => import('./standards-page.js').then((m) => ({ default: m.StandardsPage })));
const ReturnsPage = lazy(() => import('./returns-page.js').then((m) => ({ default: m.ReturnsPage })));
const UploadsPage = lazy(() => import('./uploads-page.js').then((m) => ({ default: m.UploadsPage })));
const VerifyPage = lazy(() => import('./verify-page.js').then((m) => ({ default: m.VerifyPage })));

/** The exchange's console pages (issue 10), spread into admin-api/console/src/pages.tsx. */
export const GROUP_EXCHANGE = '数据交换';

export const EXCHANGE_PAGES: readonly PageDef[] = [
  { id: 'exchange-imports', title: '数据导入', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <ImportsPage canWrite={p.can('exchange.write')} /> },
  { id: 'exchange-archives', title: '加密数据包', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <ArchivesPage canSecrets={p.can('exchange.secrets')} /> },
  { id: 'exchange-standards', title: '数据标准', group: GROUP_EXCHANGE, perm: 'exchange.read', render: () => <StandardsPage /> },
  { id: 'exchange-returns', title: '数据返还', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <ReturnsPage canWrite={p.can('exchange.write')} canSecrets={p.can('exchange.secrets')} /> },
  { id: 'exchange-uploads', title: '数据上报', group: GROUP_EXCHANGE, perm: 'exchange.read', render: () => <UploadsPage /> },
  { id: 'exchange-verify', title: '赋码核查', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <VerifyPage canWrite={p.can('exchange.write')} /> },
];
