import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of edge's error codes. Documented in edge/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code here AND there (small
 * additive edits: several parts of edge/ append codes).
 */
export const EDGE_ERRORS = {
  // replica (edge/replica-reader.ts): 503 — the node cannot answer until it has a usable replica
  EDGE_ERR_REPLICA_MISSING: { status: 503, message: 'no replica here: bootstrap this node from a snapshot first', zh: '本节点尚无数据副本，服务暂不可用' },
  EDGE_ERR_REPLICA_FORMAT: { status: 503, message: 'replica was written in a newer format than this build reads: upgrade this node', zh: '本节点程序版本过旧，服务暂不可用' },
  // HTTP API (edge/server.ts, DESIGN §5)
  EDGE_ERR_UNAUTHENTICATED: { status: 401, message: 'missing session: send Authorization: Bearer <session token>', zh: '请先登录' },
  EDGE_ERR_NOT_REGISTERED: { status: 404, message: 'this person has no code on this node yet (sent on the wire as not_registered)', zh: '暂未查到您的健康码，请稍后再试' },
  EDGE_ERR_VENUE_UNKNOWN: { status: 404, message: 'unknown venue (place code)', zh: '场所码无效或场所不存在' },
  EDGE_ERR_ROUTE: { status: 404, message: 'no such route', zh: '页面不存在' },
  EDGE_ERR_METHOD: { status: 405, message: 'method not allowed on this route', zh: '不支持的请求方式' },
  EDGE_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body is larger than 4096 bytes', zh: '请求内容过大' },
  EDGE_ERR_JSON: { status: 400, message: 'request body is not a JSON object', zh: '请求内容格式不正确' },
  EDGE_ERR_FIELD: { status: 400, message: 'a required field is missing or has the wrong type', zh: '请求缺少必填项或填写有误' },
  EDGE_ERR_NOT_READY: { status: 503, message: 'replica not loaded or lagging past EDGE_MAX_LAG_SEC', zh: '服务正在同步数据，请稍后再试' },
  EDGE_ERR_SIGNING: { status: 503, message: 'no usable signing key, or the signing pool failed', zh: '暂时无法生成健康码，请稍后再试' },
  EDGE_ERR_INTERNAL: { status: 500, message: 'internal error', zh: '系统内部错误，请稍后再试' },
  // configuration and key custody (edge/config.ts, edge/node-keys.ts): fail at start, never at request time
  EDGE_ERR_CONFIG: { status: 500, message: 'invalid configuration', zh: '节点配置不正确' },
  EDGE_ERR_KEY_FILE: { status: 500, message: 'node key file is unreadable, malformed or not private (mode 0600)', zh: '节点密钥文件无法读取、格式不正确或权限不安全（应为 0600）' },
  // citizen page (edge/app-assets.ts): the build in dist/app/ is checked at start; unknown /app/ paths are 404
  EDGE_ERR_APP_BUILD_MISSING: { status: 500, message: 'citizen page build not found: run npm run build:app', zh: '未找到市民页面的构建产物，请先构建' },
  EDGE_ERR_APP_BUILD_INVALID: { status: 500, message: 'citizen page build is inconsistent with its manifest: rebuild it', zh: '市民页面的构建产物与清单不一致，请重新构建' },
  EDGE_ERR_APP_NOT_FOUND: { status: 404, message: 'no such file of the citizen page', zh: '页面文件不存在' },
} as const satisfies Catalogue;

export type EdgeErrorCode = keyof typeof EDGE_ERRORS;

export const EdgeError = errorClass('EdgeError', EDGE_ERRORS);
export type EdgeError = InstanceType<typeof EdgeError>;
