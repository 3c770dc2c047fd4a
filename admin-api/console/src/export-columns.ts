/**
 * The console's exportable tables: each one's sheet title and Chinese column
 * headers, in one place so that the pages and the server-side check
 * (admin-api/export-xlsx.test.ts: every table written by
 * POST /admin/v1/export/xlsx and read back with exceljs) use the same list.
 * The rows are built by each page from what it shows.
 */
export const EXPORT_TABLES = {
  users: { title: '账号列表', columns: ['用户名', '角色', '管辖地区', '状态', '创建时间'] },
  venues: { title: '场所列表', columns: ['名称', '编号', '地区', '区划代码', '类型', '检测时限（小时）', '场所码', '状态'] },
  risk: { title: '风险区域', columns: ['地区', '区划代码', '等级', '起始时间'] },
  rules: { title: '规则版本', columns: ['版本', '状态', '生效时间', '上传人', '上传时间'] },
  history: { title: '赋码历史', columns: ['时间', '原颜色', '新颜色', '原因', '有效至', '操作人', '规则版本'] },
  bulk: { title: '待审批的批量转码', columns: ['申请人', '人数', '转为', '原因', '有效至', '提交时间', '过期时间', '名单（脱敏）'] },
} as const satisfies Record<string, { title: string; columns: readonly string[] }>;

export type ExportTable = keyof typeof EXPORT_TABLES;
