import type { Notice } from './code-record.js';
import { CoreError } from './errors.js';
import { deriveView, type FactView, type Facts } from './facts.js';
import {
  NO_MATCH_REASON, RULE_LIMITS, SEVERITY, normaliseUntil, renderMessage,
  type Expr, type RuleSet, type Verdict,
} from './rule-set.js';

/**
 * The reference interpreter: walks the rule set's JSON on every call, with
 * no precomputation. It is the executable form of the semantics written in
 * rule-set.ts and the oracle the compiled form is property-tested against
 * (rule-compile.test.ts). It shares with the compiler only the fact view,
 * the severity table, message rendering and the final `until` normalisation;
 * it does not use the type checker's output, so a type-checker bug that the
 * compiler relied on would show up as a disagreement.
 *
 * It expects a rule set that went through validateRuleSet; on anything else
 * it throws CORE_ERR_RULE_INVALID where it notices, never recursing deeper
 * than the validator allows.
 */
export type RuleValue = number | boolean | null;

function broken(detail: string): never {
  throw new CoreError('CORE_ERR_RULE_INVALID', `not a validated rule set: ${detail}`);
}

function num(x: RuleValue): number | null {
  if (typeof x === 'boolean') broken('boolean where a number is needed');
  return x;
}

function readVar(path: unknown, view: FactView, params: Readonly<Record<string, number>>): RuleValue {
  if (path === 'now') return view.now;
  if (typeof path === 'string') {
    if (path.startsWith('last.')) {
      const key = path.slice(5);
      if (Object.hasOwn(view.last, key)) return view.last[key as keyof FactView['last']];
    } else if (path.startsWith('params.')) {
      const name = path.slice(7);
      if (Object.hasOwn(params, name)) return params[name]!;
    }
  }
  return broken(`unknown variable ${String(path)}`);
}

function ev(e: unknown, view: FactView, params: Readonly<Record<string, number>>, depth: number): RuleValue {
  if (e === null || typeof e === 'number' || typeof e === 'boolean') return e;
  if (typeof e !== 'object' || Array.isArray(e)) broken(`${typeof e} as an expression`);
  if (depth > RULE_LIMITS.maxDepth) broken('nested too deep');
  const o = e as Record<string, unknown>;
  let op = '';
  for (const k in o) { op = k; break; }
  const raw = o[op];
  if (op === 'var') return readVar(raw, view, params);
  const args: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
  const n = args.length;
  const d = depth + 1;
  switch (op) {
    case '==': return ev(args[0], view, params, d) === ev(args[1], view, params, d);
    case '!=': return ev(args[0], view, params, d) !== ev(args[1], view, params, d);
    case '<': case '<=': case '>': case '>=': {
      // Ordering with a null operand is false; with 3 operands (`<`, `<=`): a OP b && b OP c.
      let prev = num(ev(args[0], view, params, d));
      let result = true;
      for (let i = 1; i < n; i++) {
        const cur = num(ev(args[i], view, params, d));
        if (prev === null || cur === null) result = false;
        else if (op === '<' ? !(prev < cur) : op === '<=' ? !(prev <= cur) : op === '>' ? !(prev > cur) : !(prev >= cur)) result = false;
        prev = cur;
      }
      return result;
    }
    case 'and':
      for (let i = 0; i < n; i++) if (ev(args[i], view, params, d) !== true) return false;
      return true;
    case 'or':
      for (let i = 0; i < n; i++) if (ev(args[i], view, params, d) === true) return true;
      return false;
    case '!':
      return ev(args[0], view, params, d) !== true;
    case 'if': {
      let i = 0;
      for (; i + 1 < n; i += 2) if (ev(args[i], view, params, d) === true) return ev(args[i + 1], view, params, d);
      return ev(args[i], view, params, d);
    }
    case '+': case '*': {
      let acc = num(ev(args[0], view, params, d));
      for (let i = 1; i < n; i++) {
        const x = num(ev(args[i], view, params, d));
        acc = acc === null || x === null ? null : op === '+' ? acc + x : acc * x;
      }
      return acc;
    }
    case '-': {
      const a = num(ev(args[0], view, params, d));
      if (n === 1) return a === null ? null : -a;
      const b = num(ev(args[1], view, params, d));
      return a === null || b === null ? null : a - b;
    }
    case 'max': case 'min': {
      let acc: number | null = null;
      for (let i = 0; i < n; i++) {
        const x = num(ev(args[i], view, params, d));
        if (x === null) continue;
        if (acc === null || (op === 'max' ? x > acc : x < acc)) acc = x;
      }
      return acc;
    }
    default:
      return broken(`unknown operator ${op}`);
  }
}

/** Evaluates one expression against a fact view. */
export function interpretExpr(expr: Expr, view: FactView, params: Readonly<Record<string, number>>): RuleValue {
  return ev(expr, view, params, 0);
}

/** Evaluates a validated rule set for one person's facts by walking its JSON. */
export function interpretRuleSet(rs: RuleSet, facts: Facts): Verdict {
  const view = deriveView(facts);
  const params = rs.params;
  let best = -1;
  let bestSeverity = -1;
  let bestUntil: number | null = null;
  const notices: Notice[] = [];
  for (let i = 0; i < rs.rules.length; i++) {
    const r = rs.rules[i]!;
    if (ev(r.when, view, params, 0) !== true) continue;
    const until = r.until === undefined ? null : normaliseUntil(num(ev(r.until, view, params, 0)));
    const sev = SEVERITY[r.color];
    // More severe wins; equally severe: the later until wins, null (no expiry) latest; ties: first listed.
    if (sev > bestSeverity || (sev === bestSeverity && bestUntil !== null && (until === null || until > bestUntil))) {
      best = i;
      bestSeverity = sev;
      bestUntil = until;
    }
    if (r.notice !== undefined) {
      const nu = r.notice.until === undefined ? null : normaliseUntil(num(ev(r.notice.until, view, params, 0)));
      notices.push({ kind: r.notice.kind, message: renderMessage(r.notice.message, params), until: nu });
    }
  }
  if (best < 0) return { color: 'green', reason: NO_MATCH_REASON, until: null, notices };
  const w = rs.rules[best]!;
  return { color: w.color, reason: w.reason, until: bestUntil, notices };
}
