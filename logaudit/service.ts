import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPostgres, type SqlClient } from '../master/sql-client.js';
import { insertAlertBatch } from './alert-batch.js';
import type { LogAuditConfig } from './config.js';
import { LogAuditEngine, type AlertOut } from './engine.js';
import { DbPoller } from './db-poll.js';
import { LogAuditError } from './errors.js';
import { FileTailer } from './file-tail.js';
import { sftpPickupOnce } from './sftp-pickup.js';
import { ftpPickupOnce } from './ftp-pickup.js';
import { reportData } from './report-data.js';
import { DailyReports } from './report-schedule.js';
import { Collector, ForwardServer } from './forward.js';
import { SyslogIntake } from './intake.js';
import type { RawMessage } from './normalise.js';
import { SnmpTrapIntake } from './snmp-intake.js';

/**
 * One running log audit system: the engine (central) or the collector,
 * with every configured listener, the file tailer, the collectors' TLS
 * endpoint, and the bookkeeping in the database (devices, collectors) —
 * used by the back office capability and by logaudit/main.ts alike.
 */
export interface ServiceDeps {
  db: SqlClient | null;
  now: () => number;
  log: (line: string) => void;
  committed?: () => void;
}

export interface Ports { udp: number[]; tcp: number[]; tls: number[]; snmp: number[]; forward: number[] }

export class LogAuditService {
  readonly engine: LogAuditEngine | null;
  readonly collector: Collector | null;
  readonly intake: SyslogIntake;
  readonly ports: Ports = { udp: [], tcp: [], tls: [], snmp: [], forward: [] };
  forward: ForwardServer | null = null;
  private readonly snmp: SnmpTrapIntake[] = [];
  private tailer: FileTailer | null = null;
  poller: DbPoller | null = null;
  private ownPollDb: SqlClient | null = null;
  private sftpTimer: NodeJS.Timeout | null = null;
  private ftpTimer: NodeJS.Timeout | null = null;
  /** the scheduled daily report (central only, when LOGAUDIT_REPORT_AT is not off) */
  readonly reports: DailyReports | null;
  private reportTimer: NodeJS.Timeout | null = null;
  private reportRun: Promise<unknown> = Promise.resolve();
  private sftpRun: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(readonly cfg: LogAuditConfig, private readonly deps: ServiceDeps) {
    if (cfg.mode === 'collector') {
      this.engine = null;
      this.collector = new Collector({
        id: cfg.collectorId, dataDir: cfg.dataDir, spoolMaxBytes: cfg.spoolMaxBytes, central: cfg.forwardTo!,
        ca: cfg.forwardCa ? readFileSync(cfg.forwardCa) : null, token: cfg.forwardToken, now: deps.now, log: deps.log,
      });
    } else {
      this.collector = null;
      this.engine = new LogAuditEngine({ config: cfg, now: deps.now, raise: (a) => this.raise(a), onDrain: () => this.intake.resume(), log: deps.log });
    }
    const engine = this.engine;
    this.reports = engine && cfg.reportAtMinute !== null
      ? new DailyReports(cfg.dataDir, cfg.reportAtMinute, (day, fromMs, toMs, nowMs) => reportData(engine, deps.db, nowMs, { days: [day], fromMs, toMs }))
      : null;
    this.intake = new SyslogIntake(
      { accept: (m) => this.accept(m), count: (c) => this.engine?.count(c) },
      cfg.maxMessageBytes, deps.now,
    );
  }

  private accept(m: RawMessage): boolean {
    return this.engine ? this.engine.accept(m) : this.collector!.accept(m);
  }

  private async raise(alerts: readonly AlertOut[]): Promise<void> {
    const db = this.deps.db;
    if (!db) { for (const a of alerts) this.deps.log(`logaudit alert (no database): ${a.kind} ${a.summary}`); return; }
    await insertAlertBatch(db, alerts.map(({ triggerReceivedMs: _t, ...input }) => input));
    this.deps.committed?.();
  }

  async start(): Promise<void> {
    const c = this.cfg;
    const tls = c.tlsCert && c.tlsKey ? { cert: readFileSync(c.tlsCert), key: readFileSync(c.tlsKey) } : null;
    if (this.engine) {
      await this.loadAssets();
      this.engine.start();
    }
    this.collector?.start();
    for (const l of c.udp) this.ports.udp.push(await this.intake.listenUdp(l.host, l.port));
    for (const l of c.tcp) this.ports.tcp.push(await this.intake.listenTcp(l.host, l.port));
    for (const l of c.tls) this.ports.tls.push(await this.intake.listenTls(l.host, l.port, tls!));
    for (const l of c.snmp) {
      const s = new SnmpTrapIntake({
        host: l.host, port: l.port, community: c.snmpCommunity, users: c.snmpUsers, now: this.deps.now,
        sink: (m) => { this.accept(m); }, onRejected: () => this.engine?.count('framing_error'),
      });
      s.start();
      this.snmp.push(s);
      this.ports.snmp.push(l.port);
    }
    if (c.files.length > 0) {
      this.tailer = new FileTailer(c.files, join(c.dataDir, 'logaudit', 'tail-state.json'), (m) => { this.accept(m); }, this.deps.now);
      this.tailer.start();
    }
    if (c.dbPoll.length > 0) {
      const pollDb = c.dbPollUrl ? await openPostgres(c.dbPollUrl, { max: 1 }) : this.deps.db;
      if (!pollDb) throw new LogAuditError('LOG_ERR_CONFIG', 'a collector has no database: set LOGAUDIT_DB_POLL_URL', 'LOGAUDIT_DB_POLL');
      this.ownPollDb = c.dbPollUrl ? pollDb : null;
      this.poller = new DbPoller(pollDb, c.dbPoll, join(c.dataDir, 'logaudit', 'db-poll-state.json'), (m) => { this.accept(m); }, this.deps.now);
      this.poller.start();
    }
    if (c.sftp) {
      const sf = c.sftp;
      const key = readFileSync(sf.keyFile);
      const pass = (): void => {
        this.sftpRun = this.sftpRun.then(async () => {
          await sftpPickupOnce({ host: sf.host, port: sf.port, username: sf.user, privateKey: key, dir: sf.dir, pattern: sf.pattern, program: sf.program, now: this.deps.now, sink: (m) => { this.accept(m); } });
        }).catch((e: unknown) => this.deps.log(`logaudit: SFTP pickup from ${sf.host} failed: ${(e as Error).message}`));
      };
      pass();
      this.sftpTimer = setInterval(pass, 60_000);
      this.sftpTimer.unref();
    }
    if (c.ftp) {
      const f = c.ftp;
      const pass = (): void => {
        this.sftpRun = this.sftpRun.then(async () => {
          await ftpPickupOnce({ host: f.host, port: f.port, user: f.user, password: f.password, dir: f.dir, pattern: f.pattern, program: f.program, now: this.deps.now, sink: (m) => { this.accept(m); } });
        }).catch((e: unknown) => this.deps.log(`logaudit: FTP pickup from ${f.host} failed: ${(e as Error).message}`));
      };
      pass();
      this.ftpTimer = setInterval(pass, 60_000);
      this.ftpTimer.unref();
    }
    if (this.engine && c.forwardListen.length > 0) {
      const engine = this.engine;
      this.forward = new ForwardServer({ tls: tls!, token: c.forwardToken, accept: (items) => engine.acceptDurable(items), now: this.deps.now });
      for (const l of c.forwardListen) this.ports.forward.push(await this.forward.listen(l.host, l.port));
    }
    if (this.reports) {
      const reports = this.reports;
      const pass = (): void => {
        this.reportRun = this.reportRun.then(() => reports.runDue(this.deps.now()))
          .then((d) => { if (d) this.deps.log(`logaudit: daily report for ${d} written`); })
          .catch((e: unknown) => this.deps.log(`logaudit: daily report failed: ${(e as Error).message}`));
      };
      this.reportTimer = setInterval(pass, 60_000);
      this.reportTimer.unref();
    }
    if (this.engine && this.deps.db) {
      this.timer = setInterval(() => { this.flushing = this.flush().catch((e: unknown) => this.deps.log(`logaudit: bookkeeping failed: ${(e as Error).message}`)); }, 5000);
      this.timer.unref();
    }
  }

  /** Known devices from the database, so one that went silent across a restart is still noticed. */
  private async loadAssets(): Promise<void> {
    const db = this.deps.db;
    if (!db || !this.engine) return;
    const r = await db.query<{ ip: string; host_name: string | null; dataset: string; vendor: string | null; product: string | null; f: string | number; l: string | number; events: string | number; silent: boolean }>(
      `SELECT ip, host_name, dataset, vendor, product, (extract(epoch FROM first_seen) * 1000)::bigint AS f,
              (extract(epoch FROM last_seen) * 1000)::bigint AS l, events, silent FROM logaudit_assets`,
    );
    for (const a of r.rows) {
      this.engine.assets.set(a.ip, {
        ip: a.ip, hostName: a.host_name, dataset: a.dataset, vendor: a.vendor, product: a.product,
        firstSeenMs: Number(a.f), lastSeenMs: Number(a.l), events: Number(a.events), silent: a.silent,
      });
    }
  }

  /** Writes devices and collectors to the database (every 5 s and at stop). */
  async flush(): Promise<void> {
    const db = this.deps.db;
    if (!db || !this.engine) return;
    const assets = [...this.engine.assets.values()];
    for (let i = 0; i < assets.length; i += 500) {
      const part = assets.slice(i, i + 500);
      await db.query(
        `INSERT INTO logaudit_assets (ip, host_name, dataset, vendor, product, first_seen, last_seen, events, silent)
         SELECT x.ip, x.host_name, x.dataset, x.vendor, x.product, to_timestamp(x.f / 1000.0), to_timestamp(x.l / 1000.0), x.events, x.silent
           FROM jsonb_to_recordset($1::jsonb) AS x(ip text, host_name text, dataset text, vendor text, product text, f double precision, l double precision, events bigint, silent boolean)
         ON CONFLICT (ip) DO UPDATE SET host_name = COALESCE(EXCLUDED.host_name, logaudit_assets.host_name), dataset = EXCLUDED.dataset,
           vendor = COALESCE(EXCLUDED.vendor, logaudit_assets.vendor), product = COALESCE(EXCLUDED.product, logaudit_assets.product),
           last_seen = GREATEST(EXCLUDED.last_seen, logaudit_assets.last_seen), events = EXCLUDED.events, silent = EXCLUDED.silent`,
        [JSON.stringify(part.map((a) => ({ ip: a.ip, host_name: a.hostName, dataset: a.dataset, vendor: a.vendor, product: a.product, f: a.firstSeenMs, l: a.lastSeenMs, events: a.events, silent: a.silent })))],
      );
    }
    for (const c of this.forward?.collectors.values() ?? []) {
      await db.query(
        `INSERT INTO logaudit_collectors (id, remote, connected, last_seen, batches, events, backlog_bytes)
         VALUES ($1, $2, $3, to_timestamp($4 / 1000.0), $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET remote = $2, connected = $3, last_seen = to_timestamp($4 / 1000.0), batches = $5, events = $6, backlog_bytes = $7`,
        [c.id, c.remote, c.connected, c.lastSeenMs, c.batches, c.events, c.backlogBytes],
      );
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flushing;
    this.tailer?.close();
    if (this.sftpTimer) clearInterval(this.sftpTimer);
    if (this.ftpTimer) clearInterval(this.ftpTimer);
    if (this.reportTimer) clearInterval(this.reportTimer);
    await this.reportRun;
    await this.sftpRun;
    await this.poller?.close();
    await this.ownPollDb?.close();
    await this.intake.close();
    for (const s of this.snmp) await s.close();
    await this.forward?.close();
    if (this.engine) {
      await this.engine.stop();
      await this.flush().catch(() => undefined);
    }
    await this.collector?.stop();
  }
}
