/**
 * Chinese labels of the assignment verification, shared by the reports
 * (verify-report.ts) and the console page: officials never read a raw code.
 */
export const MISMATCH_KIND_ZH: Record<string, string> = {
  expected_not_assigned: '应赋码未赋码',
  assigned_without_basis: '赋码无依据',
  assigned_not_distributed: '已赋码未下发或下发不一致',
  edge_not_applied: '边缘节点实际数据与赋码不一致',
};

/** What each kind means, for the report's problem list. */
export const MISMATCH_KIND_HINT: Record<string, string> = {
  expected_not_assigned: '数据集显示应赋红/黄码，但赋码结果未达到',
  assigned_without_basis: '已赋红/黄码，但没有对应的核酸阳性或风险人员事实',
  assigned_not_distributed: '主库当前赋码与下发至各节点的赋码不一致或没有下发记录',
  edge_not_applied: '边缘节点副本（亮码、验码实际读取的数据）已应用到该变更，但其中的赋码缺失或与主库不一致',
};

export const COLOR_ZH: Record<string, string> = { green: '绿码', yellow: '黄码', red: '红码' };

export const FACT_KIND_ZH: Record<string, string> = {
  nucleic_acid: '核酸检测阳性', confirmed: '确诊病例', suspected: '疑似病例', close_contact: '密切接触者', secondary_contact: '密接的密接',
};

export const REASON_ZH: Record<string, string> = {
  default: '未发现风险', none: '未发现风险', normal: '未发现风险', registered: '首次领码', confirmed: '确诊病例', test_positive: '核酸检测阳性', suspected: '疑似病例',
  close_contact: '密切接触者', secondary_contact: '密接的密接', risk_area: '中高风险地区旅居', entry_no_test: '入川未按时检测',
  entry_test_pending: '入川待检测', manual_review: '人工复核', cleared: '解除管控', manual: '人工转码', bulk_test: '批量转码',
};

export const CERT_TYPE_ZH: Record<string, string> = {
  resident: '居民身份证', passport: '护照', hk_macau: '港澳居民来往内地通行证', taiwan: '台湾居民来往大陆通行证', foreign_permanent: '外国人永久居留身份证',
  '': '无证件（手机号）',
};

export const TASK_STATUS_ZH: Record<string, string> = {
  queued: '排队中', running: '执行中', stopping: '停止中', stopped: '已停止', done: '已完成', failed: '失败',
};

export const CODE_SOURCE_ZH: Record<string, string> = { current: '当前赋码', history: '历史赋码' };

export function reasonZh(r: string | null | undefined): string {
  if (r === null || r === undefined || r === '') return '—';
  return REASON_ZH[r] ?? r;
}
