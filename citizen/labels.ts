/**
 * Chinese labels of the citizen services' stored codes: what a citizen, a
 * hotline seat and an official read (no raw codes on any screen).
 */
export const APPEAL_TYPES = ['code_wrong', 'travel_wrong', 'test_result', 'info_wrong', 'other'] as const;
export type AppealType = (typeof APPEAL_TYPES)[number];

export const APPEAL_TYPE_ZH: Readonly<Record<AppealType, string>> = {
  code_wrong: '健康码颜色有误',
  travel_wrong: '行程信息有误',
  test_result: '核酸结果未更新',
  info_wrong: '个人信息有误',
  other: '其他问题',
};

export const APPEAL_STATUSES = ['open', 'accepted', 'replied', 'closed'] as const;
export type AppealStatus = (typeof APPEAL_STATUSES)[number];

export const APPEAL_STATUS_ZH: Readonly<Record<AppealStatus, string>> = {
  open: '待受理',
  accepted: '处理中',
  replied: '已答复',
  closed: '已办结',
};

export const RESOLUTIONS = ['corrected', 'explained', 'rejected', 'duplicate'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export const RESOLUTION_ZH: Readonly<Record<Resolution, string>> = {
  corrected: '已更正',
  explained: '已解释说明',
  rejected: '不予支持',
  duplicate: '重复申诉',
};

export const CHANNEL_ZH: Readonly<Record<'page' | 'hotline', string>> = { page: '健康码页面', hotline: '热线代填' };

export const KB_CATEGORIES = ['policy', 'code_rules', 'testing', 'travel', 'faq'] as const;
export type KbCategory = (typeof KB_CATEGORIES)[number];

export const KB_CATEGORY_ZH: Readonly<Record<KbCategory, string>> = {
  policy: '防控政策',
  code_rules: '赋码规则',
  testing: '核酸检测',
  travel: '出行与行程',
  faq: '常见问题',
};

export type KbVersionStatus = 'draft' | 'review' | 'published' | 'superseded' | 'withdrawn';

export const KB_STATUS_ZH: Readonly<Record<KbVersionStatus, string>> = {
  draft: '草稿',
  review: '待审核',
  published: '已发布',
  superseded: '已被新版本替代',
  withdrawn: '已撤回',
};
