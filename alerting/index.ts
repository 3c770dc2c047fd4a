export { alertingCapability, type AlertingInstance } from './alerting-capability.js';
export { loadAlertingConfig, type AlertingConfig } from './config.js';
export { AlertEngine, type Alert, type MetricSample, type Silence } from './engine.js';
export { ALERTING_ERRORS, AlertingError } from './errors.js';
export { startGatewaySim, type GatewayMode, type GatewaySim } from './gateway-sim.js';
export { DEFAULT_RULES, METRICS, parseRule, type RuleSpec } from './rules.js';
export { SmsClient } from './sms-client.js';
