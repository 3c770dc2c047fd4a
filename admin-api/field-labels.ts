/**
 * Chinese names of the request fields an official can get wrong, so an
 * error reads "证件号码：校验位不正确" and not "idNo: …". One table for
 * admin-api and the capabilities mounted in it; a path such as
 * `venues[3].region` is named by its last field plus the row number.
 *
 * Also the value names a validator message may quote (enum members).
 */
export const FIELD_LABELS: Readonly<Record<string, string>> = {
  // people
  idType: '证件类型', idNo: '证件号码', name: '姓名', phone: '手机号码', person: '人员', items: '名单',
  // codes
  color: '健康码颜色', reason: '转码原因', until: '有效期至', since: '开始时间', at: '时间', id: '编号',
  // accounts
  username: '用户名', password: '密码', role: '角色', regionPrefix: '管辖地区', newPassword: '新密码',
  // venues, risk areas
  region: '地区', kind: '场所类型', entryTestHours: '入川后检测时限（小时）', venues: '场所列表', q: '搜索关键词',
  level: '风险等级', areas: '风险区域', expiresAt: '失效时间',
  // rules
  ruleSet: '规则集', version: '版本号', activeFrom: '生效时间', params: '参数', rules: '规则',
  // audit, paging
  after: '起始编号', before: '截止编号', limit: '条数', offset: '偏移', actor: '操作人', action: '操作',
  order: '排序', outcome: '结果', from: '开始时间', to: '结束时间',
  body: '请求内容', querystring: '查询参数', params_: '路径参数', file: '文件',
};

export const VALUE_LABELS: Readonly<Record<string, string>> = {
  green: '绿码', yellow: '黄码', red: '红码',
  high: '高风险', medium: '中风险', low: '低风险',
  normal: '普通场所', entry: '入川卡口（入川即检）',
  asc: '升序', desc: '降序',
  // the same names as the console's ROLE_LABEL (admin-api/console/src/format.ts)
  admin: '省级管理员', operator: '操作员', analyst: '分析员', city_officer: '市级专员',
  auditor: '安全审计员', security: '安全管理员', hotline: '热线坐席',
  resident: '居民身份证', passport: '护照', hk_macau: '港澳居民来往内地通行证', taiwan: '台湾居民来往大陆通行证',
  foreign_permanent: '外国人永久居留身份证',
};

/** 'venues[3].region' → '第 4 行的地区'; 'idNo' → '证件号码'; unknown → '填写项' (never the raw English path). */
export function fieldLabel(path: string | undefined): string {
  if (path === undefined || path === '') return '填写项';
  const parts = path.split('.');
  const last = parts[parts.length - 1]!;
  const m = /^([A-Za-z_]+)?(?:\[(\d+)\])?$/.exec(last);
  const key = m?.[1];
  const label = key !== undefined ? FIELD_LABELS[key] ?? FIELD_LABELS[`${key}_`] : undefined;
  let row: string | undefined;
  for (const p of parts) {
    const r = /\[(\d+)\]/.exec(p);
    if (r) row = r[1];
  }
  const name = label ?? '填写项';
  return row === undefined ? name : `第 ${Number(row) + 1} 行的${name}`;
}
