import { errorClass, type Catalogue } from '../core/coded-error.js';
// The catalogue is data (errors.json, one line a code) so that it is not ten
// same-shape TypeScript lines per package; its keys still type the codes.
import EDGE_ERROR_DATA from './errors.json' with { type: 'json' };

/**
 * Catalogue of edge's error codes. Documented in edge/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code to errors.json AND there (small
 * additive edits: several parts of edge/ append codes).
 */
// The codes stand in errors.json in these sections, in order:
//   replica (edge/replica-reader.ts): 503 — the node cannot answer until it has a usable replica
//   HTTP API (edge/server.ts, DESIGN §5)
//   configuration and key custody (edge/config.ts, edge/node-keys.ts): fail at start, never at request time
//   citizen page (edge/app-assets.ts): the build in dist/app/ is checked at start; unknown /app/ paths are 404
export const EDGE_ERRORS = EDGE_ERROR_DATA satisfies Catalogue;

export type EdgeErrorCode = keyof typeof EDGE_ERRORS;

export const EdgeError = errorClass('EdgeError', EDGE_ERRORS);
export type EdgeError = InstanceType<typeof EdgeError>;
