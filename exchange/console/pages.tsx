import { lazy, Suspense, type ReactNode } from 'react';
import type { PageDef } from '../../admin-api/console/src/pages.js';

// Each page is its own lazily loaded chunk: the console's entry bundle has a
// size budget (test/console.test.ts) that every capability shares.
const ArchivesPage = lazy(() => import('./archives-page.js').then((m) => ({ default: m.ArchivesPage })));
const ImportsPage = lazy(() => import('./imports-page.js').then((m) => ({ default: m.ImportsPage })));
const StandardsPage = lazy(() => import('./standards-page.js').then((m) => ({ default: m.StandardsPage })));
const ReturnsPage = lazy(() => import('./returns-page.js').then((m) => ({ default: m.ReturnsPage })));
const UploadsPage = lazy(() => import('./uploads-page.js').then((m) => ({ default: m.UploadsPage })));
const VerifyPage = lazy(() => import('./verify-page.js').then((m) => ({ default: m.VerifyPage })));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<div className="muted">页面加载中…</div>}>{children}</Suspense>;
}

/** The exchange's console pages (issue 10), spread into admin-api/console/src/pages.tsx. */
export const GROUP_EXCHANGE = '数据交换';

export const EXCHANGE_PAGES: readonly PageDef[] = [
  { id: 'exchange-imports', title: '数据导入', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <Lazy><ImportsPage canWrite={p.can('exchange.write')} /></Lazy> },
  { id: 'exchange-archives', title: '加密数据包', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <Lazy><ArchivesPage canSecrets={p.can('exchange.secrets')} /></Lazy> },
  { id: 'exchange-standards', title: '数据标准', group: GROUP_EXCHANGE, perm: 'exchange.read', render: () => <Lazy><StandardsPage /></Lazy> },
  { id: 'exchange-returns', title: '数据返还', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <Lazy><ReturnsPage canWrite={p.can('exchange.write')} canSecrets={p.can('exchange.secrets')} /></Lazy> },
  { id: 'exchange-uploads', title: '数据上报', group: GROUP_EXCHANGE, perm: 'exchange.read', render: () => <Lazy><UploadsPage /></Lazy> },
  { id: 'exchange-verify', title: '赋码核查', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <Lazy><VerifyPage canWrite={p.can('exchange.write')} /></Lazy> },
];
