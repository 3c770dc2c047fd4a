// The parts of net-snmp (no bundled types) the trap receiver uses.
declare module 'net-snmp' {
  export interface Varbind { oid: string; type: number; value: unknown }
  export interface Notification {
    pdu: { type: number; varbinds: Varbind[]; enterprise?: string; specificTrap?: number; genericTrap?: number; community?: string; user?: string };
    rinfo: { address: string; port: number; family: string };
    user?: string;
    community?: string;
  }
  export interface ReceiverOptions {
    port?: number;
    address?: string | null;
    transport?: 'udp4' | 'udp6';
    disableAuthorization?: boolean;
    includeAuthentication?: boolean;
    engineID?: string;
  }
  export interface V3User { name: string; level: number; authProtocol?: number; authKey?: string; privProtocol?: number; privKey?: string }
  export interface Authorizer { addCommunity(c: string): void; addUser(u: V3User): void }
  export interface Receiver { getAuthorizer(): Authorizer; close(cb?: () => void): void }
  export function createReceiver(options: ReceiverOptions, cb: (err: (Error & { rinfo?: { address: string } }) | null, n: Notification | null) => void): Receiver;
  export const SecurityLevel: { noAuthNoPriv: number; authNoPriv: number; authPriv: number };
  export const AuthProtocols: { md5: number; sha: number };
  export const PrivProtocols: { des: number; aes: number };
  const snmp: {
    createReceiver: typeof createReceiver;
    SecurityLevel: typeof SecurityLevel;
    AuthProtocols: typeof AuthProtocols;
    PrivProtocols: typeof PrivProtocols;
  };
  export default snmp;
}
