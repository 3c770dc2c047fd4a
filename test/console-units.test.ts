import { describe, expect, it } from 'vitest';
import { DEFAULT_RULE_SET } from '../core/default-rules.js';
import { validateRuleSet } from '../core/rule-set.js';
import { can, PERMISSIONS, ROLES } from '../admin-api/roles.js';
import { CONSOLE_GRANTS, consoleCan } from '../admin-api/console/src/roles.js';
import fc from 'fast-check';
import { jsonSyntaxError, locatePath, pathOffsets, whereAt } from '../admin-api/console/src/json-locate.js';

/**
 * The web console's pure logic, run in Node (the console's own folder is
 * outside vitest's include: it is browser code built by Vite). The browser
 * flows are in test/console.test.ts.
 */

describe('console role table', () => {
  it('matches the server for every role and permission', () => {
    expect(Object.keys(CONSOLE_GRANTS).sort()).toEqual([...ROLES].sort());
    for (const role of ROLES) {
      for (const perm of PERMISSIONS) {
        expect(consoleCan(role, perm), `${role} ${perm}`).toBe(can(role, perm));
      }
    }
  });

  it('shows everything for an unknown role and leaves the decision to the server', () => {
    expect(consoleCan(null, 'rules.write')).toBe(true);
    expect(consoleCan('role_from_a_newer_server', 'audit.read')).toBe(true);
  });
});

function ruleError(x: unknown): string {
  try {
    validateRuleSet(x);
  } catch (e) {
    return (e as { field: string }).field;
  }
  throw new Error('expected a validation error');
}

describe('json-locate', () => {
  const text = JSON.stringify(DEFAULT_RULE_SET, null, 2);

  it('records every member and element under the rule-set path syntax', () => {
    const m = pathOffsets(text);
    expect(text.slice(m.get('version')!, m.get('version')! + 9)).toBe('"version"');
    expect(text.slice(m.get('rules[0]')!, m.get('rules[0]')! + 1)).toBe('{');
    expect(text.slice(m.get('rules[1].reason')!).startsWith('"reason"')).toBe(true);
    expect(m.has('rules[2].when.and[1].!')).toBe(true);
    expect(m.get('')).toBe(0);
  });

  it('points a validator error path at the line of the offending value', () => {
    const broken = structuredClone(DEFAULT_RULE_SET) as unknown as { rules: { color: string; when: unknown }[] };
    broken.rules[3]!.color = 'purple';
    const t = JSON.stringify(broken, null, 2);
    const path = ruleError(broken);
    expect(path).toBe('rules[3].color');
    const at = locatePath(t, path)!;
    expect(t.slice(at).startsWith('"color": "purple"')).toBe(true);
    expect(whereAt(t, at).line).toBe(t.slice(0, at).split('\n').length);
  });

  it('falls back to the deepest recorded ancestor for a path below a value', () => {
    const broken = structuredClone(DEFAULT_RULE_SET) as unknown as { rules: { when: unknown }[] };
    broken.rules[0]!.when = { '!=': [{ var: 'last.nonsense' }, null] };
    const t = JSON.stringify(broken, null, 2);
    const path = ruleError(broken);
    expect(path.startsWith('rules[0].when')).toBe(true);
    const at = locatePath(t, path)!;
    expect(t.slice(at).startsWith('{') || t.slice(at).startsWith('"')).toBe(true);
    expect(at).toBeGreaterThanOrEqual(locatePath(t, 'rules[0].when')!);
    expect(locatePath(t, 'rules[0].when.nothing[9].deeper')).toBe(locatePath(t, 'rules[0].when'));
  });

  it('handles strings with escapes, brackets and commas inside keys and values', () => {
    const t = '{"a,b": "x]}\\"", "c": [1, {"d": [true, null]}], "e\\u0022": 2}';
    const m = pathOffsets(t);
    expect(t.slice(m.get('a,b')!).startsWith('"a,b"')).toBe(true);
    expect(t.slice(m.get('c[1].d[1]')!).startsWith('null')).toBe(true);
    expect(t.slice(m.get('e"')!).startsWith('"e\\u0022"')).toBe(true);
  });

  it('finds the place of a JSON syntax error, with a message for the editor', () => {
    const cases: [string, number, string][] = [
      ['{\n  "a": 1,\n  "b": }', 19, '此处应为值'],
      ['{"a": 1,}', 8, '键名'],
      ['[1, 2', 5, '缺少 ]'],
      ["{'a': 1}", 1, '键名'],
      ['{"a" 1}', 5, '冒号'],
      ['{"a": tru}', 6, '此处应为值'],
      ['{"a": "x\ny"}', 8, '换行'],
      ['{"a": "\\q"}', 7, '转义'],
      ['{"a": 01}', 7, '逗号'],
      ['{} {}', 3, '多余内容'],
      ['', 0, '意外结束'],
    ];
    for (const [text, offset, words] of cases) {
      const p = jsonSyntaxError(text);
      expect(p, text).not.toBeNull();
      expect(p!.offset, text).toBe(offset);
      expect(p!.message, text).toContain(words);
    }
    expect(whereAt('{\n  "a": 1,\n  "b": }', 19)).toEqual({ offset: 19, line: 3, column: 8 });
    expect(jsonSyntaxError(text)).toBeNull();
  });

  it('accepts exactly what JSON.parse accepts', () => {
    const parses = (t: string): boolean => {
      try {
        JSON.parse(t);
        return true;
      } catch {
        return false;
      }
    };
    // valid documents, and mutations of them (cut, insert a character) that are mostly invalid
    const doc = fc.jsonValue().map((v) => JSON.stringify(v, null, 1));
    const mutated = fc.tuple(doc, fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', '\\', '1', '-', 'e', ' ', '\n', '\u0001', 'x'), fc.boolean())
      .map(([t, at, ch, cut]) => {
        const k = at % (t.length + 1);
        return cut ? t.slice(0, k) + ch : t.slice(0, k) + ch + t.slice(k);
      });
    fc.assert(
      fc.property(fc.oneof(doc, mutated, fc.string()), (t) => {
        expect(jsonSyntaxError(t) === null).toBe(parses(t));
      }),
      { numRuns: 3000 },
    );
  });
});
