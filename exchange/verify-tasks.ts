import { randomBytes } from 'node:crypto';
import type { CapabilityHost } from '../admin-api/capability.js';
import { toDelta } from '../master/store-checks.js';
import type { SqlClient } from '../master/sql-client.js';
import { ExchangeError } from './errors.js';
import { nodeId } from './import-jobs.js';
import type { CompiledRules } from '../master/active-rules.js';
import { judgeReplica, ReplicaProbe, type ReplicaTarget } from './verify-edge.js';
import { expectedAt, keyOf, meaningOf, type Expected, type StoredFact } from './verify-meaning.js';
import { checkPeriod, ruleValidAt, SEVERITY, type Color, type VerifyRule, type VerifyRules } from './verify-rules.js';
import { describeSchedule, dueRules, nextSlot } from './verify-schedule.js';

/**
 * Tasks of the assignment verification (赋码数据核查): one run of a rule
 * over a period, in the background.
 *
 * The run walks the persons concerned in person-id order, a chunk at a time
 * (persons with a fact of the dataset in the period, or a code of one of the
 * dataset's reasons assigned in the period, inside the rule's region). For
 * each chunk it compares three things and records what disagrees:
 *
 *   expected_not_assigned     the dataset says red (yellow) but the code is
 *                             not at least that (now, or — history — at any
 *                             time from the fact on while it counts)
 *   assigned_without_basis    a code of the dataset's reasons (test_positive,
 *                             confirmed, …) with no fact of that kind at all
 *   assigned_not_distributed  the master's current code is not what the
 *                             edges were sent: the outbox row of the code's
 *                             seq is missing, belongs to someone else or
 *                             carries another colour (only seqs up to the
 *                             outbox top at the task's start: later changes
 *                             are still on their way, not a fault)
 *
 * Each chunk commits in ONE transaction: its mismatches, the counts and the
 * cursor (last person id done). So a stop, a shutdown or a crash loses at
 * most the chunk in flight, and the task continues after the cursor:
 * stop → 'stopped' (resume or re-run later); shutdown or crash → the task
 * stays 'running' and the next start of this node (or any node, once the
 * heartbeat is 10 minutes old) queues it again and logs it. A claim bumps
 * `epoch`, and a chunk commits only under the epoch it was claimed with:
 * a runner that was presumed dead and comes back cannot double-count.
 * Mismatch rows hold person ids, never identities.
 */
export type MismatchKind = 'expected_not_assigned' | 'assigned_without_basis' | 'assigned_not_distributed' | 'edge_not_applied';
export const MISMATCH_KINDS: readonly MismatchKind[] = ['expected_not_assigned', 'assigned_without_basis', 'assigned_not_distributed', 'edge_not_applied'];

export type TaskStatus = 'queued' | 'running' | 'stopping' | 'stopped' | 'done' | 'failed';

export interface VerifyTask {
  readonly id: string;
  readonly ruleId: string;
  readonly ruleName: string;
  readonly dataset: string;
  readonly rerunOf: string | null;
  readonly status: TaskStatus;
  readonly periodFrom: number;
  readonly periodTo: number;
  readonly throughSeq: number;
  readonly region: string;
  readonly cursor: number;
  readonly progress: number;
  readonly counts: { checked: number; facts: number; expected: number; assigned: number; consistent: number; mismatches: number };
  readonly error: { code: string; message: string } | null;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly rule: VerifyRule;
  /** the rule-set version in force the expectations were read from */
  readonly ruleVersion: string | null;
  /** node replicas compared (name, applied seq when the task began) */
  readonly edges: { name: string; appliedSeq: number }[] | null;
  /** changes not yet applied by a compared replica when their person was checked */
  readonly edgePending: number;
  /** unix s of the schedule slot the task ran for, null: started by hand */
  readonly scheduledFor: number | null;
}

interface TaskRow {
  id: string; rule_id: string; rerun_of: string | null; rule: VerifyRule; status: TaskStatus; period_from: Date; period_to: Date;
  through_seq: string | number; region: string; cursor: string | number; max_person: string | number; epoch: number; checked: number; facts: number;
  expected: number; assigned: number; consistent: number; mismatches: number; error_code: string | null; error_message: string | null;
  created_by: string; created_at: Date; started_at: Date | null; finished_at: Date | null;
  rule_version: string | null; edges: { name: string; appliedSeq: number }[] | null; edge_pending: number; scheduled_for: Date | null;
}

const TASK_COLUMNS = `id, rule_id, rerun_of, rule, status, period_from, period_to, through_seq, region, cursor, max_person, epoch, checked, facts,
  expected, assigned, consistent, mismatches, error_code, error_message, created_by, created_at, started_at, finished_at, rule_version, edges, edge_pending,
  scheduled_for`;

const sec = (d: Date): number => Math.floor(new Date(d).getTime() / 1000);

function toTask(r: TaskRow): VerifyTask {
  const cursor = Number(r.cursor);
  const max = Number(r.max_person);
  return {
    id: r.id, ruleId: r.rule_id, ruleName: r.rule.name, dataset: r.rule.dataset, rerunOf: r.rerun_of, status: r.status,
    periodFrom: sec(r.period_from), periodTo: sec(r.period_to), throughSeq: Number(r.through_seq), region: r.region, cursor,
    // persons are walked in id order: the cursor's share of the highest id at the start is the progress
    progress: r.status === 'done' ? 1 : max === 0 ? 0 : Math.min(0.99, cursor / max),
    counts: { checked: r.checked, facts: r.facts, expected: r.expected, assigned: r.assigned, consistent: r.consistent, mismatches: r.mismatches },
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    createdBy: r.created_by, createdAt: sec(r.created_at), startedAt: r.started_at === null ? null : sec(r.started_at),
    finishedAt: r.finished_at === null ? null : sec(r.finished_at), rule: r.rule,
    ruleVersion: r.rule_version, edges: r.edges, edgePending: r.edge_pending, scheduledFor: r.scheduled_for === null ? null : sec(r.scheduled_for),
  };
}

export interface Mismatch {
  personId: number;
  kind: MismatchKind;
  expected: Color | null;
  assigned: Color | null;
  distributed: Color | null;
  reason: string | null;
  factKind: string | null;
  factAt: number | null;
  detail: string;
}

export interface VerifyTasksOptions {
  /** persons per chunk (one transaction each), default 2000 */
  readonly chunkPersons?: number;
  /** look for queued tasks this often, default 2000 ms (a start also wakes the runner at once) */
  readonly pollMs?: number;
  /** called after each committed chunk (tests use it to stop or "crash" a task midway) */
  readonly onChunk?: (taskId: string, cursor: number) => void | Promise<void>;
  /** node replicas a rule with checkEdges compares (verify-edge.ts); default none */
  readonly replicas?: readonly ReplicaTarget[];
  /** look for due scheduled runs this often (0: only when runDue is called), default 0 */
  readonly schedulePollMs?: number;
}

/** Actor of the tasks the schedule starts (run log, audit). */
export const SCHEDULE_ACTOR = 'system:verify-schedule';

const STALE_MS = 10 * 60_000;
/** widest person-id window one chunk query reads */
const MAX_WINDOW = 1 << 22;

class Fenced extends Error {}

export class VerifyTasks {
  readonly node: string;
  private readonly chunk: number;
  private readonly pollMs: number;
  private started = false;
  private shuttingDown = false;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private scheduleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly host: CapabilityHost, private readonly rules: VerifyRules, private readonly opts: VerifyTasksOptions = {}) {
    this.node = nodeId(host.dataDir);
    this.chunk = opts.chunkPersons ?? 2000;
    this.pollMs = opts.pollMs ?? 2000;
  }

  private get db(): SqlClient {
    return this.host.db;
  }

  private nowS(): number {
    return Math.floor(this.host.nowMs() / 1000);
  }

  async log(taskId: string, level: 'info' | 'warn' | 'error', message: string, db: SqlClient = this.db): Promise<void> {
    await db.query('INSERT INTO exchange_verify_log (task_id, at, level, message) VALUES ($1, $2, $3, $4)', [taskId, new Date(this.host.nowMs()), level, message]);
  }

  // ---------------------------------------------------------------------------
  // Commands
  // ---------------------------------------------------------------------------

  /** Starts a task from a rule (period: the given one, else the rule's fixed period, else its window ending now). */
  async start(ruleId: string, scope: string, actor: string, period: { from?: number; to?: number } = {}): Promise<VerifyTask> {
    const rule = await this.rules.get(ruleId, scope);
    const now = this.nowS();
    if (!ruleValidAt(rule, now)) throw new ExchangeError('EXC_ERR_VERIFY_RULE_EXPIRED', undefined, 'rule');
    let from: number;
    let to: number;
    if (period.from !== undefined || period.to !== undefined) {
      if (period.from === undefined || period.to === undefined) throw new ExchangeError('EXC_ERR_VERIFY_PERIOD', 'give both ends of the period', period.from === undefined ? 'periodFrom' : 'periodTo');
      from = period.from;
      to = period.to;
    } else if (rule.periodFrom !== null && rule.periodTo !== null) {
      from = rule.periodFrom;
      to = rule.periodTo;
    } else {
      // the end is exclusive: +1 s takes in what was assigned in the second the task starts
      to = now + 1;
      from = now - (rule.windowDays ?? 1) * 86_400;
    }
    checkPeriod(from, to, now);
    return this.insert(rule, from, to, actor, null, '任务已创建');
  }

  private async insert(
    rule: VerifyRule, from: number, to: number, actor: string, rerunOf: string | null, note: string,
    slot?: { tx: SqlClient; atMs: number; prep: { top: number; max: number; version: string } },
  ): Promise<VerifyTask> {
    const id = `vt_${randomBytes(6).toString('hex')}`;
    const { top, max, version } = slot?.prep ?? (await this.prepare());
    const write = async (tx: SqlClient): Promise<TaskRow> => {
      const ins = await tx.query<TaskRow>(
        `INSERT INTO exchange_verify_tasks (id, rule_id, rerun_of, rule, status, period_from, period_to, through_seq, region, max_person, created_by, created_at,
                rule_version, scheduled_for)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${TASK_COLUMNS}`,
        [id, rule.id, rerunOf, JSON.stringify(rule), new Date(from * 1000), new Date(to * 1000), top, rule.region, max, actor,
          new Date(this.host.nowMs()), version, slot === undefined ? null : new Date(slot.atMs)],
      );
      const edges = rule.checkEdges ? `及边缘节点实际数据（${(this.opts.replicas ?? []).map((r) => r.name).join('、') || '未配置节点副本'}）` : '';
      await this.log(id, 'info', `${note}：规则“${rule.name}”，数据集 ${rule.dataset}，依据现行赋码规则版本 ${version}，比对${rule.codeSource === 'history' ? '历史赋码' : '当前赋码'}${rule.checkDistribution ? '及下发数据（截至下发序号 ' + top + '）' : ''}${edges}`, tx);
      return ins.rows[0]!;
    };
    const r = slot === undefined ? await this.db.transaction(write) : await write(slot.tx);
    if (slot === undefined) this.kick();
    return toTask(r);
  }

  /** What a new task records before its transaction: the outbox top, the highest person id, the rule-set version in force. */
  private async prepare(): Promise<{ top: number; max: number; version: string }> {
    const top = await this.host.store.maxOutboxSeq();
    const max = await this.db.query<{ m: string | number | null }>('SELECT max(id) AS m FROM persons');
    // the expectations come from the rule set in force now; the task keeps that version to the end (resume, restart)
    const version = (await this.host.codes.activeRules(this.nowS())).version;
    return { top, max: Number(max.rows[0]?.m ?? 0), version };
  }

  /**
   * Starts the scheduled runs due at the clock's now (verify-schedule.ts):
   * each slot in one transaction — the conditional UPDATE that moves the
   * rule's next_run_at, and the task (unique per rule and slot). Returns the
   * tasks started by THIS call (another process that took a slot first: none).
   */
  async runDue(): Promise<VerifyTask[]> {
    const nowMs = this.host.nowMs();
    const started: VerifyTask[] = [];
    for (const due of await dueRules(this.db, nowMs)) {
      const rule = await this.rules.get(due.id, '').catch(() => null);
      if (rule === null || rule.schedule === null) continue;
      const anchor = await this.db.query<{ u: Date }>('SELECT updated_at AS u FROM exchange_verify_rules WHERE id = $1', [due.id]);
      const prep = await this.prepare();
      const t = await this.db.transaction(async (tx) => {
        let next: number | null = nextSlot(rule.schedule!, nowMs, new Date(anchor.rows[0]!.u).getTime());
        if (rule.validUntil !== null && next >= rule.validUntil * 1000) next = null;
        const took = await tx.query(
          'UPDATE exchange_verify_rules SET next_run_at = $3 WHERE id = $1 AND next_run_at = $2 RETURNING id',
          [due.id, new Date(due.slotMs), next === null ? null : new Date(next)],
        );
        if (took.rows.length === 0) return null; // another process took this slot
        const nowS = Math.floor(nowMs / 1000);
        if (!ruleValidAt(rule, nowS)) {
          this.host.log(`exchange: verify schedule: rule ${rule.id} is outside its validity, slot skipped`);
          return null;
        }
        const busy = await tx.query("SELECT id FROM exchange_verify_tasks WHERE rule_id = $1 AND status IN ('queued', 'running', 'stopping') LIMIT 1", [rule.id]);
        if (busy.rows.length > 0) {
          await this.log(String((busy.rows[0] as { id: string }).id), 'warn', `定时执行时间已到，但本规则的上一次任务尚未结束，本次（${describeSchedule(rule.schedule!)}）跳过`, tx);
          return null;
        }
        let from: number;
        let to: number;
        if (rule.periodFrom !== null && rule.periodTo !== null) {
          from = rule.periodFrom;
          to = rule.periodTo;
        } else {
          to = nowS + 1;
          from = nowS - (rule.windowDays ?? 1) * 86_400;
        }
        const task = await this.insert(rule, from, to, SCHEDULE_ACTOR, null, `定时执行（${describeSchedule(rule.schedule!)}）`, { tx, atMs: due.slotMs, prep });
        await this.host.audit.append({
          actor: SCHEDULE_ACTOR, role: 'system', action: 'exchange.verify.task.scheduled', target: `verify-task:${task.id}`, outcome: 'queued',
          details: { rule: rule.id, periodFrom: from, periodTo: to, slot: Math.floor(due.slotMs / 1000) },
        }, tx);
        return task;
      });
      if (t !== null) started.push(t);
    }
    if (started.length > 0) this.kick();
    return started;
  }

  async get(id: string, scope: string): Promise<VerifyTask> {
    const r = await this.db.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM exchange_verify_tasks WHERE id = $1`, [id]);
    const row = r.rows[0];
    if (row === undefined || !row.region.startsWith(scope)) throw new ExchangeError('EXC_ERR_VERIFY_TASK_NOT_FOUND');
    return toTask(row);
  }

  async list(scope: string, ruleId?: string, limit = 100): Promise<VerifyTask[]> {
    const r = await this.db.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM exchange_verify_tasks WHERE ($1 = '' OR region LIKE $1 || '%') AND ($2::text IS NULL OR rule_id = $2)
        ORDER BY created_at DESC, id LIMIT $3`,
      [scope, ruleId ?? null, limit],
    );
    return r.rows.map(toTask);
  }

  async runLog(id: string): Promise<{ at: number; level: string; message: string }[]> {
    const r = await this.db.query<{ at: Date; level: string; message: string }>('SELECT at, level, message FROM exchange_verify_log WHERE task_id = $1 ORDER BY id', [id]);
    return r.rows.map((x) => ({ at: sec(x.at), level: x.level, message: x.message }));
  }

  /** Stops a queued task at once, a running one after its chunk in flight. */
  async stop(id: string, scope: string, actor: string): Promise<VerifyTask> {
    await this.get(id, scope);
    const r = await this.db.query<{ status: string }>(
      `UPDATE exchange_verify_tasks SET status = CASE status WHEN 'queued' THEN 'stopped' ELSE 'stopping' END
        WHERE id = $1 AND status IN ('queued', 'running') RETURNING status`, [id],
    );
    if (r.rows.length === 0) throw new ExchangeError('EXC_ERR_VERIFY_TASK_STATE', 'only a queued or running task can be stopped');
    await this.log(id, 'info', r.rows[0]!.status === 'stopped' ? `${actor} 停止了任务（尚未开始）` : `${actor} 请求停止任务，当前批次完成后停止`);
    return this.get(id, scope);
  }

  /** Continues a stopped task after its cursor. */
  async resume(id: string, scope: string, actor: string): Promise<VerifyTask> {
    const t = await this.get(id, scope);
    const rule = await this.rules.get(t.ruleId, scope);
    if (!ruleValidAt(rule, this.nowS())) throw new ExchangeError('EXC_ERR_VERIFY_RULE_EXPIRED', undefined, 'rule');
    const r = await this.db.query("UPDATE exchange_verify_tasks SET status = 'queued' WHERE id = $1 AND status = 'stopped' RETURNING id", [id]);
    if (r.rows.length === 0) throw new ExchangeError('EXC_ERR_VERIFY_TASK_STATE', 'only a stopped task can be resumed');
    await this.log(id, 'info', `${actor} 继续执行任务（从人员序号 ${t.cursor} 之后）`);
    this.kick();
    return this.get(id, scope);
  }

  /** A new task with the same settings and period, against the data as it is now. */
  async rerun(id: string, scope: string, actor: string): Promise<VerifyTask> {
    const t = await this.get(id, scope);
    if (t.status === 'queued' || t.status === 'running' || t.status === 'stopping') throw new ExchangeError('EXC_ERR_VERIFY_TASK_STATE', 'the task is still running');
    const rule = await this.rules.get(t.ruleId, scope);
    if (!ruleValidAt(rule, this.nowS())) throw new ExchangeError('EXC_ERR_VERIFY_RULE_EXPIRED', undefined, 'rule');
    return this.insert({ ...t.rule, validFrom: rule.validFrom, validUntil: rule.validUntil }, t.periodFrom, t.periodTo, actor, id, `重新执行任务 ${id}`);
  }

  // ---------------------------------------------------------------------------
  // Runner
  // ---------------------------------------------------------------------------

  /** Re-queues the tasks a previous run of this node (or a node silent for 10 minutes) left running, then works the queue. */
  async startRunner(): Promise<void> {
    const stale = new Date(this.host.nowMs() - STALE_MS);
    const r = await this.db.query<{ id: string; status: string; cursor: string | number }>(
      `UPDATE exchange_verify_tasks SET status = CASE status WHEN 'stopping' THEN 'stopped' ELSE 'queued' END
        WHERE status IN ('running', 'stopping') AND (node = $1 OR heartbeat_at < $2) RETURNING id, status, cursor`,
      [this.node, stale],
    );
    for (const t of r.rows) {
      await this.log(t.id, 'warn', t.status === 'stopped' ? '服务重启时任务正在停止，已标记为停止' : `服务重启，任务从人员序号 ${Number(t.cursor)} 之后继续`);
    }
    this.started = true;
    this.shuttingDown = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    const every = this.opts.schedulePollMs ?? 0;
    if (every > 0) {
      const due = (): void => {
        this.runDue().catch((err: unknown) => this.host.log(`exchange: verify schedule: ${(err as Error).name}`));
      };
      this.scheduleTimer = setInterval(due, every);
      this.scheduleTimer.unref();
      due();
    }
    this.kick();
  }

  /** Finishes the chunk in flight and leaves the task running: the next start continues it. */
  async stopRunner(): Promise<void> {
    this.started = false;
    this.shuttingDown = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.scheduleTimer !== null) clearInterval(this.scheduleTimer);
    this.scheduleTimer = null;
    await this.running;
  }

  kick(): void {
    if (!this.started) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.host.log(`exchange: verify runner: ${(err as Error).name}`))
      .finally(() => {
        this.running = null;
        if (this.again && this.started) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves when this runner has no task in flight and none is queued. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.running !== null) {
        await this.running;
        continue;
      }
      const q = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM exchange_verify_tasks WHERE status = 'queued'");
      if (q.rows[0]!.n === 0 || !this.started) return;
      this.kick();
    }
  }

  private async drain(): Promise<void> {
    while (this.started && !this.shuttingDown) {
      const r = await this.db.query<TaskRow>(
        `UPDATE exchange_verify_tasks SET status = 'running', node = $1, epoch = epoch + 1, started_at = COALESCE(started_at, $2), heartbeat_at = $2
          WHERE id = (SELECT id FROM exchange_verify_tasks WHERE status = 'queued' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING ${TASK_COLUMNS}`,
        [this.node, new Date(this.host.nowMs())],
      );
      const row = r.rows[0];
      if (row === undefined) return;
      await this.run(row);
    }
  }

  private async run(row: TaskRow): Promise<void> {
    const id = row.id;
    const epoch = row.epoch;
    let cursor = Number(row.cursor);
    let window = this.chunk * 8;
    if (cursor === 0) await this.log(id, 'info', '开始执行');
    const probes: ReplicaProbe[] = [];
    try {
      // the version recorded at the start (a task from before rule versions were recorded: the one in force now)
      const compiled = (row.rule_version === null ? null : await this.host.codes.rules.load(this.db, row.rule_version)) ?? (await this.host.codes.activeRules(this.nowS()));
      if (row.rule.checkEdges) {
        const targets = this.opts.replicas ?? [];
        if (targets.length === 0) throw new ExchangeError('EXC_ERR_VERIFY_REPLICA', 'no node replica is configured (EXCHANGE_VERIFY_REPLICAS)');
        for (const t of targets) probes.push(await ReplicaProbe.open(t));
        if (row.edges === null) {
          const edges = probes.map((p) => ({ name: p.target.name, appliedSeq: p.appliedAtOpen }));
          await this.db.query('UPDATE exchange_verify_tasks SET edges = $3::jsonb WHERE id = $1 AND epoch = $2', [id, epoch, JSON.stringify(edges)]);
          await this.log(id, 'info', `比对边缘节点副本：${edges.map((e) => `${e.name}（已应用至序号 ${e.appliedSeq}）`).join('、')}`);
        }
      }
      for (;;) {
        if (this.shuttingDown) {
          await this.log(id, 'warn', `服务停止，任务将在重启后从人员序号 ${cursor} 之后继续`);
          return;
        }
        const res = await this.chunkOnce(row, cursor, window, compiled, probes);
        // a thin window widens (sparse candidates among many persons); a full one narrows to about
        // twice the ids its chunk spanned, so a query does not read far more rows than it returns
        window = res.checked >= this.chunk ? Math.max(this.chunk, 2 * (res.cursor - cursor)) : Math.min(MAX_WINDOW, window * 2);
        const status = await this.commit(id, epoch, res);
        if (status === null) return; // fenced: another runner took the task over
        cursor = res.cursor;
        await this.opts.onChunk?.(id, cursor);
        if (res.last) {
          await this.finish(id, epoch);
          return;
        }
        const cur = await this.db.query<{ status: string }>('SELECT status FROM exchange_verify_tasks WHERE id = $1 AND epoch = $2', [id, epoch]);
        const st = cur.rows[0]?.status;
        if (st === 'stopping') {
          await this.db.query("UPDATE exchange_verify_tasks SET status = 'stopped' WHERE id = $1 AND epoch = $2", [id, epoch]);
          const t = await this.db.query<{ checked: number }>('SELECT checked FROM exchange_verify_tasks WHERE id = $1', [id]);
          await this.log(id, 'info', `任务已停止：已核查 ${t.rows[0]!.checked} 人，可继续执行或重新执行`);
          return;
        }
        if (st !== 'running') return;
      }
    } catch (err) {
      if (err instanceof Fenced) return;
      const replica = err instanceof ExchangeError && err.code === 'EXC_ERR_VERIFY_REPLICA';
      this.host.log(`exchange: verify task ${id} failed: ${replica ? (err as Error).message : (err as Error).name}`);
      await this.db.query(
        "UPDATE exchange_verify_tasks SET status = 'failed', error_code = $5, error_message = $3, finished_at = $4 WHERE id = $1 AND epoch = $2",
        [id, epoch, replica ? '无法读取边缘节点副本数据' : '核查任务执行异常', new Date(this.host.nowMs()), replica ? 'EXC_ERR_VERIFY_REPLICA' : 'EXC_ERR_VERIFY_FAILED'],
      );
      await this.log(id, 'error', replica ? '无法读取边缘节点副本数据，任务已终止（请检查节点副本配置后重新执行）' : '任务执行异常已终止（详情见服务日志），可重新执行');
    } finally {
      for (const p of probes) p.close();
    }
  }

  private async finish(id: string, epoch: number): Promise<void> {
    const r = await this.db.query<{ checked: number; mismatches: number }>(
      "UPDATE exchange_verify_tasks SET status = 'done', finished_at = $3 WHERE id = $1 AND epoch = $2 AND status IN ('running', 'stopping') RETURNING checked, mismatches",
      [id, epoch, new Date(this.host.nowMs())],
    );
    const t = r.rows[0];
    if (t !== undefined) await this.log(id, t.mismatches > 0 ? 'warn' : 'info', `任务完成：核查 ${t.checked} 人，发现不一致 ${t.mismatches} 条`);
  }

  private async commit(id: string, epoch: number, res: ChunkResult): Promise<string | null> {
    try {
      return await this.db.transaction(async (tx) => {
        const u = await tx.query<{ status: string }>(
          `UPDATE exchange_verify_tasks SET cursor = $3, checked = checked + $4, facts = facts + $5, expected = expected + $6, assigned = assigned + $7,
                  consistent = consistent + $8, mismatches = mismatches + $9, heartbeat_at = $10, edge_pending = edge_pending + $11
            WHERE id = $1 AND epoch = $2 AND status IN ('running', 'stopping') RETURNING status`,
          [id, epoch, res.cursor, res.checked, res.facts, res.expected, res.assigned, res.consistent, res.mismatches.length, new Date(this.host.nowMs()), res.edgePending],
        );
        if (u.rows.length === 0) throw new Fenced();
        if (res.mismatches.length > 0) {
          await tx.query(
            `INSERT INTO exchange_verify_mismatches (task_id, person_id, kind, expected, assigned, distributed, reason, fact_kind, fact_at, detail)
             SELECT $1, x."personId", x.kind, x.expected, x.assigned, x.distributed, x.reason, x."factKind",
                    CASE WHEN x."factAt" IS NULL THEN NULL ELSE to_timestamp(x."factAt") END, x.detail
               FROM jsonb_to_recordset($2::jsonb) AS x ("personId" bigint, kind text, expected text, assigned text, distributed text, reason text,
                    "factKind" text, "factAt" bigint, detail text)
             ON CONFLICT DO NOTHING`,
            [id, JSON.stringify(res.mismatches)],
          );
        }
        return u.rows[0]!.status;
      });
    } catch (err) {
      if (err instanceof Fenced) {
        await this.log(id, 'warn', '任务已由其他执行进程接管，本进程停止执行该任务');
        return null;
      }
      throw err;
    }
  }

  /** Compares one chunk of persons after `cursor` (reads only; the caller commits). */
  private async chunkOnce(row: TaskRow, cursor: number, window: number, compiled: CompiledRules, probes: readonly ReplicaProbe[]): Promise<ChunkResult> {
    const rule = row.rule;
    const meaning = meaningOf(compiled, rule.target);
    const kinds = [...meaning.kinds];
    const reasons = [...meaning.reasons.keys()];
    const from = new Date(row.period_from);
    const to = new Date(row.period_to);
    const source = `import:${rule.dataset}`;
    const history = rule.codeSource === 'history';
    // Persons are taken in id windows (cursor, upper]: each query reads one bounded index range, so the
    // whole task is one pass over the data (an open range "> cursor" made PostgreSQL read and sort all
    // the rest for every chunk: quadratic, seen in bench/verify.ts). A full chunk ends at its last id.
    const upper = cursor + window;
    // the region join only when the task is scoped: the province-wide case reads the indexes alone
    const join = (alias: string): string => (row.region === '' ? '' : `JOIN persons p ON p.id = ${alias}.person_id AND p.region LIKE $7 || '%'`);
    const cand = await this.db.query<{ id: string | number }>(
      `SELECT id FROM (
         (SELECT DISTINCT f.person_id AS id FROM facts f ${join('f')}
           WHERE f.person_id > $1 AND f.person_id <= $9 AND f.source = $2 AND f.kind = ANY($3::text[]) AND f.at >= $4 AND f.at < $5
             AND (f.kind <> 'nucleic_acid' OR f.result = 'positive') AND $7::text IS NOT NULL ORDER BY f.person_id LIMIT $8)
         UNION
         (SELECT DISTINCT c.person_id FROM ${history ? 'code_history' : 'codes'} c ${join('c')}
           WHERE c.person_id > $1 AND c.person_id <= $9 AND c.reason = ANY($6::text[]) AND c.${history ? 'at' : 'since'} >= $4 AND c.${history ? 'at' : 'since'} < $5
             AND c.color <> 'green' ORDER BY c.person_id LIMIT $8)
       ) x ORDER BY id LIMIT $8`,
      [cursor, source, kinds, from, to, reasons, row.region, this.chunk, upper],
    );
    const ids = cand.rows.map((x) => Number(x.id));
    const full = ids.length >= this.chunk;
    const next = full ? ids[ids.length - 1]! : upper;
    // persons registered while the task runs are covered too: the end is the highest id now
    const maxId = Number((await this.db.query<{ m: string | number | null }>('SELECT max(id) AS m FROM persons')).rows[0]?.m ?? 0);
    const last = !full && next >= maxId;
    if (ids.length === 0) return { cursor: next, last, checked: 0, facts: 0, expected: 0, assigned: 0, consistent: 0, edgePending: 0, mismatches: [] };
    const nowS = this.nowS();
    const throughSeq = Number(row.through_seq);

    // the id range bounds each read to the chunk's slice of the index; ANY picks the candidates in it
    const facts = await this.db.query<{ person_id: string | number; kind: string; result: string | null; at: Date; source: string }>(
      `SELECT person_id, kind, result, at, source FROM facts WHERE person_id > $3 AND person_id <= $4 AND person_id = ANY($1::bigint[])
          AND (kind = ANY($2::text[]) OR kind = 'nucleic_acid') ORDER BY person_id, at`,
      [ids, kinds, cursor, next],
    );
    // person and current code in one read (same key); the deltas by their seqs (primary key)
    const codes = await this.db.query<{ person_id: string | number; uid: Buffer; color: Color | null; reason: string; since: Date; seq: string | number }>(
      `SELECT p.id AS person_id, p.uid, c.color, c.reason, c.since, c.seq FROM persons p
         LEFT JOIN codes c ON c.person_id = p.id AND c.person_id > $2 AND c.person_id <= $3
        WHERE p.id > $2 AND p.id <= $3 AND p.id = ANY($1::bigint[])`,
      [ids, cursor, next],
    );
    const seqs = rule.checkDistribution ? codes.rows.filter((c) => c.color !== null && Number(c.seq) <= throughSeq).map((c) => Number(c.seq)) : [];
    const outbox = seqs.length === 0 ? { rows: [] } : await this.db.query<{ seq: string | number; type: string; payload: Buffer }>(
      // the range keeps the plan on the primary key (without it a growing outbox was scanned per chunk)
      'SELECT seq, type, payload FROM outbox WHERE seq >= $2 AND seq <= $3 AND seq = ANY($1::bigint[])', [seqs, seqs.reduce((a, b) => Math.min(a, b)), seqs.reduce((a, b) => Math.max(a, b))],
    );
    const hist = history
      ? await this.db.query<{ person_id: string | number; at: Date; color: Color; reason: string }>(
        'SELECT person_id, at, color, reason FROM code_history WHERE person_id > $2 AND person_id <= $3 AND person_id = ANY($1::bigint[]) ORDER BY person_id, id',
        [ids, cursor, next],
      )
      : { rows: [] };
    const codeOf = new Map(codes.rows.filter((c) => c.color !== null).map((c) => [Number(c.person_id), c as typeof c & { color: Color }]));
    const deltaAt = new Map(outbox.rows.map((o) => [Number(o.seq), o]));
    const uidOf = new Map(codes.rows.map((p) => [Number(p.person_id), Buffer.from(p.uid)]));
    const factsOf = group(facts.rows, (f) => Number(f.person_id));
    const histOf = group(hist.rows, (h) => Number(h.person_id));

    // what each compared replica serves for the persons holding a code (one read transaction per replica)
    const withCode = ids.filter((pid) => codeOf.has(pid));
    const served = await Promise.all(probes.map(async (p) => ({ name: p.target.name, ...(await p.lookup(withCode.map((pid) => uidOf.get(pid)!))) })));

    const out: Mismatch[] = [];
    let nFacts = 0;
    let nExpected = 0;
    let nAssigned = 0;
    let consistent = 0;
    let edgePending = 0;
    const fromS = sec(from);
    const toS = sec(to);
    for (const pid of ids) {
      const pf = factsOf.get(pid) ?? [];
      const code = codeOf.get(pid);
      const before = out.length;

      // what the dataset says under the rule set in force: its own facts in the period plus the negative tests
      const mine: StoredFact[] = [];
      const included: StoredFact[] = [];
      for (const f of pf) {
        const sf = { kind: f.kind, result: f.result, at: sec(f.at), source: f.source };
        const k = keyOf(f);
        if (f.source === source && sf.at >= fromS && sf.at < toS && k !== null && meaning.keys.includes(k)) {
          mine.push(sf);
          included.push(sf);
        } else if (k === 'test_negative') included.push(sf);
      }
      nFacts += mine.length;
      let want: Expected | null = null;
      let end = Infinity;
      if (!history) want = expectedAt(meaning, included, nowS);
      else {
        // each of the dataset's facts at its own time: the strongest colour it called for, and until when
        for (const f of mine) {
          const e = expectedAt(meaning, included, f.at);
          if (e === null) continue;
          if (want === null || SEVERITY[e.color] > SEVERITY[want.color] || (SEVERITY[e.color] === SEVERITY[want.color] && f.at > want.factAt)) {
            want = { ...e, factAt: f.at, factKind: f.kind };
            end = e.until ?? Infinity;
          }
        }
      }
      if (want !== null) {
        nExpected++;
        const need = SEVERITY[want.color];
        let met: boolean;
        if (!history) {
          met = code !== undefined && SEVERITY[code.color] >= need;
        } else {
          const hs = histOf.get(pid) ?? [];
          const at = want.factAt;
          const prior = hs.filter((h) => sec(h.at) < at).at(-1);
          met = (prior !== undefined && SEVERITY[prior.color] >= need) || hs.some((h) => sec(h.at) >= at && sec(h.at) < end && SEVERITY[h.color] >= need);
        }
        if (!met) {
          out.push({
            personId: pid, kind: 'expected_not_assigned', expected: want.color, assigned: code?.color ?? null, distributed: null,
            reason: code?.reason ?? null, factKind: want.factKind, factAt: want.factAt,
            detail: code === undefined ? '无赋码记录' : history ? '该事实之后未曾赋予应有颜色' : '当前赋码颜色低于应赋颜色',
          });
        }
      }

      // codes of the dataset's reasons must rest on a fact the reason's rule reads (from any source)
      const assignedRows = history
        ? (histOf.get(pid) ?? []).filter((h) => reasons.includes(h.reason) && h.color !== 'green' && h.at >= from && h.at < to).map((h) => ({ color: h.color, reason: h.reason }))
        : code !== undefined && reasons.includes(code.reason) && code.color !== 'green' && code.since >= from && code.since < to ? [{ color: code.color, reason: code.reason }] : [];
      if (assignedRows.length > 0) nAssigned++;
      const unfounded = assignedRows.find((a) => {
        const keys = meaning.reasons.get(a.reason)!.keys;
        return !pf.some((f) => {
          const k = keyOf(f);
          return k !== null && keys.includes(k) && sec(f.at) <= nowS;
        });
      });
      if (unfounded !== undefined) {
        out.push({
          personId: pid, kind: 'assigned_without_basis', expected: null, assigned: unfounded.color, distributed: null, reason: unfounded.reason,
          factKind: null, factAt: null, detail: '无对应的事实数据',
        });
      }

      // the master's current code against the delta the edges were sent
      if (rule.checkDistribution && code !== undefined && Number(code.seq) <= throughSeq) {
        const o = deltaAt.get(Number(code.seq));
        let problem: string | null = null;
        let distributed: Color | null = null;
        if (o === undefined) problem = '下发队列中没有该赋码的记录';
        else {
          let d: ReturnType<typeof toDelta> | null = null;
          try {
            d = toDelta(Number(o.seq), o.type, Buffer.from(o.payload));
          } catch {
            // a payload the edges could not read either: reported, not a failed task
          }
          if (d === null) problem = '下发记录无法解析';
          else if (d.type !== 'code' || !Buffer.from(d.uid).equals(uidOf.get(pid)!)) problem = '下发记录不属于该人员';
          else if (d.record === null) problem = '下发记录为删除';
          else if (d.record.color !== code.color) {
            distributed = d.record.color;
            problem = '下发颜色与当前赋码不一致';
          }
        }
        if (problem !== null) {
          out.push({
            personId: pid, kind: 'assigned_not_distributed', expected: want?.color ?? null, assigned: code.color, distributed, reason: code.reason,
            factKind: null, factAt: null, detail: problem,
          });
        }
      }

      // what the nodes actually serve: each compared replica, up to the sequence it has applied
      if (code !== undefined && served.length > 0) {
        const i = withCode.indexOf(pid);
        const problems: string[] = [];
        let shown: Color | null = null;
        let pending = false;
        for (const r of served) {
          const rc = r.codes[i] ?? null;
          const j = judgeReplica({ color: code.color, seq: Number(code.seq) }, rc, r.applied);
          if (j.pending) pending = true;
          if (j.problem !== null) {
            problems.push(`${r.name}：${j.problem}`);
            if (shown === null && rc !== null && (rc.color === 'green' || rc.color === 'yellow' || rc.color === 'red')) shown = rc.color;
          }
        }
        if (pending) edgePending++;
        if (problems.length > 0) {
          out.push({
            personId: pid, kind: 'edge_not_applied', expected: want?.color ?? null, assigned: code.color, distributed: shown, reason: code.reason,
            factKind: null, factAt: null, detail: problems.join('；').slice(0, 500),
          });
        }
      }
      if (out.length === before) consistent++;
    }
    return {
      cursor: next, last, checked: ids.length, facts: nFacts, expected: nExpected, assigned: nAssigned,
      consistent, edgePending, mismatches: out,
    };
  }
}

interface ChunkResult {
  cursor: number;
  last: boolean;
  checked: number;
  facts: number;
  expected: number;
  assigned: number;
  consistent: number;
  edgePending: number;
  mismatches: Mismatch[];
}

function group<T>(rows: readonly T[], key: (r: T) => number): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const r of rows) {
    const k = key(r);
    const l = m.get(k);
    if (l === undefined) m.set(k, [r]);
    else l.push(r);
  }
  return m;
}
