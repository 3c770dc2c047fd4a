import snmp, { type Receiver } from 'net-snmp';
import type { RawMessage } from './normalise.js';

/**
 * SNMP traps (v1, v2c, v3 with USM users) through net-snmp's receiver. A
 * trap becomes one line in the pipeline's own text form, so it is spooled,
 * stored, searched and correlated like any syslog message
 * (decoders/snmp-trap.yaml decodes it):
 *
 *   <133>1 2026-12-07T02:00:00.000Z 10.0.0.1 snmptrap - TRAP - version=2c trapOID=1.3.6.1.6.3.1.1.5.3 community=pu**** varbinds="1.3.6.1.2.1.2.2.1.1.2=2"
 *
 * The community is masked (it is a shared secret); traps failing
 * authorisation (unknown community or user, bad digest) are counted.
 */
export interface SnmpIntakeOptions {
  host: string;
  port: number;
  community: string;
  users: { user: string; authProtocol: 'sha' | 'md5'; authKey: string; privProtocol: 'aes' | 'des' | null; privKey: string | null }[];
  /** hex engine id the v3 senders address (snmptrap -e) */
  engineID?: string;
  now: () => number;
  sink: (m: RawMessage) => void;
  onRejected: (from: string) => void;
}

const TRAP_OID = '1.3.6.1.6.3.1.1.4.1.0';

function mask(s: string): string {
  return s.length <= 2 ? '**' : `${s.slice(0, 2)}${'*'.repeat(Math.min(8, s.length - 2))}`;
}

function val(v: unknown): string {
  if (Buffer.isBuffer(v)) {
    const printable = v.every((b) => b >= 0x20 && b < 0x7f);
    return printable ? v.toString('latin1') : v.toString('hex');
  }
  return String(v);
}

export class SnmpTrapIntake {
  private receiver: Receiver | null = null;

  constructor(private readonly o: SnmpIntakeOptions) {}

  start(): void {
    const v6 = this.o.host.includes(':');
    this.receiver = snmp.createReceiver(
      {
        port: this.o.port, address: this.o.host, transport: v6 ? 'udp6' : 'udp4', includeAuthentication: true,
        ...(this.o.engineID ? { engineID: this.o.engineID } : {}),
      },
      (err, n) => {
        if (err || !n) {
          this.o.onRejected(err?.rinfo?.address ?? 'unknown');
          return;
        }
        const at = this.o.now();
        const vbs = n.pdu.varbinds;
        const trapOid = vbs.find((v) => v.oid === TRAP_OID);
        const rest = vbs.filter((v) => v.oid !== TRAP_OID && v.oid !== '1.3.6.1.2.1.1.3.0');
        // includeAuthentication puts them on the PDU (net-snmp 3.x); older versions on the notification
        const user = n.pdu.user ?? n.user;
        const community = n.pdu.community ?? n.community;
        const version = user !== undefined ? '3' : '2c';
        const who = user !== undefined ? `user=${user}` : `community=${mask(community ?? '')}`;
        const oid = trapOid ? val(trapOid.value) : n.pdu.enterprise ?? 'unknown';
        const vb = rest.map((v) => `${v.oid}=${val(v.value).replace(/["\n]/g, ' ')}`).join('; ');
        const from = n.rinfo.address.startsWith('::ffff:') ? n.rinfo.address.slice(7) : n.rinfo.address;
        const line = `<133>1 ${new Date(at).toISOString()} ${from} snmptrap - TRAP - version=${version} trapOID=${oid} ${who} varbinds="${vb}"`;
        this.o.sink({ bytes: Buffer.from(line), from, transport: 'snmp', receivedMs: at });
      },
    );
    const auth = this.receiver.getAuthorizer();
    auth.addCommunity(this.o.community);
    for (const u of this.o.users) {
      auth.addUser({
        name: u.user,
        level: u.privProtocol ? snmp.SecurityLevel.authPriv : snmp.SecurityLevel.authNoPriv,
        authProtocol: u.authProtocol === 'sha' ? snmp.AuthProtocols.sha : snmp.AuthProtocols.md5,
        authKey: u.authKey,
        ...(u.privProtocol ? { privProtocol: u.privProtocol === 'aes' ? snmp.PrivProtocols.aes : snmp.PrivProtocols.des, privKey: u.privKey! } : {}),
      });
    }
  }

  async close(): Promise<void> {
    const r = this.receiver;
    this.receiver = null;
    if (r) await new Promise<void>((res) => { try { r.close(() => res()); } catch { res(); } setTimeout(res, 200).unref(); });
  }
}
