import { lazy, Suspense, type ReactNode } from 'react';
import type { PageDef } from '../../admin-api/console/src/pages.js';

/**
 * The tracing capability's console pages (added to PAGES with one spread).
 * Each page is its own lazily loaded chunk: the console's entry bundle has
 * a size budget (test/console.test.ts) that every capability shares.
 */
export const GROUP_TRACING = '流调溯源';

const DashboardPage = lazy(() => import('./dashboard-page.js').then((m) => ({ default: m.DashboardPage })));
const TasksPage = lazy(() => import('./tasks-page.js').then((m) => ({ default: m.TasksPage })));
const GroupsPage = lazy(() => import('./groups-page.js').then((m) => ({ default: m.GroupsPage })));
const BigScreenPage = lazy(() => import('./big-screen-page.js').then((m) => ({ default: m.BigScreenPage })));
const PersonPage = lazy(() => import('./person-page.js').then((m) => ({ default: m.PersonPage })));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<div className="muted">页面加载中…</div>}>{children}</Suspense>;
}

export const TRACING_PAGES: readonly PageDef[] = [
  { id: 'tracing-dashboard', title: '统计看板', group: GROUP_TRACING, perm: 'stats.read', render: () => <Lazy><DashboardPage /></Lazy> },
  { id: 'tracing-tasks', title: '精准找人', group: GROUP_TRACING, perm: 'tracing.read', render: (p) => <Lazy><TasksPage canWrite={p.can('tracing.write')} /></Lazy> },
  { id: 'tracing-groups', title: '风险人群', group: GROUP_TRACING, perm: 'tracing.read', render: (p) => <Lazy><GroupsPage canChange={p.can('codes.write')} /></Lazy> },
  { id: 'tracing-big-screen', title: '数据大屏（投屏）', group: GROUP_TRACING, perm: 'stats.read', render: () => <Lazy><BigScreenPage /></Lazy> },
  { id: 'tracing-person', title: '个人溯源', group: GROUP_TRACING, perm: 'tracing.read', render: () => <Lazy><PersonPage /></Lazy> },
];
