import type { PageDef } from '../../admin-api/console/src/pages.js';
import { ArchivesPage } from './archives-page.js';
import { ImportsPage } from './imports-page.js';
import { StandardsPage } from './standards-page.js';

/** The exchange's console pages (issue 10), spread into admin-api/console/src/pages.tsx. */
export const GROUP_EXCHANGE = '数据交换';

export const EXCHANGE_PAGES: readonly PageDef[] = [
  { id: 'exchange-imports', title: '数据导入', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <ImportsPage canWrite={p.can('exchange.write')} /> },
  { id: 'exchange-archives', title: '加密数据包', group: GROUP_EXCHANGE, perm: 'exchange.read', render: (p) => <ArchivesPage canSecrets={p.can('exchange.secrets')} /> },
  { id: 'exchange-standards', title: '数据标准', group: GROUP_EXCHANGE, perm: 'exchange.read', render: () => <StandardsPage /> },
];
