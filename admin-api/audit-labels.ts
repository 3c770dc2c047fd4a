/**
 * Audit actions and outcomes in Chinese: one table for the console's audit
 * page (imported by the browser bundle: keep this file free of Node imports)
 * and the server's audit export. Capabilities' actions not listed here show
 * as they are written.
 */
export const OUTCOME_LABEL: Readonly<Record<string, string>> = {
  partial: '部分成功', tampered: '发现篡改',
  ok: '成功', failed: '失败', denied: '拒绝（无权限）', denied_scope: '拒绝（超出管辖范围）', not_found: '未找到',
  ambiguous: '匹配多人', locked: '账号锁定', pending: '待审批', rejected: '已驳回', error: '出错',
  queued: '已受理（排队处理）', duplicate: '重复（已跳过）',
};

export const ACTION_LABEL: Readonly<Record<string, string>> = {
  'auth.login': '登录', 'auth.logout': '退出登录', access: '访问受限功能',
  'users.create': '创建账号', 'users.disable': '停用账号', 'users.enable': '启用账号', 'users.unlock': '解除锁定',
  'users.reset_password': '重置密码', 'users.update': '修改角色或地区',
  'codes.query': '查询健康码', 'codes.transcode': '人工转码', 'codes.clear': '解除人工转码',
  'codes.bulk.request': '提交批量转码', 'codes.bulk.approve': '批准批量转码', 'codes.bulk.reject': '驳回批量转码',
  'person.register': '市民领码',
  'rules.upload': '上传规则', 'rules.publish': '发布规则', 'rules.rollback': '回滚规则', 'rules.dry_run': '规则试算',
  'risk.import': '导入风险区域', 'risk.publish': '发布风险区域',
  'venues.create': '新建场所', 'venues.import': '导入场所', 'venues.update': '修改场所', 'venues.disable': '停用场所', 'persons.rename': '登记改名',
  'venues.enable': '启用场所', 'venues.qr': '下载场所码', 'venues.poster': '打印场所码海报',
  'audit.verify': '校验审计链', 'audit.read': '查看审计日志', 'audit.export': '导出审计日志', export: '导出表格',
  'exchange.return': '下载批次返还数据', 'exchange.return.download': '下载返还数据', 'exchange.return.push': '推送返还数据（SFTP）', 'exchange.return.ack': '签收返还数据', 'exchange.return.produce': '生成返还数据', 'exchange.return_policy.set': '修改返还脱敏策略', 'exchange.return_recipient.set': '设置返还对象',
  'exchange.verify.rule.add': '新建赋码核查规则', 'exchange.verify.rule.set': '修改赋码核查规则', 'exchange.verify.task.start': '启动赋码核查任务', 'exchange.verify.task.stop': '停止赋码核查任务', 'exchange.verify.task.resume': '继续赋码核查任务', 'exchange.verify.task.rerun': '重新执行赋码核查任务', 'exchange.verify.export': '导出赋码核查报告',
  'exchange.import': '导入数据文件', 'exchange.rejects.export': '导出拒收记录', 'exchange.dataset.add': '发布数据标准新版本', 'exchange.password_rule.set': '设置或轮换数据包密码规则', 'exchange.recipient.set': '设置转发接收方', 'exchange.sftp_source.set': '设置 SFTP 数据来源', 'exchange.archive.import': '接收加密数据包',
  'exchange.verify.task.scheduled': '定时启动赋码核查任务', 'exchange.dataset.create': '新建数据标准', 'exchange.code_table.add': '新建码表', 'exchange.code_table.version': '发布码表新版本',
};

/** Keys of audit `details` in Chinese (the audit page and the export show "键：值"). */
export const DETAIL_LABEL: Readonly<Record<string, string>> = {
  personId: '人员编号', personIds: '人员编号', color: '颜色', reason: '原因', until: '有效至', seq: '变更序号', changed: '有变化',
  count: '数量', rows: '行数', role: '角色', regionPrefix: '管辖地区', region: '地区', kind: '类型', entryTestHours: '检测时限（小时）',
  name: '名称', id: '编号', bulk: '批量申请', requestedBy: '申请人', failed: '失败数', code: '错误代码', sessionsEnded: '结束的会话',
  from: '原值', to: '新值', venue: '场所', version: '版本', activeFrom: '生效时间', evaluated: '评估人数', staged: '预定生效',
  overridden: '人工转码', item: '第几项', method: '方法', route: '接口', filter: '筛选条件', added: '新增', removed: '移除',
  unchanged: '未变', entries: '条数', ok: '通过', firstBadSeq: '首个异常序号', problem: '问题', detail: '说明', outcome: '结果',
  action: '操作', actor: '操作人',
  codeSource: '比对码源', periodFrom: '核查起始', periodTo: '核查截止', rerunOf: '重新执行自', rule: '规则', masked: '已脱敏',
  dataset: '数据标准', department: '报送单位', format: '文件格式', bytes: '文件大小（字节）', sha256: '文件摘要（哈希值）', rejected: '拒收行数', host: '服务器', port: '端口', datasets: '数据标准', recipient: '返还对象', batch: '批次', policyVersion: '脱敏策略版本', downloadNo: '第几次下载', made: '生成份数', policy: '脱敏策略', sftp: '转发接收方', how: '方式', remoteName: '远端文件名', sftpRecipient: '推送接收方', dueHours: '签收时限（小时）', idType: '证件类型', idNo: '证件号码', phone: '手机号', event: '事项', time: '时间', result: '结果',
  checkEdges: '比对边缘节点实际数据', schedule: '定时执行', slot: '定时时间', codeTable: '码表', fields: '字段数', target: '数据用途',
};

const ROLE_ZH: Readonly<Record<string, string>> = {
  admin: '省级管理员', operator: '操作员', analyst: '分析员', city_officer: '市级专员', auditor: '安全审计员', security: '安全管理员', hotline: '热线坐席',
};

const VALUE_LABEL: Readonly<Record<string, string>> = {
  green: '绿码', yellow: '黄码', red: '红码', high: '高风险', medium: '中风险', low: '低风险', normal: '普通场所', entry: '入川卡口',
  true: '是', false: '否',
  keep: '保留', mask: '掩码', hash: '哈希化', drop: '不返还', csv: 'CSV 文件', xlsx: 'XLSX 文件', sent: '已发送', 'already-there': '对方已有（未重发）',
};

/** `{color: 'red', count: 3}` → '颜色：红码；数量：3' (nested objects one level deep, then JSON). */
export function detailsZh(d: Record<string, unknown> | null | undefined, reason?: (r: string) => string): string {
  if (!d) return '';
  const v = (k: string, x: unknown): string => {
    if (x === null || x === undefined) return '—';
    if (typeof x === 'string') {
      if (k === 'reason' && reason) return reason(x);
      if (k === 'role') return ROLE_ZH[x] ?? x;
      return VALUE_LABEL[x] ?? x;
    }
    if (typeof x === 'boolean') return VALUE_LABEL[String(x)]!;
    if (typeof x === 'number') return String(x);
    if (Array.isArray(x)) return x.length > 5 ? `${x.slice(0, 5).map((y) => v(k, y)).join('、')} 等 ${x.length} 项` : x.map((y) => v(k, y)).join('、');
    if (typeof x === 'object') return `（${Object.entries(x as Record<string, unknown>).map(([kk, xx]) => `${DETAIL_LABEL[kk] ?? kk}：${v(kk, xx)}`).join('，')}）`;
    return String(x);
  };
  return Object.entries(d).map(([k, x]) => `${DETAIL_LABEL[k] ?? k}：${v(k, x)}`).join('；');
}
