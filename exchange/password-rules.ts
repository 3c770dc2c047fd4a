import { ExchangeError } from './errors.js';

/**
 * Password rules (密码规则管理): a department's archive password is a
 * pattern of a fixed part and the date, e.g. `CDJK{yyyyMMdd}` → CDJK20261207,
 * so it rotates daily without anyone sending a password. Files are often
 * packed before midnight and arrive after, so an archive is tried with the
 * password of today, yesterday and the day before (China dates).
 */
const PLACEHOLDER = /\{(yyyyMMdd|yyyy|yy|MM|dd)\}/g;

export function validatePattern(p: unknown): string {
  if (typeof p !== 'string' || p.length < 4 || p.length > 64 || /[\u0000-\u001f\u007f]/.test(p)) {
    throw new ExchangeError('EXC_ERR_PASSWORD_RULE', 'must be 4–64 characters', 'pattern');
  }
  const rest = p.replace(PLACEHOLDER, '');
  if (rest.includes('{') || rest.includes('}')) throw new ExchangeError('EXC_ERR_PASSWORD_RULE', 'placeholders: {yyyyMMdd} {yyyy} {yy} {MM} {dd}', 'pattern');
  if (rest.length === p.length) throw new ExchangeError('EXC_ERR_PASSWORD_RULE', 'needs a date placeholder so the password rotates', 'pattern');
  if (rest.length < 2) throw new ExchangeError('EXC_ERR_PASSWORD_RULE', 'needs a fixed part of at least 2 characters', 'pattern');
  return p;
}

/** The password of the China date of `ms`. */
export function expandPattern(p: string, ms: number): string {
  const d = new Date(ms + 8 * 3600_000).toISOString();
  const yyyy = d.slice(0, 4);
  const MM = d.slice(5, 7);
  const dd = d.slice(8, 10);
  return p.replace(PLACEHOLDER, (_m, k: string) => ({ yyyyMMdd: `${yyyy}${MM}${dd}`, yyyy, yy: yyyy.slice(2), MM, dd })[k]!);
}

/** Today's, yesterday's and the day before's password (distinct, in that order). */
export function candidatePasswords(p: string, nowMs: number): string[] {
  return [...new Set([0, 1, 2].map((d) => expandPattern(p, nowMs - d * 86_400_000)))];
}

/** What the console shows of a rule: the fixed part masked, the placeholders visible. */
export function maskPattern(p: string): string {
  return p.replace(/[^{}]+(?![^{]*\})/g, (s) => (s.length <= 2 ? '*'.repeat(s.length) : `${s[0]}${'*'.repeat(s.length - 1)}`));
}
