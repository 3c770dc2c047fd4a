import { errorClass, type Catalogue } from '../core/coded-error.js';

/**
 * Catalogue of sync's error codes. Documented in sync/ERRORS.md; the test in
 * errors.test.ts fails when the two drift. Add a code here AND there (small
 * additive edits: several parts of sync/ append codes).
 *
 * Sync errors never reach a citizen; the status is what an operator endpoint
 * (readyz, the admin API's sync status) would answer with.
 */
export const SYNC_ERRORS = {
  // replica writer (sync/replica-writer.ts, DESIGN §6)
  SYNC_ERR_GAP: { status: 500, message: 'delta batch does not start right after the applied sequence', zh: '变更批次与已应用的序号不衔接' },
  SYNC_ERR_BATCH_INVALID: { status: 500, message: 'delta batch is malformed', zh: '变更批次格式不正确' },
  SYNC_ERR_REPLICA_FORMAT: { status: 500, message: 'replica was written in a newer format than this build reads', zh: '数据副本由更新版本的程序写入，请升级本节点' },
  // delta bus and publisher (sync/delta-bus.ts, bus-memory.ts, bus-redis.ts, publisher.ts)
  SYNC_ERR_BUS_UNAVAILABLE: { status: 503, message: 'the delta bus (Redis) cannot be reached or refused the command', zh: '变更总线（Redis）无法连接或拒绝了请求' },
  SYNC_ERR_BUS_CLOSED: { status: 503, message: 'the delta bus has been closed', zh: '变更总线已关闭' },
  SYNC_ERR_BUS_ARGUMENT: { status: 500, message: 'invalid delta bus call', zh: '变更总线调用参数无效' },
  SYNC_ERR_BUS_AHEAD: { status: 500, message: 'the delta stream holds sequences the master outbox does not', zh: '变更总线中有主库没有的序号' },
  SYNC_ERR_OUTBOX_GAP: { status: 500, message: 'the outbox is missing a sequence; publishing waits for it', zh: '待发布变更缺少序号，发布等待中' },
  SYNC_ERR_PUBLISHER_CONFIG: { status: 500, message: 'invalid publisher option', zh: '发布程序配置不正确' },
  // snapshots, edge daemon, scans, stack (sync/snapshot*.ts, edge-daemon.ts, scan-*.ts, stack.ts)
  SYNC_ERR_SNAPSHOT_OLD: { status: 500, message: 'snapshot is older than what the replica already applied', zh: '快照比本节点已应用的数据更旧' },
  SYNC_ERR_SNAPSHOT_UNAVAILABLE: { status: 503, message: 'no snapshot can be fetched or built right now', zh: '暂时无法获取或生成快照' },
  SYNC_ERR_SNAPSHOT_CORRUPT: { status: 500, message: 'snapshot failed verification', zh: '快照校验失败' },
  SYNC_ERR_SCAN_PAYLOAD: { status: 500, message: 'scan stream entry is malformed', zh: '扫码记录格式不正确' },
  SYNC_ERR_KEY_REGISTRATION: { status: 503, message: 'node keys could not be registered with the master', zh: '节点密钥无法在主库登记' },
  SYNC_ERR_UNAUTHORIZED: { status: 401, message: 'sync endpoint needs the sync token', zh: '同步接口需要同步令牌' },
  SYNC_ERR_CONFIG: { status: 500, message: 'invalid configuration', zh: '同步配置不正确' },
  SYNC_ERR_BAD_REQUEST: { status: 400, message: 'malformed sync request', zh: '同步请求格式不正确' },
  // pre-encoded (packed) delta batches (sync/delta-packed.ts, issue 14 item 4)
  SYNC_ERR_DELTA_CORRUPT: { status: 500, message: 'pre-encoded delta batch is damaged or cut short', zh: '预编码变更批次已损坏或不完整' },
  SYNC_ERR_DELTA_FORMAT: { status: 500, message: 'delta batch is in a newer format than this build reads', zh: '变更批次格式比本节点程序新，请升级本节点' },
} as const satisfies Catalogue;

export type SyncErrorCode = keyof typeof SYNC_ERRORS;

export const SyncError = errorClass('SyncError', SYNC_ERRORS);
export type SyncError = InstanceType<typeof SyncError>;
