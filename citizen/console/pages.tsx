import { lazy } from 'react';
import type { PageDef } from '../../admin-api/console/src/pages.js';

// Each page is its own lazily loaded chunk: the console's entry bundle has a
// size budget (test/console.test.ts) that every capability shares. The shell
// (app.tsx) renders every page inside <Suspense> while its chunk loads.
const AppealsPage = lazy(() => import('./appeals-page.js').then((m) => ({ default: m.AppealsPage })));
const KbPage = lazy(() => import('./kb-page.js').then((m) => ({ default: m.KbPage })));
const SamplingPage = lazy(() => import('./sampling-page.js').then((m) => ({ default: m.SamplingPage })));

/** The citizen services' console pages, spread into PAGES (admin-api/console/src/pages.tsx). */
export const GROUP_CITIZEN = '便民服务';

export const CITIZEN_PAGES: readonly PageDef[] = [
  { id: 'appeals', title: '申诉工单', group: GROUP_CITIZEN, perm: 'appeals.read', render: (p) => <AppealsPage canWrite={p.can('appeals.write')} /> },
  { id: 'kb', title: '知识库', group: GROUP_CITIZEN, perm: 'kb.read', render: (p) => <KbPage canWrite={p.can('kb.write')} /> },
  { id: 'sampling', title: '采样登记', group: GROUP_CITIZEN, perm: 'venues.read', render: (p) => <SamplingPage canWrite={p.can('venues.write')} /> },
];
