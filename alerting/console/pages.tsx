import { lazy } from 'react';
import type { PageDef } from '../../admin-api/console/src/pages.js';

// Each page is its own lazily loaded chunk: the console's entry bundle has a
// size budget (test/console.test.ts) that every capability shares. The shell
// (app.tsx) renders every page inside <Suspense> while its chunk loads.
const AlertRulesPage = lazy(() => import('./alert-rules-page.js').then((m) => ({ default: m.AlertRulesPage })));
const AlertsPage = lazy(() => import('./alerts-page.js').then((m) => ({ default: m.AlertsPage })));
const MonitorPage = lazy(() => import('./monitor-page.js').then((m) => ({ default: m.MonitorPage })));
const SmsPage = lazy(() => import('./sms-page.js').then((m) => ({ default: m.SmsPage })));

/** The alerting capability's console pages (added to PAGES with one spread). */
export const GROUP_ALERTING = '监控告警';

export const ALERTING_PAGES: readonly PageDef[] = [
  { id: 'alerts', title: '告警', group: GROUP_ALERTING, perm: 'alerts.read', render: (p) => <AlertsPage canWrite={p.can('alerts.write')} /> },
  { id: 'alert-rules', title: '告警规则', group: GROUP_ALERTING, perm: 'alerts.read', render: (p) => <AlertRulesPage canWrite={p.can('alerts.write')} /> },
  { id: 'sms-records', title: '短信记录', group: GROUP_ALERTING, perm: 'alerts.read', render: (p) => <SmsPage canWrite={p.can('alerts.write')} /> },
  { id: 'monitoring', title: '监控概览', group: GROUP_ALERTING, perm: 'alerts.read', render: () => <MonitorPage /> },
];
