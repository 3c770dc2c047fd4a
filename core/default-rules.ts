import type { Expr, RuleSet } from './rule-set.js';

/**
 * The province's default rule set (DESIGN §3), as the plain JSON the admin
 * pushes. Times are unix seconds; 86400 s a day, 3600 s an hour. "Negative
 * test" always means the latest negative nucleic acid SAMPLE (facts.ts), and
 * a null compared by <, <=, >, >= is false (rule-set.ts), so
 * `!(test_negative > X)` reads "no negative test after X, or none at all".
 *
 * | id                 | colour | when (now = evaluation time)                                   | until          |
 * | ---                | ---    | ---                                                            | ---            |
 * | confirmed          | red    | a confirmed fact exists                                        | none (manual)  |
 * | test_positive      | red    | a positive test exists                                         | none (manual)  |
 * | suspected          | red    | a suspected fact with no negative test strictly after it       | none           |
 * | close_contact      | red    | now < contact + closeContactDays (a test does not shorten it)   | contact + days |
 * | secondary_contact  | yellow | now < contact + secondaryDays and no negative test strictly     | contact + days |
 * |                    |        | after the contact                                              |                |
 * | risk_area          | yellow | V = latest high- or medium-risk visit; now < V + riskAreaDays   | V + days       |
 * |                    |        | and no negative test strictly after V                          |                |
 * | entry_no_test      | yellow | E = latest entry; now ≥ E + entryTestHours and no negative test | none           |
 * |                    |        | at or after E (notice entry_test_overdue)                      |                |
 * | entry_test_pending | green  | now < E + entryTestHours and no negative test at or after E     | E + hours      |
 * |                    |        | (notice entry_test, until the deadline)                        |                |
 *
 * Choices, so they are written down:
 * - Boundaries: every window is half-open, [event, event + window): at
 *   exactly 14 days after a close contact the code is green again, matching
 *   `until` (the first second the colour no longer holds).
 * - Exposures (suspected, secondary contact, risk-area visit) are cleared
 *   only by a sample taken strictly AFTER the exposure; a sample in the same
 *   second is not after it. For entry (入川即检) a sample at or after the
 *   arrival counts: the test at the arrival checkpoint carries the arrival time.
 * - Only the latest event of a kind counts: a second contact after a
 *   negative test starts the window again and needs a new test.
 * - confirmed and positive results stay red until a health officer changes
 *   the code (转码); the engine never lets them lapse on a timer.
 * - The latest entry governs, however old: someone who arrived and never
 *   tested stays yellow until a negative test arrives, as the rule says.
 */
const DAY = 86400;
const HOUR = 3600;
const v = (name: string): Expr => ({ var: name });

/** `event + params.<param> × unit`: the end of the window an event opens (the first second it no longer holds). */
function windowEnd(event: Expr, param: string, unit: number): Expr {
  return { '+': [event, { '*': [v(`params.${param}`), unit] }] };
}

/** now lies inside the window: now < windowEnd */
function within(event: Expr, param: string, unit: number): Expr {
  return { '<': [v('now'), windowEnd(event, param, unit)] };
}

/** no negative sample strictly after the event (exposures), or at or after it (entry: `'>='`) */
function noNegativeAfter(event: Expr, op: '>' | '>=' = '>'): Expr {
  return { '!': { [op]: [v('last.test_negative'), event] } };
}

/** the latest high- or medium-risk visit */
const RISK_VISIT: Expr = { max: [v('last.risk_high'), v('last.risk_medium')] };

export const DEFAULT_RULE_SET: RuleSet = {
  version: '2026.1',
  params: { closeContactDays: 14, secondaryDays: 7, riskAreaDays: 7, entryTestHours: 24 },
  rules: [
    { id: 'confirmed', when: { '!=': [v('last.confirmed'), null] }, color: 'red', reason: 'confirmed' },
    { id: 'test_positive', when: { '!=': [v('last.test_positive'), null] }, color: 'red', reason: 'test_positive' },
    {
      id: 'suspected',
      when: { and: [{ '!=': [v('last.suspected'), null] }, noNegativeAfter(v('last.suspected'))] },
      color: 'red',
      reason: 'suspected',
    },
    {
      id: 'close_contact',
      when: within(v('last.close_contact'), 'closeContactDays', DAY),
      color: 'red',
      reason: 'close_contact',
      until: windowEnd(v('last.close_contact'), 'closeContactDays', DAY),
    },
    {
      id: 'secondary_contact',
      when: { and: [within(v('last.secondary_contact'), 'secondaryDays', DAY), noNegativeAfter(v('last.secondary_contact'))] },
      color: 'yellow',
      reason: 'secondary_contact',
      until: windowEnd(v('last.secondary_contact'), 'secondaryDays', DAY),
    },
    {
      id: 'risk_area',
      when: { and: [within(RISK_VISIT, 'riskAreaDays', DAY), noNegativeAfter(RISK_VISIT)] },
      color: 'yellow',
      reason: 'risk_area',
      until: windowEnd(RISK_VISIT, 'riskAreaDays', DAY),
    },
    {
      id: 'entry_no_test',
      when: { and: [{ '>=': [v('now'), windowEnd(v('last.entry'), 'entryTestHours', HOUR)] }, noNegativeAfter(v('last.entry'), '>=')] },
      color: 'yellow',
      reason: 'entry_no_test',
      notice: {
        kind: 'entry_test_overdue',
        message: '入川已超过{params.entryTestHours}小时未完成核酸检测，请尽快就近检测',
      },
    },
    {
      id: 'entry_test_pending',
      when: { and: [within(v('last.entry'), 'entryTestHours', HOUR), noNegativeAfter(v('last.entry'), '>=')] },
      color: 'green',
      reason: 'entry_test_pending',
      until: windowEnd(v('last.entry'), 'entryTestHours', HOUR),
      notice: {
        kind: 'entry_test',
        message: '请于入川后{params.entryTestHours}小时内完成核酸检测（入川即检）',
        until: windowEnd(v('last.entry'), 'entryTestHours', HOUR),
      },
    },
  ],
};
