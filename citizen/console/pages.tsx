import type { PageDef } from '../../admin-api/console/src/pages.js';
import { AppealsPage } from './appeals-page.js';
import { KbPage } from './kb-page.js';
import { SamplingPage } from './sampling-page.js';

/** The citizen services' console pages, spread into PAGES (admin-api/console/src/pages.tsx). */
export const GROUP_CITIZEN = '便民服务';

export const CITIZEN_PAGES: readonly PageDef[] = [
  { id: 'appeals', title: '申诉工单', group: GROUP_CITIZEN, perm: 'appeals.read', render: (p) => <AppealsPage canWrite={p.can('appeals.write')} /> },
  { id: 'kb', title: '知识库', group: GROUP_CITIZEN, perm: 'kb.read', render: (p) => <KbPage canWrite={p.can('kb.write')} /> },
  { id: 'sampling', title: '采样登记', group: GROUP_CITIZEN, perm: 'venues.read', render: (p) => <SamplingPage canWrite={p.can('venues.write')} /> },
];
