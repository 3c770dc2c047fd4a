/**
 * Where in the editor text an error is: JSON syntax errors by character
 * offset (`jsonSyntaxError`), rule-set validation errors by path (`rules[2].when.and[1]`, the
 * format core/rule-set.ts and admin-api's error handler report).
 *
 * `pathOffsets` walks text that JSON.parse has already accepted and records
 * the offset at which each value (or, for an object member, its key) starts,
 * named in the same path syntax: `a.b`, `a[0]`, keys with any characters
 * verbatim (`when.!=[0]`). The walk is iterative over a plain string scan —
 * no second full parser, no recursion limit for deep rule expressions.
 */

export interface Where {
  offset: number;
  line: number;
  column: number;
}

export function whereAt(text: string, offset: number): Where {
  const o = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let last = -1;
  for (let i = 0; i < o; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { offset: o, line, column: o - last };
}

export interface SyntaxProblem {
  offset: number;
  /** Chinese, for the editor */
  message: string;
}

/**
 * The first JSON syntax error in `text` (RFC 8259 grammar), or null when
 * JSON.parse would accept it. Browsers word JSON.parse's errors differently
 * and recent V8 no longer says where ("Unexpected token '}', ... is not
 * valid JSON"), so the editor finds the place itself.
 */
export function jsonSyntaxError(text: string): SyntaxProblem | null {
  let i = 0;
  const n = text.length;
  const fail = (message: string, at = i): never => {
    throw { offset: at, message } satisfies SyntaxProblem;
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail('字符串没有结束的双引号');
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail('字符串中不能直接包含换行或控制字符');
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('\\u 后应为 4 位十六进制数');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          fail('非法的转义字符');
        }
        continue;
      }
      i++;
    }
  };
  const value = (depth: number) => {
    ws();
    if (i >= n) fail('内容意外结束，此处应为值');
    if (depth > 512) fail('嵌套过深');
    const c = text[i]!;
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(i >= n ? '内容意外结束，缺少 }' : '此处应为用双引号括起的键名');
        string();
        ws();
        if (text[i] !== ':') fail('键名后应为冒号 :');
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(i >= n ? '内容意外结束，缺少 }' : '此处应为逗号 , 或 }');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(i >= n ? '内容意外结束，缺少 ]' : '此处应为逗号 , 或 ]');
      }
    }
    if (c === '"') return string();
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m && m[0] !== '' && m[0] !== '-') {
      i += m[0].length;
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    fail(c === "'" ? 'JSON 字符串须用双引号' : '此处应为值（对象、数组、字符串、数字、true、false 或 null）');
  };
  try {
    value(0);
    ws();
    if (i < n) fail('JSON 结束后还有多余内容（多了逗号或括号？）');
    return null;
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'offset' in e) return e as SyntaxProblem;
    throw e;
  }
}

interface Frame {
  kind: 'obj' | 'arr';
  path: string;
  index: number;
  key: string | null;
  keyAt: number;
}

const WS = /\s/;

function readString(text: string, i: number): [string, number] {
  // text[i] === '"'; JSON.parse already validated the escapes
  let j = i + 1;
  while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
  return [JSON.parse(text.slice(i, j + 1)) as string, j + 1];
}

function join(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

/** Map from path to the offset where that value (or object member) starts. Valid JSON only. */
export function pathOffsets(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const stack: Frame[] = [];
  let i = 0;
  const valuePath = (): string | null => {
    const top = stack[stack.length - 1];
    if (!top) return '';
    if (top.kind === 'arr') return `${top.path}[${top.index}]`;
    return top.key === null ? null : join(top.path, top.key);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (WS.test(c) || c === ',' || c === ':') {
      if (c === ',') {
        const top = stack[stack.length - 1];
        if (top?.kind === 'arr') top.index++;
        else if (top) top.key = null;
      }
      i++;
      continue;
    }
    const top = stack[stack.length - 1];
    if (top?.kind === 'obj' && top.key === null && c === '"') {
      const [key, next] = readString(text, i);
      top.key = key;
      top.keyAt = i;
      out.set(join(top.path, key), i);
      i = next;
      continue;
    }
    if (c === '}' || c === ']') {
      stack.pop();
      i++;
      continue;
    }
    const p = valuePath() ?? '';
    if (!(top?.kind === 'obj')) out.set(p, i);
    if (c === '{' || c === '[') {
      stack.push({ kind: c === '{' ? 'obj' : 'arr', path: p, index: 0, key: null, keyAt: i });
      i++;
      continue;
    }
    if (c === '"') {
      i = readString(text, i)[1];
      continue;
    }
    while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
  }
  return out;
}

/** Offset of the deepest recorded prefix of `path` (an error inside a value points at that value). */
export function locatePath(text: string, path: string): number | null {
  let offsets: Map<string, number>;
  try {
    offsets = pathOffsets(text);
  } catch {
    return null;
  }
  let p = path;
  for (;;) {
    const at = offsets.get(p);
    if (at !== undefined) return at;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) return offsets.get('') ?? null;
    p = p.slice(0, cut);
  }
}
