import type { PageDef } from '../../admin-api/console/src/pages.js';
import { DashboardPage } from './dashboard-page.js';
import { GroupsPage } from './groups-page.js';
import { PersonPage } from './person-page.js';
import { TasksPage } from './tasks-page.js';

/** The tracing capability's console pages (added to PAGES with one spread). */
export const GROUP_TRACING = '流调溯源';

export const TRACING_PAGES: readonly PageDef[] = [
  { id: 'tracing-dashboard', title: '统计看板', group: GROUP_TRACING, perm: 'stats.read', render: () => <DashboardPage /> },
  { id: 'tracing-tasks', title: '精准找人', group: GROUP_TRACING, perm: 'tracing.read', render: (p) => <TasksPage canWrite={p.can('tracing.write')} /> },
  { id: 'tracing-groups', title: '风险人群', group: GROUP_TRACING, perm: 'tracing.read', render: (p) => <GroupsPage canChange={p.can('codes.write')} /> },
  { id: 'tracing-person', title: '个人溯源', group: GROUP_TRACING, perm: 'tracing.read', render: () => <PersonPage /> },
];
