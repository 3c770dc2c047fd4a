import { lazy } from 'react';
import type { PageDef } from '../../admin-api/console/src/pages.js';

/**
 * 日志审计's console pages, spread into PAGES (admin-api/console/src/pages.tsx).
 * The pages themselves (logaudit-pages.tsx) load lazily as one chunk: the
 * console's entry bundle has a size budget (test/console.test.ts) that every
 * capability shares. The shell (app.tsx) renders every page inside
 * <Suspense> while its chunk loads.
 */
const GROUP = '日志审计';

const SearchPage = lazy(() => import('./logaudit-pages.js').then((m) => ({ default: m.SearchPage })));
const AssetsPage = lazy(() => import('./logaudit-pages.js').then((m) => ({ default: m.AssetsPage })));
const CatalogPage = lazy(() => import('./logaudit-pages.js').then((m) => ({ default: m.CatalogPage })));

export const LOGAUDIT_PAGES: readonly PageDef[] = [
  { id: 'logaudit-search', title: '日志检索', group: GROUP, perm: 'logaudit.read', render: (p) => <SearchPage canWrite={p.can('logaudit.write')} /> },
  { id: 'logaudit-assets', title: '设备与采集器', group: GROUP, perm: 'logaudit.read', render: (p) => <AssetsPage canWrite={p.can('logaudit.write')} /> },
  { id: 'logaudit-catalog', title: '解析与规则目录', group: GROUP, perm: 'logaudit.read', render: () => <CatalogPage /> },
];
