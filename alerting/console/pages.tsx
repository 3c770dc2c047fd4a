import type { PageDef } from '../../admin-api/console/src/pages.js';
import { AlertRulesPage } from './alert-rules-page.js';
import { AlertsPage } from './alerts-page.js';
import { MonitorPage } from './monitor-page.js';
import { SmsPage } from './sms-page.js';

/** The alerting capability's console pages (added to PAGES with one spread). */
export const GROUP_ALERTING = '监控告警';

export const ALERTING_PAGES: readonly PageDef[] = [
  { id: 'alerts', title: '告警', group: GROUP_ALERTING, perm: 'alerts.read', render: (p) => <AlertsPage canWrite={p.can('alerts.write')} /> },
  { id: 'alert-rules', title: '告警规则', group: GROUP_ALERTING, perm: 'alerts.read', render: (p) => <AlertRulesPage canWrite={p.can('alerts.write')} /> },
  { id: 'sms-records', title: '短信记录', group: GROUP_ALERTING, perm: 'alerts.read', render: (p) => <SmsPage canWrite={p.can('alerts.write')} /> },
  { id: 'monitoring', title: '监控概览', group: GROUP_ALERTING, perm: 'alerts.read', render: () => <MonitorPage /> },
];
