import { CitizenError } from './errors.js';

/**
 * Free text from citizens and seats (appeal text, replies, article bodies).
 * Stored as typed and always rendered as text (textContent / React), so it
 * could never run; but a reply or article is also read in other tools
 * (exports, e-mail, the seat's CRM), so markup is REFUSED at the door with a
 * clear error instead of being stored for someone else's renderer:
 * an HTML tag or comment, a `javascript:` / `data:` URL, an event handler
 * attribute. Control characters (except newline and tab) are removed,
 * line ends normalised, and the length bounded.
 */
const MARKUP = /<\s*[a-z!/?]|javascript\s*:|vbscript\s*:|data\s*:\s*text\/html|\bon[a-z]+\s*=/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g;

export function cleanText(field: string, value: unknown, max: number, min = 1): string {
  if (typeof value !== 'string') throw new CitizenError('CIT_ERR_INVALID', 'must be text', field);
  const s = value.replace(/\r\n?/g, '\n').replace(CONTROL, '').trim();
  if (s.length < min) throw new CitizenError('CIT_ERR_INVALID', `must be at least ${min} characters`, field);
  if (s.length > max) throw new CitizenError('CIT_ERR_INVALID', `must be at most ${max} characters`, field);
  if (MARKUP.test(s)) throw new CitizenError('CIT_ERR_TEXT_MARKUP', undefined, field);
  return s;
}

/** HTML-escapes text for the few places that build markup by hand (the SVG of a chart, a printable page). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
