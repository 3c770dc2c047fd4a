import type { Capability } from './admin-api/capability.js';
import { exchangeCapability } from './exchange/capability.js';
import { tracingCapability } from './tracing/index.js';
import { alertingCapability } from './alerting/index.js';
import { logauditCapability } from './logaudit/capability.js';
import { CITIZEN } from './citizen/index.js';

/**
 * Every capability of the back office, in start order (admin-api/capability.ts
 * says what one is). Each lives in its own folder; adding one is one import
 * and one line here. The embedded stack and a cluster master start them all.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const CAPABILITIES: readonly Capability<any>[] = Object.freeze([
  exchangeCapability,
  tracingCapability,
  alertingCapability,
  logauditCapability,
  CITIZEN,
]);
