import iconv from 'iconv-lite';
import { rid, type Fixture } from '../admin-api/admin-fixture.common.js';
import type { CapabilityHost } from '../admin-api/capability.js';

/** Helpers shared by the exchange tests (not a test file: `.common.ts`). */
export const NAT_HEADER = 'idType,idNo,name,phone,sampledAt,result,lab';
export const NAT_HEADER_ZH = '证件类型,证件号码,姓名,手机号,采样时间,检测结果,检测机构';

/** A valid resident ID of Chengdu (510104), born 1980 + (n / 300), unique per n < 90 000. */
export function residentId(n: number): string {
  const year = 1950 + (n % 50);
  const day = 1 + ((n >> 3) % 28);
  const seq = String(n % 1000).padStart(3, '0');
  const month = 1 + (Math.floor(n / 1000) % 12);
  return rid(`510104${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${seq}`);
}

export function csv(lines: readonly string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

export function gb18030(text: string): Buffer {
  return iconv.encode(text, 'gb18030');
}

/** POST /admin/v1/imports as a browser form would. */
export async function upload(
  f: Fixture, token: string, file: { name: string; data: Buffer | string } | null, fields: Record<string, string>,
): Promise<{ status: number; body: any }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file !== null) form.append('file', new Blob([typeof file.data === 'string' ? Buffer.from(file.data) : file.data]), file.name);
  const res = await fetch(`${f.base}/admin/v1/imports`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}

/** The host a capability gets, rebuilt from a fixture (to create a second instance: a restart). */
export function hostOf(f: Fixture): CapabilityHost {
  return {
    db: f.db, store: f.store, codes: f.codes, rules: f.rules, audit: f.audit, users: f.users, secrets: f.secrets, dataDir: f.dataDir,
    mode: 'embedded', nowMs: () => f.clock.ms, log: () => undefined, committed: () => undefined,
  };
}

/** China wall clock 'YYYY-MM-DD HH:mm:ss' of unix ms. */
export function chinaTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}
