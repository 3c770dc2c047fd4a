import { defineCapability, type CapabilityInstance } from '../admin-api/capability.js';
import { loadAlertingConfig, type AlertingConfig } from './config.js';
import { ALERTING_MIGRATIONS } from './migrations.js';
import { registerAlertingRoutes } from './routes.js';
import { AlertingService } from './service.js';

/** What tests and the bench reach through `instances.alerting`. */
export interface AlertingInstance extends CapabilityInstance {
  readonly service: AlertingService;
}

/**
 * Monitoring and SMS alerting (issue 12) as a capability of the back office:
 * on in the embedded stack and on a cluster master alike.
 */
export const alertingCapability = defineCapability<AlertingConfig>({
  name: 'alerting',
  migrations: ALERTING_MIGRATIONS,
  config: (env, base) => loadAlertingConfig(env, base),
  async create(host, cfg): Promise<AlertingInstance> {
    const service = await AlertingService.create(host, cfg);
    return {
      service,
      routes: (app, ctx) => registerAlertingRoutes(app, ctx, service),
      start: async () => service.start(),
      stop: () => service.stop(),
    };
  },
});
