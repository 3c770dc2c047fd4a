import type { Color, Notice } from './code-record.js';
import { CoreError } from './errors.js';
import { LAST_KEYS, type LastKey } from './facts.js';

/**
 * Rule sets: JSON data, versioned, pushed by the admin and evaluated without
 * a deploy (DESIGN §3). The expression language is a typed subset of
 * JsonLogic (jsonlogic.com) shaped by what the EU DCC business rules
 * (CertLogic, github.com/ehn-dcc-development/dgc-business-rules) learned from
 * JsonLogic: no truthiness, no implicit conversions, every operator total.
 *
 * ## Data the expressions read (`var`)
 *
 *   now                  number   evaluation instant, unix seconds
 *   last.<key>           number?  latest fact of that key at or before now,
 *                                 or null (keys: see LAST_KEYS in facts.ts)
 *   params.<name>        number   a parameter of this rule set
 *
 * `var` takes one string; no default, no whole-data access. Unknown paths are
 * rejected when the rule set is loaded, not at evaluation.
 *
 * ## Values and types (checked statically on load)
 *
 *   bool    true / false — never null
 *   num     a number that is never null
 *   num?    a number or null (null means "no such fact")
 *
 * Literals: true, false, null and safe integers (all quantities are whole
 * seconds, hours or days; integers in, integers out). A null literal is a
 * num?. Strings and arrays are not values.
 *
 * ## Operators (JsonLogic names; a non-array argument is one argument)
 *
 *   ==, !=          2 args, both numeric or both bool. Identity: null == null
 *                   is true, null == 5 is false.
 *   <, <=           2 or 3 numeric args (3 = between: a < b < c)
 *   >, >=           2 numeric args
 *                   Any null operand makes an ordering comparison FALSE. So
 *                   `!(a > b)` is true when either is null — rules use this
 *                   on purpose ("no negative test after the event" holds
 *                   when there is no test at all); write `!= null` guards
 *                   where that is not what you mean.
 *   and, or         ≥ 1 bool args → bool
 *   !               1 bool arg → bool
 *   if              [c1, v1, c2, v2, …, else]: odd count ≥ 3, conditions
 *                   bool, branches all bool or all numeric
 *   +, *            ≥ 1 numeric args, left to right; any null → null
 *   -               1 arg (negate) or 2 (a - b); any null → null
 *   max, min        ≥ 1 numeric args; nulls are skipped; null only if all
 *                   are null. From the left, a value replaces the running
 *                   result only if strictly greater (max) / smaller (min).
 *
 * Arithmetic is IEEE double, as in JavaScript; with integer inputs it is
 * exact up to 2^53. A verdict `until` that is not a safe integer ≥ 0
 * (overflow, or a nonsensical negative time) is reported as null.
 *
 * ## Verdict (what a rule set yields for one person)
 *
 * Every rule is evaluated. Among the rules whose `when` is true the most
 * severe colour wins (red > yellow > green). Among equally severe matches the
 * one with the LATEST `until` wins, null counting as latest (it does not
 * expire by itself): the code then shows the reason that keeps it in that
 * colour longest, so its `until` is the true end of that colour rather than an
 * earlier expiry hidden behind another reason. Remaining ties go to the rule
 * listed first. Notices come from every matching rule that has one, in rule
 * order — a notice can ride on a green code (入川即检: test pending). No match:
 * green, reason 'normal', until null.
 *
 * `until` is exclusive: the rule's colour holds while now < until.
 */
export type Expr = number | boolean | null | { readonly [op: string]: Expr | readonly Expr[] | string };

export interface RuleNotice {
  /** stable kind, e.g. 'entry_test' */
  readonly kind: string;
  /** shown to the citizen; `{params.NAME}` is replaced by that parameter */
  readonly message: string;
  /** numeric expression: unix seconds or null */
  readonly until?: Expr;
}

export interface Rule {
  readonly id: string;
  /** bool expression */
  readonly when: Expr;
  readonly color: Color;
  /** short stable code: [a-z][a-z0-9_]* */
  readonly reason: string;
  /** numeric expression: unix seconds or null (no expiry) */
  readonly until?: Expr;
  readonly notice?: RuleNotice;
}

export interface RuleSet {
  readonly version: string;
  readonly params: Readonly<Record<string, number>>;
  readonly rules: readonly Rule[];
}

export interface Verdict {
  readonly color: Color;
  readonly reason: string;
  readonly until: number | null;
  readonly notices: Notice[];
}

export const NO_MATCH_REASON = 'normal';

/** Limits that keep a hostile or broken rule set from costing unbounded stack, memory or time. */
export const RULE_LIMITS = {
  /** operator nesting of one expression; recursion in every walker stays below this */
  maxDepth: 32,
  /** expression nodes in the whole rule set */
  maxNodes: 20_000,
  maxRules: 1_000,
  maxParams: 200,
  maxMessage: 500,
} as const;

export const SEVERITY: { readonly [C in Color]: number } = { green: 0, yellow: 1, red: 2 };

export type ValueType = 'bool' | 'num' | 'num?';

export type Op =
  | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'and' | 'or' | '!' | 'if' | '+' | '-' | '*' | 'max' | 'min';

/** [min args, max args] per operator; `var` is handled on its own. */
const ARITY: { readonly [O in Op]: readonly [number, number] } = {
  '==': [2, 2], '!=': [2, 2],
  '<': [2, 3], '<=': [2, 3], '>': [2, 2], '>=': [2, 2],
  and: [1, Infinity], or: [1, Infinity], '!': [1, 1], if: [3, Infinity],
  '+': [1, Infinity], '*': [1, Infinity], '-': [1, 2], max: [1, Infinity], min: [1, Infinity],
};

export const OPERATORS: readonly string[] = ['var', ...Object.keys(ARITY)];

/** The checked form of an expression, with its static type on every node. */
export type TypedExpr =
  | { readonly k: 'lit'; readonly t: ValueType; readonly v: number | boolean | null }
  | { readonly k: 'now'; readonly t: 'num' }
  | { readonly k: 'last'; readonly t: 'num?'; readonly key: LastKey }
  | { readonly k: 'param'; readonly t: 'num'; readonly name: string; readonly v: number }
  | { readonly k: 'op'; readonly t: ValueType; readonly op: Op; readonly args: readonly TypedExpr[] };

export interface TypedRule {
  readonly index: number;
  readonly id: string;
  readonly color: Color;
  readonly severity: number;
  readonly reason: string;
  readonly when: TypedExpr;
  readonly until: TypedExpr | null;
  readonly notice: { readonly kind: string; readonly message: string; readonly until: TypedExpr | null } | null;
}

export interface CheckedRuleSet {
  /** the validated copy, deep-frozen */
  readonly ruleSet: RuleSet;
  readonly rules: readonly TypedRule[];
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const CODE_RE = /^[a-z][a-z0-9_]{0,63}$/;
const PARAM_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;
const PLACEHOLDER_RE = /\{params\.([A-Za-z_][A-Za-z0-9_]*)\}/g;
const COLORS: readonly Color[] = ['green', 'yellow', 'red'];
const LAST_SET: ReadonlySet<string> = new Set(LAST_KEYS);

function bad(detail: string, path: string): never {
  throw new CoreError('CORE_ERR_RULE_INVALID', detail, path === '' ? undefined : path);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

function typeName(t: ValueType): string {
  return t === 'bool' ? 'a boolean' : t === 'num' ? 'a number' : 'a number or null';
}

interface Ctx {
  readonly params: Readonly<Record<string, number>>;
  nodes: number;
}

function checkVar(raw: unknown, path: string, ctx: Ctx): TypedExpr {
  if (typeof raw !== 'string') bad(`'var' takes one path string, got ${describe(raw)}`, path);
  if (raw === 'now') return { k: 'now', t: 'num' };
  if (raw.startsWith('last.')) {
    const key = raw.slice(5);
    if (LAST_SET.has(key)) return { k: 'last', t: 'num?', key: key as LastKey };
  } else if (raw.startsWith('params.')) {
    const name = raw.slice(7);
    if (Object.hasOwn(ctx.params, name)) return { k: 'param', t: 'num', name, v: ctx.params[name]! };
  }
  return bad(`unknown variable '${raw}' (known: now, last.<${LAST_KEYS.join('|')}>, params.<name>)`, path);
}

function needBool(e: TypedExpr, path: string): void {
  if (e.t !== 'bool') bad(`expected a boolean, got ${typeName(e.t)}`, path);
}
function needNumeric(e: TypedExpr, path: string): void {
  if (e.t === 'bool') bad('expected a number, got a boolean', path);
}

function checkExpr(x: unknown, path: string, depth: number, ctx: Ctx): TypedExpr {
  if (++ctx.nodes > RULE_LIMITS.maxNodes) bad(`more than ${RULE_LIMITS.maxNodes} expression nodes`, path);
  if (x === null) return { k: 'lit', t: 'num?', v: null };
  if (typeof x === 'boolean') return { k: 'lit', t: 'bool', v: x };
  if (typeof x === 'number') {
    if (!Number.isSafeInteger(x)) bad(`number literals must be safe integers, got ${x}`, path);
    return { k: 'lit', t: 'num', v: x };
  }
  if (typeof x === 'string') bad(`a string is not a value here (did you mean {"var": "${x.slice(0, 40)}"}?)`, path);
  if (!isPlainObject(x)) bad(`expected an expression, got ${describe(x)}`, path);
  const keys = Object.keys(x);
  if (keys.length !== 1) bad(`an operator object has exactly one key, got ${keys.length}`, path);
  const op = keys[0]!;
  const raw = x[op];
  if (op === 'var') return checkVar(raw, path, ctx);
  if (!Object.hasOwn(ARITY, op)) bad(`unknown operator '${op.slice(0, 40)}'`, path);
  if (depth >= RULE_LIMITS.maxDepth) bad(`expressions nest at most ${RULE_LIMITS.maxDepth} operators deep`, path);
  const [min, max] = ARITY[op as Op];
  const isArray = Array.isArray(raw);
  const rawArgs: readonly unknown[] = isArray ? raw : [raw];
  const n = rawArgs.length;
  if (n < min || n > max || (op === 'if' && n % 2 === 0)) {
    const want = op === 'if' ? 'an odd number ≥ 3 of' : max === Infinity ? `at least ${min}` : min === max ? `${min}` : `${min} or ${max}`;
    bad(`'${op}' takes ${want} arguments, got ${n}`, path);
  }
  const args: TypedExpr[] = new Array<TypedExpr>(n);
  const argPath = (i: number): string => (isArray ? `${path}.${op}[${i}]` : `${path}.${op}`);
  for (let i = 0; i < n; i++) args[i] = checkExpr(rawArgs[i], argPath(i), depth + 1, ctx);

  let t: ValueType;
  switch (op as Op) {
    case '==': case '!=':
      if ((args[0]!.t === 'bool') !== (args[1]!.t === 'bool')) {
        bad(`'${op}' compares ${typeName(args[0]!.t)} with ${typeName(args[1]!.t)}`, argPath(1));
      }
      t = 'bool';
      break;
    case '<': case '<=': case '>': case '>=':
      for (let i = 0; i < n; i++) needNumeric(args[i]!, argPath(i));
      t = 'bool';
      break;
    case 'and': case 'or': case '!':
      for (let i = 0; i < n; i++) needBool(args[i]!, argPath(i));
      t = 'bool';
      break;
    case 'if': {
      const boolBranches = args[1]!.t === 'bool';
      let nullable = false;
      for (let i = 0; i < n; i++) {
        const isCond = i % 2 === 0 && i !== n - 1;
        if (isCond) { needBool(args[i]!, argPath(i)); continue; }
        if (boolBranches) needBool(args[i]!, argPath(i));
        else needNumeric(args[i]!, argPath(i));
        if (args[i]!.t === 'num?') nullable = true;
      }
      t = boolBranches ? 'bool' : nullable ? 'num?' : 'num';
      break;
    }
    case '+': case '-': case '*': {
      let nullable = false;
      for (let i = 0; i < n; i++) {
        needNumeric(args[i]!, argPath(i));
        if (args[i]!.t === 'num?') nullable = true;
      }
      t = nullable ? 'num?' : 'num';
      break;
    }
    case 'max': case 'min': {
      let someNonNull = false;
      for (let i = 0; i < n; i++) {
        needNumeric(args[i]!, argPath(i));
        if (args[i]!.t === 'num') someNonNull = true;
      }
      t = someNonNull ? 'num' : 'num?';
      break;
    }
  }
  return { k: 'op', t, op: op as Op, args };
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], required: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) bad(`unknown field '${k.slice(0, 40)}'`, path === '' ? k : `${path}.${k}`);
  }
  for (const k of required) {
    if (o[k] === undefined) bad('is required', path === '' ? k : `${path}.${k}`);
  }
}

function checkParams(x: unknown): Readonly<Record<string, number>> {
  if (!isPlainObject(x)) bad(`must be an object of integers, got ${describe(x)}`, 'params');
  // Null prototype: a parameter named `constructor` or `__proto__` is just a name.
  const params: Record<string, number> = Object.create(null) as Record<string, number>;
  const names = Object.keys(x);
  if (names.length > RULE_LIMITS.maxParams) bad(`at most ${RULE_LIMITS.maxParams} parameters`, 'params');
  for (const name of names) {
    const v = x[name];
    if (!PARAM_RE.test(name)) bad('parameter names are identifiers', `params.${name.slice(0, 40)}`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(`must be a safe integer, got ${describe(v)}`, `params.${name}`);
    params[name] = v;
  }
  return params;
}

/**
 * Checks one expression on its own (tools, tests, the rule editor's live
 * check) against a params object; errors as validateRuleSet, paths under `path`.
 */
export function checkExpression(x: unknown, params: unknown, path = 'expr'): TypedExpr {
  return checkExpr(x, path, 0, { params: checkParams(params), nodes: 0 });
}

/** `{params.NAME}` → the parameter's value. Unknown names are rejected on load. */
export function renderMessage(message: string, params: Readonly<Record<string, number>>): string {
  return message.replace(PLACEHOLDER_RE, (_m, name: string) => String(params[name]));
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/**
 * Validates a rule set and type-checks every expression. Returns the checked
 * copy (deep-frozen, so nothing can change it after it was checked) and the
 * typed expression trees the compiler generates code from.
 */
export function checkRuleSet(x: unknown): CheckedRuleSet {
  if (!isPlainObject(x)) bad(`a rule set is an object, got ${describe(x)}`, '');
  checkKeys(x, ['version', 'params', 'rules'], ['version', 'params', 'rules'], '');
  if (typeof x.version !== 'string' || !VERSION_RE.test(x.version)) {
    bad('must be 1–64 characters of letters, digits, dot, dash, underscore', 'version');
  }
  const params = checkParams(x.params);
  if (!Array.isArray(x.rules)) bad(`must be an array, got ${describe(x.rules)}`, 'rules');
  if (x.rules.length > RULE_LIMITS.maxRules) bad(`at most ${RULE_LIMITS.maxRules} rules`, 'rules');

  const ctx: Ctx = { params, nodes: 0 };
  const ids = new Set<string>();
  const rules: Rule[] = [];
  const typed: TypedRule[] = [];
  for (let i = 0; i < x.rules.length; i++) {
    const p = `rules[${i}]`;
    const r: unknown = x.rules[i];
    if (!isPlainObject(r)) bad(`a rule is an object, got ${describe(r)}`, p);
    checkKeys(r, ['id', 'when', 'color', 'reason', 'until', 'notice'], ['id', 'when', 'color', 'reason'], p);
    if (typeof r.id !== 'string' || !ID_RE.test(r.id)) bad('must be 1–64 characters of letters, digits, dot, dash, underscore', `${p}.id`);
    if (ids.has(r.id)) bad(`duplicate rule id '${r.id}'`, `${p}.id`);
    ids.add(r.id);
    if (!COLORS.includes(r.color as Color)) bad('must be green, yellow or red', `${p}.color`);
    if (typeof r.reason !== 'string' || !CODE_RE.test(r.reason)) bad('must be a short code [a-z][a-z0-9_]*', `${p}.reason`);
    const when = checkExpr(r.when, `${p}.when`, 0, ctx);
    needBool(when, `${p}.when`);
    let until: TypedExpr | null = null;
    if (r.until !== undefined) {
      until = checkExpr(r.until, `${p}.until`, 0, ctx);
      needNumeric(until, `${p}.until`);
    }
    let notice: TypedRule['notice'] = null;
    let noticeCopy: RuleNotice | undefined;
    if (r.notice !== undefined) {
      const np = `${p}.notice`;
      const nt = r.notice;
      if (!isPlainObject(nt)) bad(`a notice is an object, got ${describe(nt)}`, np);
      checkKeys(nt, ['kind', 'message', 'until'], ['kind', 'message'], np);
      if (typeof nt.kind !== 'string' || !CODE_RE.test(nt.kind)) bad('must be a short code [a-z][a-z0-9_]*', `${np}.kind`);
      if (typeof nt.message !== 'string' || nt.message.length === 0 || nt.message.length > RULE_LIMITS.maxMessage) {
        bad(`must be a non-empty string of at most ${RULE_LIMITS.maxMessage} characters`, `${np}.message`);
      }
      for (const m of nt.message.matchAll(PLACEHOLDER_RE)) {
        if (!Object.hasOwn(params, m[1]!)) bad(`unknown parameter {params.${m[1]}} in message`, `${np}.message`);
      }
      let nUntil: TypedExpr | null = null;
      if (nt.until !== undefined) {
        nUntil = checkExpr(nt.until, `${np}.until`, 0, ctx);
        needNumeric(nUntil, `${np}.until`);
      }
      notice = { kind: nt.kind, message: renderMessage(nt.message, params), until: nUntil };
      noticeCopy = nt.until === undefined
        ? { kind: nt.kind, message: nt.message }
        : { kind: nt.kind, message: nt.message, until: structuredClone(nt.until) as Expr };
    }
    const rule: { -readonly [K in keyof Rule]: Rule[K] } = {
      id: r.id, when: structuredClone(r.when) as Expr, color: r.color as Color, reason: r.reason,
    };
    if (r.until !== undefined) rule.until = structuredClone(r.until) as Expr;
    if (noticeCopy !== undefined) rule.notice = noticeCopy;
    rules.push(rule);
    typed.push({
      index: i, id: r.id, color: r.color as Color, severity: SEVERITY[r.color as Color], reason: r.reason,
      when, until, notice,
    });
  }
  const ruleSet: RuleSet = deepFreeze({ version: x.version, params, rules });
  return { ruleSet, rules: deepFreeze(typed) };
}

/**
 * Validates a rule set on load. Unknown operators, wrong arity, wrong types,
 * unknown `var` paths, bad colours, missing fields, duplicate ids and nesting
 * beyond RULE_LIMITS.maxDepth all throw CoreError('CORE_ERR_RULE_INVALID',
 * detail, path) with a path like `rules[2].when.and[1]`.
 */
export function validateRuleSet(x: unknown): RuleSet {
  return checkRuleSet(x).ruleSet;
}

/** The verdict `until` normalisation both engines apply (see the header). */
export function normaliseUntil(x: number | null): number | null {
  return x !== null && Number.isSafeInteger(x) && x >= 0 ? x + 0 : null;
}
