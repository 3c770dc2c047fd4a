import { defineCapability, type CapabilityInstance } from '../admin-api/capability.js';
import { Appeals } from './appeals.js';
import { registerCitizenCors } from './citizen-session.js';
import { HealthStatusReader } from './health-status.js';
import { loadCitizenConfig, type CitizenConfig } from './config.js';
import { CITIZEN_MIGRATIONS } from './migrations.js';
import { KnowledgeBase } from './kb.js';
import { seedKnowledgeBase } from './kb-seed.js';
import { registerAppealRoutes } from './routes-appeals.js';
import { registerHealthRoutes } from './routes-health.js';
import { registerKbRoutes } from './routes-kb.js';
import { registerSamplingRoutes } from './routes-sampling.js';
import { registerTravelRoutes } from './routes-travel.js';
import { Sampling } from './sampling.js';
import { CitizenSmsSender } from './sms-sender.js';
import { TravelCards } from './travel-card.js';

/**
 * Citizen services (issue 16): 我要申诉 work orders, 咨询知识库, 行程卡,
 * 入川即检 sampling registration — routes for the citizen page under
 * /citizen/v1/* (the page's session token) and for officials under
 * /admin/v1/* (roles.ts: appeals.*, kb.*).
 */
export interface CitizenInstance {
  readonly appeals: Appeals;
  readonly kb: KnowledgeBase;
  readonly travel: TravelCards;
  readonly sampling: Sampling;
  /** posts the SMS outbox to SMS_GATEWAY_URL; null when no gateway is configured */
  readonly sms: CitizenSmsSender | null;
  /** flags overdue orders and raises their alerts (also run every CITIZEN_SWEEP_SEC) */
  sweepOverdue(): Promise<number>;
}

export const CITIZEN = defineCapability<CitizenConfig>({
  name: 'citizen',
  migrations: CITIZEN_MIGRATIONS,
  config: loadCitizenConfig,
  async create(host, cfg) {
    const appeals = new Appeals(host, cfg);
    const kb = new KnowledgeBase(host);
    const travel = new TravelCards(host, cfg);
    const sampling = new Sampling(host, cfg);
    await sampling.init();
    const sms =
      cfg.smsGatewayUrl === null
        ? null
        : new CitizenSmsSender(travel, { url: cfg.smsGatewayUrl, key: cfg.smsGatewayKey!, timeoutMs: cfg.smsTimeoutMs, pollMs: cfg.smsPollMs, log: (l) => host.log(l), nowMs: () => host.nowMs() });
    // a cluster without a gateway: citizens get no verification code. Said loudly at start and
    // while messages wait, rather than refusing to start (see CLOSING.md, "SMS sender")
    const noGateway = sms === null && !cfg.smsDevCode;
    const warnNoGateway = async (): Promise<void> => {
      const waiting = (await travel.pendingSms(1000)).length;
      if (waiting > 0) host.log(`citizen: ERROR ${waiting} citizen SMS (travel-card codes, appeal notices) waiting and SMS_GATEWAY_URL is not set: nothing is sent`);
    };
    let timer: NodeJS.Timeout | null = null;
    let running: Promise<unknown> | null = null;
    const sweep = async (): Promise<number> => {
      const n = await appeals.sweepOverdue();
      await travel.purge();
      await appeals.purgePhotos();
      if (noGateway) await warnNoGateway();
      if (n > 0) host.log(`citizen: ${n} appeal(s) became overdue`);
      return n;
    };
    const instance: CitizenInstance & CapabilityInstance = {
      appeals,
      kb,
      travel,
      sampling,
      sms,
      sweepOverdue: sweep,
      routes(app, ctx) {
        registerCitizenCors(app, ctx);
        registerAppealRoutes(app, ctx, host, appeals);
        registerKbRoutes(app, ctx, kb);
        registerTravelRoutes(app, ctx, host, travel);
        registerSamplingRoutes(app, ctx, host, sampling);
        registerHealthRoutes(app, ctx, host, new HealthStatusReader(host.db));
      },
      async start() {
        if (host.mode === 'embedded') {
          const n = await seedKnowledgeBase(kb);
          if (n > 0) host.log(`citizen: knowledge base seeded with ${n} demo articles`);
        }
        if (sms !== null) {
          sms.start();
          host.log(`citizen: SMS sender started (gateway ${new URL(cfg.smsGatewayUrl!).host})`);
        } else if (noGateway) {
          host.log('citizen: ERROR SMS_GATEWAY_URL is not set: travel-card verification codes and appeal notices are queued but NOT sent; set SMS_GATEWAY_URL and SMS_GATEWAY_KEY');
        }
        timer = setInterval(() => {
          if (running !== null) return;
          running = sweep()
            .catch((err: unknown) => host.log(`citizen: overdue sweep failed: ${(err as Error).message}`))
            .finally(() => {
              running = null;
            });
        }, cfg.sweepSec * 1000);
        timer.unref();
      },
      async stop() {
        if (timer !== null) clearInterval(timer);
        timer = null;
        await sms?.stop();
        await running;
      },
    };
    return instance;
  },
});
