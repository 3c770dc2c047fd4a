import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CoreError } from '../core/errors.js';
import { maskIdNo, maskName, maskPhone, normaliseCertificate, normalisePhone } from '../core/identity.js';
import { issueSession } from '../core/session-token.js';
import type { PersonInput } from '../master/store.js';
import type { Ctx, IdentityProvider } from './context.js';
import { AdminError } from './errors.js';
import { RateLimiter } from './rate-limit.js';
import { ERROR_BODY, SESSION_BODY } from './schemas.js';

function given(s: string | undefined): s is string {
  return typeof s === 'string' && s.trim().length > 0;
}

/**
 * The embedded development identity provider (DESIGN §5): accepts any
 * WELL-FORMED identity — a certificate with a name, or a mainland mobile —
 * and vouches for nothing else. Malformed input throws core's CORE_ERR_*
 * (400, naming the field): bad check digit, impossible birth date, bad
 * phone, empty or malformed name.
 *
 * A certificate needs the name with it: real-name verification (实名认证)
 * always matches name and number together, so the development provider asks
 * for the same input a production one will.
 */
export const devIdentityProvider: IdentityProvider = async (claim) => {
  const now = new Date();
  if (given(claim.idNo)) {
    const cert = normaliseCertificate(given(claim.idType) ? claim.idType : 'resident', claim.idNo, now);
    if (!given(claim.name)) throw new CoreError('CORE_ERR_NAME', 'a certificate login needs the name on it', 'name');
    maskName(claim.name); // validates: CORE_ERR_NAME
    const out: PersonInput = { idType: cert.type, idNo: cert.number, name: claim.name };
    return given(claim.phone) ? { ...out, phone: normalisePhone(claim.phone) } : out;
  }
  if (given(claim.phone)) {
    const phone = normalisePhone(claim.phone);
    if (given(claim.name)) maskName(claim.name);
    return given(claim.name) ? { phone, name: claim.name } : { phone };
  }
  throw new CoreError('CORE_ERR_PERSON_KEY', 'give {idType, idNo, name} or {phone}', 'idNo');
};

/**
 * The per-identity bucket's key: HMAC-SHA256 under a key drawn at start and
 * never stored, of the NORMALISED identity (so 身份证/resident, a lower-case x
 * or a +86 prefix land in one bucket). The map of buckets thus holds no
 * certificate number or phone, and a heap dump cannot be matched against a
 * list of numbers without the key. 128 bits of the MAC are plenty for a
 * bucket key (a collision only shares a bucket).
 */
function identityKeyer(): (p: PersonInput) => string {
  const key = randomBytes(32);
  return (p) => {
    const id = given(p.idNo) ? `c\0${p.idType ?? 'resident'}\0${p.idNo}` : `p\0${p.phone ?? ''}`;
    return createHmac('sha256', key).update(id).digest('base64url').slice(0, 22);
  };
}

function limited(reply: FastifyReply, wait: number): AdminError {
  void reply.header('retry-after', String(wait));
  return new AdminError('ADM_ERR_RATE_LIMITED', `retry in ${wait} s`);
}

function label(p: PersonInput): string {
  if (given(p.idNo)) return `${p.idType ?? 'resident'}:${maskIdNo(p.idNo)}`;
  return maskPhone(p.phone!);
}

/**
 * POST /v1/session (DESIGN §5): identity → citizen session token for the
 * edges. A first login registers the person with a code by the rules (领码),
 * which reaches the edges through the outbox like any change; that
 * registration is a write of personal data and is audited. Later logins are
 * the citizen's own business and are not (20 M a day would drown the log).
 *
 * What the identity provider is trusted with (issue 15 item 7): that this
 * citizen holds this certificate — nothing more. For a person already
 * registered, the name given must be the one the master keeps (compared
 * against the decrypted stored name after NFKC / whitespace / case cleaning,
 * master/name-match.ts); otherwise the login is refused with
 * MASTER_ERR_NAME_MISMATCH (401, Chinese `zh`, neither name in the answer or
 * the log) and nothing is written. Why refuse instead of renaming: a legal
 * name change is an official's act on documents (户籍变更), not something a
 * login asserts — and a rename made here never reached the edges, since the
 * masked name travels with code deltas and a login writes none.
 *
 * Two limits (issue 14 item 6), both ADM_ERR_RATE_LIMITED with Retry-After:
 * the per-address `session` group (app.ts onRequest, SESSION_ADDRESS_RATE_PER_MIN,
 * sized for a carrier-grade NAT exit fronting thousands of phones), and here,
 * once the body is parsed and normalised, a per-identity bucket
 * (SESSION_IDENTITY_RATE_PER_MIN, 10 a minute): every call naming an identity
 * costs one of its tokens, a refusal included, from whatever address — so the
 * route cannot be used to guess the name behind a certificate number by
 * spreading guesses over addresses, and one abuser behind a NAT address does
 * not lock out the others. The identity token is taken before registering:
 * a refused call writes nothing.
 */
/**
 * CORS for the citizen page (edge origin) calling POST /v1/session from the
 * browser (Fetch standard §3.2): only the configured exact origins get
 * `Access-Control-Allow-Origin`; anyone else gets no CORS headers and the
 * browser refuses. No credentials (cookies) are involved: the identity goes
 * in the JSON body and the token comes back in it.
 */
function allowedOrigin(ctx: Ctx, origin: string | undefined): string | null {
  if (origin === undefined) return null;
  return ctx.deps.config.corsOrigins.includes(origin) ? origin : null;
}

export function registerSessionRoutes(app: FastifyInstance, ctx: Ctx): void {
  const provider = ctx.deps.identityProvider ?? devIdentityProvider;
  const keyOf = identityKeyer();
  // Same clock as the per-address limiters (the master's, pinnable in tests).
  // The default 100 000 buckets bound memory (rate-limit.ts sweeps refilled ones first).
  const perIdentity = new RateLimiter({ perMinute: ctx.deps.config.sessionIdentityRatePerMin, now: () => ctx.deps.store.nowMs() });
  app.options('/v1/session', { config: { access: 'public', rate: 'session' }, schema: { hide: true } as Record<string, unknown> }, async (req, reply) => {
    const origin = allowedOrigin(ctx, req.headers.origin);
    if (origin !== null) {
      void reply
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', 'content-type')
        .header('access-control-max-age', '600')
        .header('vary', 'Origin');
    }
    return reply.code(204).send();
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.routeOptions.url === '/v1/session' && req.method === 'POST') {
      const origin = allowedOrigin(ctx, req.headers.origin);
      if (origin !== null) void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
    return payload;
  });
  app.post('/v1/session', {
    config: { access: 'public', rate: 'session' },
    schema: {
      summary: 'Issue a citizen session token (first login registers the person)',
      tags: ['citizen'],
      body: SESSION_BODY,
      response: {
        200: {
          type: 'object',
          properties: {
            token: { type: 'string', description: 'Authorization: Bearer <token> at the edge' },
            expiresAt: { type: 'integer', description: 'unix seconds' },
            registered: { type: 'boolean', description: 'true on the first login (领码)' },
            idKind: { type: 'string', description: "what idMasked is: the certificate type (resident, passport, …) or 'phone'" },
            idMasked: { type: 'string', description: 'the masked certificate number (5101**********106X) or phone (138****5678), for the citizen page card' },
          },
        },
        400: ERROR_BODY,
        401: { ...ERROR_BODY, description: 'MASTER_ERR_NAME_MISMATCH: a registered person, another name (nothing changed)' },
        429: ERROR_BODY,
      },
    },
  }, async (req, reply) => {
    const identity = await provider(req.body as Parameters<IdentityProvider>[0]);
    const wait = perIdentity.take(keyOf(identity));
    if (wait > 0) throw limited(reply, wait);
    const r = await ctx.deps.codes.register(identity);
    if (r.created) {
      ctx.committed();
      await ctx.audit(req, {
        actor: 'citizen', role: 'citizen', action: 'person.register', target: label(identity), outcome: 'ok',
        details: { personId: r.personId, color: r.code.color, seq: r.code.seq },
      });
    }
    const expiresAt = Math.min(ctx.now() + ctx.deps.config.sessionTtlSec, 0xffff_ffff);
    // The masked identity for the card (issue 15 item 8): computed here on the master and
    // returned to the person who just proved it; it never goes into the session token,
    // the code record or a delta, so the edge format (DESIGN §4/§5) stays as it is.
    const id = given(identity.idNo)
      ? { idKind: identity.idType ?? 'resident', idMasked: maskIdNo(identity.idNo) }
      : { idKind: 'phone', idMasked: maskPhone(identity.phone!) };
    return { token: issueSession(ctx.deps.sessionKey, r.uid, expiresAt), expiresAt, registered: r.created, ...id };
  });
}
