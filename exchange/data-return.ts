import ExcelJS from 'exceljs';
import type { Writable } from 'node:stream';
import { maskIdNo, maskName, maskPhone } from '../core/identity.js';
import { regionName } from '../core/regions.js';
import type { PiiCrypto } from '../master/pii-crypto.js';
import type { SqlClient } from '../master/sql-client.js';

/**
 * Masked data return (智能数据返还), first slice: the processed rows of a
 * batch that concern one region (the person's GB/T 2260 residence starts
 * with the prefix), statically masked — certificate 5101**********106X,
 * name 张*三, phone 138****5678 — as XLSX, each return recorded in
 * exchange_returns (who took which batch for which region, how many rows),
 * so a city's to-do list and the province's monitoring can see what was
 * returned to whom. Rows are read back from what the import wrote: facts
 * and vaccinations by their lineage `<batch>:<row>`, identities decrypted
 * only to be masked.
 */
export const ID_TYPE_ZH: Record<string, string> = {
  resident: '居民身份证', passport: '护照', hk_macau: '港澳居民来往内地通行证', taiwan: '台湾居民来往大陆通行证', foreign_permanent: '外国人永久居留身份证',
};
export const KIND_ZH: Record<string, string> = {
  nucleic_acid: '核酸检测', confirmed: '确诊', suspected: '疑似', close_contact: '密接', secondary_contact: '次密接', entry: '入川', vaccination: '疫苗接种',
};
export const RESULT_ZH: Record<string, string> = { negative: '阴性', positive: '阳性' };

interface Row {
  ref: string; kind: string; at: Date; result: string | null; uid: Buffer; cert_type: string | null; cert_enc: Buffer | null;
  phone_enc: Buffer | null; name_enc: Buffer | null; name_masked: string; region: string | null;
}

export function chinaTime(d: Date): string {
  return new Date(new Date(d).getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** Streams the masked rows of `batchId` for `regionPrefix` ('' = all) to `out`; returns the row count (recorded). */
export async function writeMaskedReturn(
  db: SqlClient, crypto: PiiCrypto, batchId: string, regionPrefix: string, actor: string, out: Writable,
): Promise<number> {
  const r = await db.query<Row>(
    `SELECT x.ref, x.kind, x.at, x.result, p.uid, p.cert_type, p.cert_enc, p.phone_enc, p.name_enc, p.name_masked, p.region
       FROM (SELECT source_ref AS ref, person_id, kind, at, result FROM facts WHERE source_ref LIKE $1
             UNION ALL
             SELECT source_ref, person_id, 'vaccination', at, NULL FROM exchange_vaccinations WHERE source_ref LIKE $1) x
       JOIN persons p ON p.id = x.person_id
      WHERE $2 = '' OR p.region LIKE $2 || '%'
      ORDER BY split_part(x.ref, ':', 2)::int`,
    [`${batchId}:%`, regionPrefix],
  );
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: false });
  const ws = wb.addWorksheet('返还数据');
  ws.addRow(['行号', '证件类型', '证件号码', '姓名', '手机号', '所在地区', '事项', '时间', '结果']).commit();
  for (const x of r.rows) {
    const uid = Buffer.from(x.uid);
    const cert = x.cert_enc === null ? '' : maskIdNo(crypto.decrypt('cert', uid, Buffer.from(x.cert_enc)));
    const phone = x.phone_enc === null ? '' : maskPhone(crypto.decrypt('phone', uid, Buffer.from(x.phone_enc)));
    const name = x.name_enc === null ? x.name_masked : maskName(crypto.decrypt('name', uid, Buffer.from(x.name_enc)));
    ws.addRow([
      Number(x.ref.split(':')[1]), x.cert_type === null ? '' : ID_TYPE_ZH[x.cert_type] ?? '', cert, name, phone,
      x.region === null ? '' : regionName(x.region), KIND_ZH[x.kind] ?? '', chinaTime(x.at), x.result === null ? '' : RESULT_ZH[x.result] ?? '',
    ]).commit();
  }
  ws.commit();
  await wb.commit();
  await db.query('INSERT INTO exchange_returns (batch_id, region, actor, rows) VALUES ($1, $2, $3, $4)', [batchId, regionPrefix, actor, r.rows.length]);
  return r.rows.length;
}
