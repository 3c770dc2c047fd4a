import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of edge's error codes. Documented in edge/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code here AND there (small
 * additive edits: several parts of edge/ append codes).
 */
export const EDGE_ERRORS = {
  // replica (edge/replica-reader.ts): 503 — the node cannot answer until it has a usable replica
  EDGE_ERR_REPLICA_MISSING: { status: 503, message: 'no replica here: bootstrap this node from a snapshot first' },
  EDGE_ERR_REPLICA_FORMAT: { status: 503, message: 'replica was written in a newer format than this build reads: upgrade this node' },
  // HTTP API (edge/server.ts, DESIGN §5)
  EDGE_ERR_UNAUTHENTICATED: { status: 401, message: 'missing session: send Authorization: Bearer <session token>' },
  EDGE_ERR_NOT_REGISTERED: { status: 404, message: 'this person has no code on this node yet (sent on the wire as not_registered)' },
  EDGE_ERR_VENUE_UNKNOWN: { status: 404, message: 'unknown venue (place code)' },
  EDGE_ERR_ROUTE: { status: 404, message: 'no such route' },
  EDGE_ERR_METHOD: { status: 405, message: 'method not allowed on this route' },
  EDGE_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body is larger than 4096 bytes' },
  EDGE_ERR_JSON: { status: 400, message: 'request body is not a JSON object' },
  EDGE_ERR_FIELD: { status: 400, message: 'a required field is missing or has the wrong type' },
  EDGE_ERR_NOT_READY: { status: 503, message: 'replica not loaded or lagging past EDGE_MAX_LAG_SEC' },
  EDGE_ERR_SIGNING: { status: 503, message: 'no usable signing key, or the signing pool failed' },
  EDGE_ERR_INTERNAL: { status: 500, message: 'internal error' },
  // configuration and key custody (edge/config.ts, edge/node-keys.ts): fail at start, never at request time
  EDGE_ERR_CONFIG: { status: 500, message: 'invalid configuration' },
  EDGE_ERR_KEY_FILE: { status: 500, message: 'node key file is unreadable, malformed or not private (mode 0600)' },
  // citizen page (edge/app-assets.ts): the build in dist/app/ is checked at start; unknown /app/ paths are 404
  EDGE_ERR_APP_BUILD_MISSING: { status: 500, message: 'citizen page build not found: run npm run build:app' },
  EDGE_ERR_APP_BUILD_INVALID: { status: 500, message: 'citizen page build is inconsistent with its manifest: rebuild it' },
  EDGE_ERR_APP_NOT_FOUND: { status: 404, message: 'no such file of the citizen page' },
} as const satisfies Catalogue;

export type EdgeErrorCode = keyof typeof EDGE_ERRORS;

export const EdgeError = errorClass('EdgeError', EDGE_ERRORS);
export type EdgeError = InstanceType<typeof EdgeError>;
