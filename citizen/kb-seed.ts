import type { KnowledgeBase } from './kb.js';
import type { KbCategory } from './labels.js';

/**
 * First articles of the embedded demo (like demo-data.ts for persons): only
 * written when the knowledge base is empty, by the system accounts, through
 * the normal draft → review → publish path.
 */
const SEED: readonly { category: KbCategory; title: string; body: string }[] = [
  { category: 'code_rules', title: '健康码颜色代表什么', body: '绿码：可正常通行。\n黄码：请按要求完成核酸检测，结果阴性后自动转绿。\n红码：请配合属地开展健康管理，不要自行外出。' },
  { category: 'code_rules', title: '为什么我的健康码变黄了', body: '常见原因：到过中高风险地区；入川后未在规定时间内完成核酸检测；被判定为次密切接触者。完成检测且结果阴性后，健康码会自动恢复绿码。如认为赋码有误，可在健康码页面点击“我要申诉”。' },
  { category: 'testing', title: '入川即检怎么做', body: '入川后请在健康码页面“采样登记”中登记，凭采样码到任一采样点扫码采样。结果为阴性后，入川提醒自动解除。' },
  { category: 'testing', title: '核酸检测结果多久能查到', body: '一般在采样后 12 至 24 小时内出结果。结果出来后健康码页面会自动更新，无需申诉。' },
  { category: 'travel', title: '行程卡怎么查询', body: '在健康码页面点击“行程卡”，输入手机号并获取短信验证码，即可查看近 14 天到访的城市；带星号的城市为有中高风险区的城市。' },
  { category: 'faq', title: '如何提交申诉，多久能有答复', body: '在健康码页面点击“我要申诉”，选择问题类型并说明情况，可附一张照片。工作人员会在规定时限内受理并答复，进度和答复可在“我的申诉”中查看；也可拨打热线由坐席代为提交。' },
];

export async function seedKnowledgeBase(kb: KnowledgeBase): Promise<number> {
  if ((await kb.list()).length > 0) return 0;
  for (const a of SEED) {
    const created = await kb.create(a, 'system:seed');
    await kb.transition(created.id, 'submit', 'system:seed', async () => undefined);
    await kb.transition(created.id, 'publish', 'system:seed-review', async () => undefined);
  }
  return SEED.length;
}
