/**
 * The rule checker's findings (core/rule-set.ts, English for developers) in
 * Chinese for the official editing rules: a table of its message shapes.
 * Anything not listed reads as a generic Chinese sentence — never English.
 */
const TYPE: Record<string, string> = { number: '数值', boolean: '真假值', 'number or null': '数值或空值', null: '空值', string: '文字', object: '对象', array: '列表' };
const t = (x: string): string => TYPE[x] ?? x;

const TABLE: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => string]> = [
  [/^is required$/, () => '为必填项'],
  [/^must be green, yellow or red$/, () => '颜色只能是 绿码、黄码 或 红码（green / yellow / red）'],
  [/^must be 1–64 characters/, () => '应为 1–64 位字母、数字、点、横线或下划线'],
  [/^must be a short code/, () => '应为以小写字母开头的简短代码（小写字母、数字、下划线）'],
  [/^parameter names are identifiers$/, () => '参数名只能由字母、数字和下划线组成'],
  [/^'(.+)' compares (.+) with (.+)$/, (m) => `“${m[1]}”不能比较${t(m[2]!)}和${t(m[3]!)}`],
  [/^'(.+)' takes (.+) arguments, got (\d+)$/, (m) => `运算“${m[1]}”需要 ${m[2]} 个参数，实际为 ${m[3]} 个`],
  [/^'var' takes one path string/, () => '变量须写成 {"var": "名称"}'],
  [/^a notice is an object/, () => '提示须为对象 {"kind", "message"}'],
  [/^a rule is an object/, () => '每条规则须为对象'],
  [/^a rule set is an object/, () => '规则集须为对象 {"version", "params", "rules"}'],
  [/^a string is not a value here \(did you mean \{"var": "(.*)"\}\?\)$/, (m) => `此处不能写文字，是否应写成 {"var": "${m[1]}"}？`],
  [/^an operator object has exactly one key, got (\d+)$/, (m) => `运算对象只能有一个运算符，实际有 ${m[1]} 个`],
  [/^at most (\d+) parameters$/, (m) => `参数最多 ${m[1]} 个`],
  [/^at most (\d+) rules$/, (m) => `规则最多 ${m[1]} 条`],
  [/^duplicate rule id '(.+)'$/, (m) => `规则编号“${m[1]}”重复`],
  [/^expected a boolean, got (.+)$/, (m) => `此处应为条件（真假值），实际为${t(m[1]!)}`],
  [/^expected a number, got (.+)$/, (m) => `此处应为数值，实际为${t(m[1]!)}`],
  [/^expected an expression/, () => '此处应为表达式'],
  [/^expressions nest at most (\d+) operators deep$/, (m) => `表达式最多嵌套 ${m[1]} 层`],
  [/^more than (\d+) expression nodes$/, (m) => `表达式过长（超过 ${m[1]} 个节点）`],
  [/^must be a non-empty string of at most (\d+) characters$/, (m) => `应为不超过 ${m[1]} 字的文字`],
  [/^must be a safe integer/, () => '应为整数'],
  [/^must be an array/, () => '应为列表'],
  [/^must be an object of integers/, () => '参数应为 {名称: 整数}'],
  [/^number literals must be safe integers/, () => '数值只能是整数'],
  [/^unknown field '(.+)'$/, (m) => `不认识的字段“${m[1]}”`],
  [/^unknown operator '(.+)'$/, (m) => `不认识的运算“${m[1]}”`],
  [/^unknown parameter \{params\.(.+)\} in message$/, (m) => `提示语中引用了不存在的参数“${m[1]}”`],
  [/^unknown variable '(.+?)'/, (m) => `不认识的变量“${m[1]}”（可用：当前时间 now、最近一次事件 last.…、参数 params.…）`],
];

export function ruleProblemZh(message: string): string {
  const msg = message.replace(/^rule set is invalid: /, '').replace(/^[A-Za-z0-9_.[\]]+: /, '');
  for (const [re, f] of TABLE) {
    const m = re.exec(msg);
    if (m) return f(m);
  }
  return /[\u4e00-\u9fff]/.test(msg) ? msg : '规则格式不正确';
}
