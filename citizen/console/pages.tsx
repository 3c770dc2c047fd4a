import { lazy, Suspense, type ReactNode } from 'react';
import type { PageDef } from '../../admin-api/console/src/pages.js';

// Each page is its own lazily loaded chunk: the console's entry bundle has a
// size budget (test/console.test.ts) that every capability shares.
const AppealsPage = lazy(() => import('./appeals-page.js').then((m) => ({ default: m.AppealsPage })));
const KbPage = lazy(() => import('./kb-page.js').then((m) => ({ default: m.KbPage })));
const SamplingPage = lazy(() => import('./sampling-page.js').then((m) => ({ default: m.SamplingPage })));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<div className="muted">页面加载中…</div>}>{children}</Suspense>;
}

/** The citizen services' console pages, spread into PAGES (admin-api/console/src/pages.tsx). */
export const GROUP_CITIZEN = '便民服务';

export const CITIZEN_PAGES: readonly PageDef[] = [
  { id: 'appeals', title: '申诉工单', group: GROUP_CITIZEN, perm: 'appeals.read', render: (p) => <Lazy><AppealsPage canWrite={p.can('appeals.write')} /></Lazy> },
  { id: 'kb', title: '知识库', group: GROUP_CITIZEN, perm: 'kb.read', render: (p) => <Lazy><KbPage canWrite={p.can('kb.write')} /></Lazy> },
  { id: 'sampling', title: '采样登记', group: GROUP_CITIZEN, perm: 'venues.read', render: (p) => <Lazy><SamplingPage canWrite={p.can('venues.write')} /></Lazy> },
];
