import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../admin-api/context.js';
import type { CapabilityHost } from '../admin-api/capability.js';
import { citizenOf } from './citizen-session.js';
import type { TravelCards } from './travel-card.js';

/**
 * 行程卡 routes for the citizen page (session token). The phone number is
 * in the JSON body only — never in a URL, a log line or an audit entry.
 */
export function registerTravelRoutes(app: FastifyInstance, ctx: Ctx, host: CapabilityHost, cards: TravelCards): void {
  app.post('/citizen/v1/travel-card/code', {
    config: { access: 'public', rate: 'session' },
    schema: {
      summary: '行程卡: send an SMS verification code to the phone (in embedded demo mode the answer carries devCode)',
      tags: ['citizen'],
      body: { type: 'object', additionalProperties: false, required: ['phone'], properties: { phone: { type: 'string', maxLength: 20 } } },
    },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    return cards.sendCode(person, (req.body as { phone: string }).phone);
  });

  app.post('/citizen/v1/travel-card', {
    config: { access: 'public', rate: 'session' },
    schema: {
      summary: '行程卡: verify the code and show 14 days of cities (risk cities marked, recorded as rule facts)',
      tags: ['citizen'],
      body: {
        type: 'object', additionalProperties: false, required: ['phone', 'code'],
        properties: { phone: { type: 'string', maxLength: 20 }, code: { type: 'string', maxLength: 12 } },
      },
    },
  }, async (req) => {
    const person = await citizenOf(req, ctx, host.store);
    const b = req.body as { phone: string; code: string };
    const card = await cards.card(person, b.phone, b.code);
    await ctx.audit(req, {
      actor: 'citizen', role: 'citizen', action: 'travel_card.view', target: card.phoneMasked, outcome: 'ok',
      details: { personId: person.id, cities: card.stays.length, risk: card.anyRisk, factsAdded: card.factsAdded },
    });
    return card;
  });
}
