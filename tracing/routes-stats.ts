import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminSession } from '../admin-api/admin-tokens.js';
import { principalOf, type Ctx } from '../admin-api/context.js';
import { factsView, personView, refLabel, resolvePersons, type PersonRef } from '../admin-api/person-view.js';
import { seesMasked } from '../admin-api/roles.js';
import { PERSON_REF } from '../admin-api/schemas.js';
import { regionName, regionShortName } from '../core/regions.js';
import type { PersonRow } from '../master/store.js';
import { TracingError } from './errors.js';
import { pushesOf, redYellowPeriods, scansOf, tracingOf, travelOf } from './person-trace.js';
import { ERRORS_4XX } from './schemas.js';
import { registerReadRoutes, type ReadRoute } from './read-routes.js';
import { effectivePrefix } from './scope.js';
import { anomaliesOf } from './anomalies.js';
import { dayRange, type StatsService } from './stats.js';

/**
 * Back-office queries (查询能力), lineage (溯源) and statistics (统计分析).
 * Aggregates need stats.read; one person's records are personal data:
 * looked up by the keyed hash of the certificate (never the number in SQL
 * or a URL), audited before the answer, masked for masked roles.
 */
const RANGE_QS = {
  type: 'object', additionalProperties: false,
  properties: {
    from: { type: 'string', maxLength: 10 }, to: { type: 'string', maxLength: 10 }, region: { type: 'string', maxLength: 12 },
    color: { type: 'string', enum: ['red', 'yellow'] }, reason: { type: 'string', maxLength: 64 },
  },
} as const;

type RangeQs = { from?: string; to?: string; region?: string; color?: string; reason?: string };

function cityName(city: string | null): string {
  return city === null ? '未知地区' : regionShortName(city);
}

export function registerStatsRoutes(app: FastifyInstance, ctx: Ctx, stats: StatsService, retentionDays: number): void {
  const { store, codes } = ctx.deps;

  /** The one person a certificate names in the caller's scope; refusals audited. */
  async function onePerson(req: FastifyRequest, action: string): Promise<{ p: PersonRow; target: string; who: AdminSession }> {
    const who = principalOf(req);
    const ref = req.body as PersonRef;
    const target = refLabel(ref, new Date(store.nowMs())); // CORE_ERR_* for a malformed certificate
    const r = await resolvePersons(store, ref, who);
    if (r.visible.length !== 1) {
      await ctx.audit(req, { action, target, outcome: r.visible.length === 0 ? (r.hidden > 0 ? 'denied_scope' : 'not_found') : 'ambiguous' });
      throw new TracingError('TRC_ERR_PERSON_NOT_FOUND', r.visible.length > 1 ? 'several people share this phone: use the certificate' : undefined);
    }
    return { p: r.visible[0]!, target, who };
  }

  app.post('/admin/v1/tracing/person/history', {
    config: { access: 'stats.read', rate: 'admin' },
    schema: { summary: 'Red/yellow history of one person by certificate (or phone); audited', tags: ['tracing'], body: PERSON_REF, response: ERRORS_4XX },
  }, async (req) => {
    const { p, target, who } = await onePerson(req, 'tracing.person.history');
    const history = await codes.history(p.id, 1000);
    await ctx.audit(req, { action: 'tracing.person.history', target, outcome: 'ok', details: { personId: p.id } });
    return {
      person: { ...personView(store, p, who), regionName: regionName(p.region) },
      periods: redYellowPeriods(history),
      history: history.filter((h) => h.color !== 'green' || (h.prevColor !== null && h.prevColor !== 'green')),
    };
  });

  app.post('/admin/v1/tracing/person/trace', {
    config: { access: 'tracing.read', rate: 'admin' },
    schema: { summary: 'Lineage of one person: facts with sources, codes with rule versions, outbox pushes, scans, travel, tasks; audited', tags: ['tracing'], body: PERSON_REF, response: ERRORS_4XX },
  }, async (req) => {
    const { p, target, who } = await onePerson(req, 'tracing.person.trace');
    const since = Math.floor(store.nowMs() / 1000) - retentionDays * 86_400;
    const [facts, history, scans, travel, tracing] = await Promise.all([
      codes.facts(p.id, 1000), codes.history(p.id, 1000), scansOf(store.db, p.uid, since), travelOf(store.db, p.id), tracingOf(store.db, p.id, who.regionPrefix),
    ]);
    const pushes = await pushesOf(store.db, history.map((h) => h.seq));
    await ctx.audit(req, { action: 'tracing.person.trace', target, outcome: 'ok', details: { personId: p.id } });
    const masked = seesMasked(who.role);
    return {
      person: { ...personView(store, p, who), regionName: regionName(p.region) },
      code: await store.getCode(p.id).then((c) => (c === null ? null : { color: c.color, reason: c.reason, since: c.since, until: c.until, ruleVersion: c.ruleVersion, seq: c.seq })),
      facts: factsView(facts, who),
      history,
      pushes,
      // a movement trail is sensitive (PIPL art. 28): masked roles get how many, not where
      scans: masked ? { count: scans.length } : scans.map((s) => ({ ...s, regionName: s.region === null ? null : regionName(s.region) })),
      travel: masked ? { count: travel.length } : travel,
      tracing,
    };
  });

  const range = (q: RangeQs, defaultDays?: number) => dayRange(q.from, q.to, ctx.now(), defaultDays);
  const scope = (who: AdminSession, q: RangeQs) => effectivePrefix(who, q.region);
  const stat = (path: string, summary: string, answer: (q: RangeQs, who: AdminSession) => Promise<unknown>, querystring: object = RANGE_QS): ReadRoute => ({
    path: `/admin/v1/tracing/${path}`, access: 'stats.read', summary, querystring, answer: (req, who) => answer(req.query as RangeQs, who),
  });
  registerReadRoutes(app, [
    stat('stats/daily', 'Codes assigned and changed per China day, city, colour, reason and source', async (q, who) => {
      const r = range(q);
      const rows = await stats.daily(r, scope(who, q));
      return { from: r.from, to: r.to, rows: rows.map((x) => ({ ...x, cityName: cityName(x.city) })) };
    }),
    stat('stats/red-yellow', 'People red or yellow now per city, colour and reason; the daily trend', async (q, who) => {
      const r = range(q, 30);
      const prefix = scope(who, q);
      const [now, trend] = await Promise.all([
        stats.redYellow(prefix, { ...(q.color === undefined ? {} : { color: q.color }), ...(q.reason === undefined ? {} : { reason: q.reason }) }),
        stats.redYellowTrend(r, prefix),
      ]);
      return { from: r.from, to: r.to, now: now.map((x) => ({ ...x, cityName: cityName(x.city) })), trend };
    }),
    stat('stats/venues', 'Registered venues per city and kind; scans per venue per day', async (q, who) => {
      const r = range(q);
      const prefix = scope(who, q);
      const [venues, scans] = await Promise.all([stats.venues(prefix), stats.venueScans(r, prefix)]);
      return {
        from: r.from, to: r.to,
        venues: venues.map((v) => ({ ...v, cityName: cityName(v.city) })),
        scans: scans.map((x) => ({ ...x, regionName: regionName(x.region) })),
      };
    }),
    stat('stats/anomalies', 'Abnormal data of the day, drilled down: rejected rows per dataset/department, unknown place codes, code changes per rule version', async (q, who) => {
      const r = range(q, 1);
      return { from: r.from, to: r.to, ...(await anomaliesOf(stats.db, r, scope(who, q))) };
    }),
    stat('stats/flow', 'The data-flow map from real counts: departments → master → edges → scans returned', async (q, who) => {
      const r = range(q, 1);
      return { from: r.from, to: r.to, ...(await stats.flow(r, scope(who, q))) };
    }),
    stat('lineage/batches', 'File- and interface-level lineage: what each source and batch brought in, people concerned, code changes made', async (q, who) => {
      const r = range(q, 30);
      return { from: r.from, to: r.to, batches: await stats.batches(r, scope(who, q), (q as RangeQs & { source?: string }).source) };
    }, { ...RANGE_QS, properties: { ...RANGE_QS.properties, source: { type: 'string', maxLength: 128 } } }),
  ]);
}
