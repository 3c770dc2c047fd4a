import type { ReactNode } from 'react';
import { COLOR_LABEL, REASON_LABEL } from './format.js';

/**
 * 规则表格编辑: a structured editor over the rule format (core/rule-set.ts)
 * — version, parameters, and the ordered rules with their colour, reason and
 * condition — so an official changes "密接管控 14 天" to 10 without touching
 * JSON. Conditions are JsonLogic trees: each node shows in Chinese (an
 * operator, a variable such as 最近一次密接时间, a number) and every part is
 * editable in place; the JSON view stays one click away for anything else.
 *
 * It edits a parsed copy and hands back the whole object; the page turns it
 * into the same text the JSON view edits, so validation, upload and dry run
 * are the page's, unchanged.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface Rule {
  id: string;
  when: Json;
  color: string;
  reason: string;
  until?: Json;
  notice?: { kind: string; message: string; until?: Json };
}

export interface RuleSetDraft {
  version: string;
  params: Record<string, number>;
  rules: Rule[];
}

export const PARAM_LABEL: Record<string, string> = {
  closeContactDays: '密切接触者管控天数',
  secondaryDays: '密接的密接管控天数',
  riskAreaDays: '中高风险地区旅居管控天数',
  entryTestHours: '入川后检测时限（小时）',
};

const OP_LABEL: Record<string, string> = {
  '==': '等于', '!=': '不等于', '<': '小于', '<=': '不大于', '>': '大于', '>=': '不小于',
  and: '并且', or: '或者', '!': '并非', if: '如果…则…否则', '+': '相加', '-': '相减', '*': '相乘', max: '取最大', min: '取最小',
};

const LAST_LABEL: Record<string, string> = {
  confirmed: '确诊', suspected: '疑似', close_contact: '密接', secondary_contact: '密接的密接', risk_high: '到访高风险地区',
  risk_medium: '到访中风险地区', risk_low: '到访低风险地区', entry: '入川', test_negative: '核酸阴性', test_positive: '核酸阳性',
};

function varLabel(v: string): string {
  if (v === 'now') return '当前时间';
  if (v.startsWith('last.')) return `最近一次${LAST_LABEL[v.slice(5)] ?? v.slice(5)}的时间`;
  if (v.startsWith('params.')) return `参数：${PARAM_LABEL[v.slice(7)] ?? v.slice(7)}`;
  return v;
}

function varOptions(params: Record<string, number>): string[] {
  return ['now', ...Object.keys(LAST_LABEL).map((k) => `last.${k}`), ...Object.keys(params).map((k) => `params.${k}`)];
}

function isObj(e: Json): e is { [k: string]: Json } {
  return typeof e === 'object' && e !== null && !Array.isArray(e);
}

/** One expression node, editable; `onChange` replaces it in its parent. */
function Expr({ e, onChange, params, depth }: { e: Json; onChange: (e: Json) => void; params: Record<string, number>; depth: number }): ReactNode {
  if (e === null) return <span className="expr-lit">空（无记录）</span>;
  if (typeof e === 'number') {
    const days = e === 86400 ? '（一天的秒数）' : '';
    return (
      <span className="expr-lit">
        <input type="number" className="num" value={e} onChange={(x) => onChange(Number(x.target.value))} aria-label="数值" />
        {days}
      </span>
    );
  }
  if (typeof e === 'boolean') {
    return (
      <select value={String(e)} onChange={(x) => onChange(x.target.value === 'true')} aria-label="真假">
        <option value="true">是</option>
        <option value="false">否</option>
      </select>
    );
  }
  if (!isObj(e)) return <code>{JSON.stringify(e)}</code>;
  const op = Object.keys(e)[0]!;
  if (op === 'var') {
    const v = String(e.var);
    const opts = varOptions(params);
    return (
      <select className="expr-var" value={v} onChange={(x) => onChange({ var: x.target.value })} aria-label="变量">
        {!opts.includes(v) ? <option value={v}>{v}</option> : null}
        {opts.map((o) => (
          <option key={o} value={o}>
            {varLabel(o)}
          </option>
        ))}
      </select>
    );
  }
  const raw = e[op]!;
  const args: Json[] = Array.isArray(raw) ? raw : [raw];
  const setArg = (i: number, a: Json) => {
    const next = args.map((x, k) => (k === i ? a : x));
    onChange({ [op]: Array.isArray(raw) ? next : next[0]! });
  };
  return (
    <span className={`expr-op depth-${Math.min(depth, 4)}`}>
      <select value={op} onChange={(x) => onChange({ [x.target.value]: raw })} aria-label="运算" className="expr-opname">
        {Object.entries(OP_LABEL).map(([k, l]) => (
          <option key={k} value={k}>
            {l}
          </option>
        ))}
      </select>
      <span className="expr-args">
        {args.map((a, i) => (
          <span key={i} className="expr-arg">
            <Expr e={a} onChange={(n) => setArg(i, n)} params={params} depth={depth + 1} />
          </span>
        ))}
      </span>
    </span>
  );
}

export function RuleForm({ draft, onChange, readOnly }: { draft: RuleSetDraft; onChange: (d: RuleSetDraft) => void; readOnly: boolean }) {
  const setRule = (i: number, r: Rule) => onChange({ ...draft, rules: draft.rules.map((x, k) => (k === i ? r : x)) });
  const move = (i: number, d: -1 | 1) => {
    const j = i + d;
    if (j < 0 || j >= draft.rules.length) return;
    const rules = [...draft.rules];
    [rules[i], rules[j]] = [rules[j]!, rules[i]!];
    onChange({ ...draft, rules });
  };
  return (
    <fieldset className="rule-form" disabled={readOnly} data-testid="rule-form">
      <div className="form-row">
        <label>
          版本号（修改后须更换）
          <input name="rule-version" value={draft.version} onChange={(e) => onChange({ ...draft, version: e.target.value })} />
        </label>
      </div>
      <h3>参数</h3>
      <div className="form-row">
        {Object.entries(draft.params).map(([k, v]) => (
          <label key={k}>
            {PARAM_LABEL[k] ?? k}
            <input
              type="number"
              name={`param-${k}`}
              value={v}
              min={0}
              onChange={(e) => onChange({ ...draft, params: { ...draft.params, [k]: Number(e.target.value) } })}
            />
          </label>
        ))}
      </div>
      <h3>规则（自上而下，第一条成立的规则决定颜色）</h3>
      <ol className="rule-list">
        {draft.rules.map((r, i) => (
          <li key={i} className="rule-card" data-rule={r.id}>
            <div className="form-row">
              <label>
                编号
                <input value={r.id} onChange={(e) => setRule(i, { ...r, id: e.target.value })} aria-label="规则编号" />
              </label>
              <label>
                赋码颜色
                <select value={r.color} onChange={(e) => setRule(i, { ...r, color: e.target.value })} aria-label="赋码颜色">
                  {Object.entries(COLOR_LABEL).map(([c, l]) => (
                    <option key={c} value={c}>
                      {l}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                原因
                <select value={r.reason} onChange={(e) => setRule(i, { ...r, reason: e.target.value })} aria-label="原因">
                  {!REASON_LABEL[r.reason] ? <option value={r.reason}>{r.reason}</option> : null}
                  {Object.entries(REASON_LABEL).map(([k, l]) => (
                    <option key={k} value={k}>
                      {l}
                    </option>
                  ))}
                </select>
              </label>
              <span className="rule-move">
                <button type="button" onClick={() => move(i, -1)} disabled={i === 0} aria-label="上移">
                  ↑
                </button>
                <button type="button" onClick={() => move(i, 1)} disabled={i === draft.rules.length - 1} aria-label="下移">
                  ↓
                </button>
                <button type="button" className="btn-link" onClick={() => onChange({ ...draft, rules: draft.rules.filter((_, k) => k !== i) })}>
                  删除
                </button>
              </span>
            </div>
            <div className="rule-when">
              <span className="muted">条件：</span>
              <Expr e={r.when} onChange={(w) => setRule(i, { ...r, when: w })} params={draft.params} depth={0} />
            </div>
            {r.until !== undefined ? (
              <div className="rule-when">
                <span className="muted">有效至：</span>
                <Expr e={r.until} onChange={(u) => setRule(i, { ...r, until: u })} params={draft.params} depth={0} />
              </div>
            ) : null}
            {r.notice ? (
              <label>
                提示语（市民可见）
                <input value={r.notice.message} onChange={(e) => setRule(i, { ...r, notice: { ...r.notice!, message: e.target.value } })} aria-label="提示语" />
              </label>
            ) : null}
          </li>
        ))}
      </ol>
    </fieldset>
  );
}

/** The draft if `v` has the rule set's outer shape (version, params of numbers, rules), else null. */
export function asDraft(v: unknown): RuleSetDraft | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Partial<RuleSetDraft>;
  if (typeof o.version !== 'string' || typeof o.params !== 'object' || o.params === null || !Array.isArray(o.rules)) return null;
  if (!Object.values(o.params).every((x) => typeof x === 'number')) return null;
  if (!o.rules.every((r) => typeof r === 'object' && r !== null && typeof r.id === 'string' && typeof r.color === 'string' && typeof r.reason === 'string')) return null;
  return o as RuleSetDraft;
}
