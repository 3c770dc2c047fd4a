/**
 * The one error shape every package throws for bad input or a refused
 * operation (fastify's `errors.js` pattern): a stable `code` callers match on,
 * the HTTP status it maps to, and optionally the input field it concerns.
 *
 * Each package keeps a small catalogue (`CORE_ERR_*`, `EDGE_ERR_*`, …) in its
 * own `errors.ts` and documents it in `ERRORS.md` beside it; a test per
 * package (see `checkCatalogueDoc`) keeps the two in sync.
 */
export interface ErrorSpec {
  /** HTTP status the error maps to when it reaches a client. */
  readonly status: number;
  /** One-line description, also the default message. */
  readonly message: string;
  /**
   * What an official or a citizen reads (简体中文), no raw codes, no English.
   * Required: a code without one does not typecheck, and
   * core/errors-zh.test.ts checks every catalogue for an empty or
   * non-Chinese text.
   */
  readonly zh: string;
}

export type Catalogue = Readonly<Record<string, ErrorSpec>>;

export class CodedError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly field: string | undefined;
  /**
   * The Chinese text for people (the catalogue's `zh`, plus a Chinese detail
   * when the thrower has one, e.g. a lockout's end in China time). Not part
   * of toJSON: each HTTP layer decides how it shows it (admin-api adds it as
   * `zh`, with the field named in Chinese).
   */
  readonly zh: string | undefined;

  constructor(code: string, statusCode: number, message: string, field?: string, zh?: string) {
    super(message);
    this.name = 'CodedError';
    this.code = code;
    this.statusCode = statusCode;
    this.field = field;
    this.zh = zh;
  }

  /** The JSON body a client gets: DESIGN §5 `{ error, message }`. */
  toJSON(): { error: string; message: string; field?: string } {
    return this.field === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, field: this.field };
  }
}

/**
 * Builds the error class of one package from its catalogue, so a code that is
 * not in the catalogue is a type error at the throw site.
 *
 *   export const EdgeError = errorClass('EdgeError', EDGE_ERRORS);
 *   throw new EdgeError('EDGE_ERR_BODY_TOO_LARGE', 'body is 5000 bytes');
 */
export function errorClass<C extends Catalogue>(name: string, catalogue: C) {
  return class PackageError extends CodedError {
    declare readonly code: keyof C & string;
    /** `zhDetail`: Chinese detail appended to the catalogue's zh (never English, never personal data). */
    constructor(code: keyof C & string, detail?: string, field?: string, zhDetail?: string) {
      const spec = catalogue[code];
      if (spec === undefined) throw new TypeError(`unknown error code ${String(code)}`);
      const message =
        field === undefined
          ? detail === undefined ? spec.message : `${spec.message}: ${detail}`
          : `${field}: ${detail ?? spec.message}`;
      super(code, spec.status, message, field, zhDetail === undefined ? spec.zh : `${spec.zh}：${zhDetail}`);
      this.name = name;
    }
  };
}

/**
 * Compares a catalogue with the Markdown table in its ERRORS.md: rows of the
 * form `| CODE | status | description |`. Returns human-readable mismatches
 * (empty when in sync) so the test failure says exactly what drifted.
 */
export function checkCatalogueDoc(catalogue: Catalogue, markdown: string): string[] {
  const documented = new Map<string, number>();
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`?([A-Z][A-Z0-9_]+_ERR_[A-Z0-9_]+)`?\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (m) documented.set(m[1]!, Number(m[2]));
  }
  const problems: string[] = [];
  for (const [code, spec] of Object.entries(catalogue)) {
    const status = documented.get(code);
    if (status === undefined) problems.push(`${code} is not documented`);
    else if (status !== spec.status) problems.push(`${code}: catalogue says ${spec.status}, doc says ${status}`);
  }
  for (const code of documented.keys()) {
    if (!(code in catalogue)) problems.push(`${code} is documented but not in the catalogue`);
  }
  return problems;
}
