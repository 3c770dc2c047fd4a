import { existsSync } from 'node:fs';
import PDFDocument from 'pdfkit';
import type { Venue } from '../core/code-record.js';
import { regionName } from '../core/regions.js';
import { AdminError } from './errors.js';
import { placeCodePng, placeCodeText } from './place-code.js';

/**
 * 场所码海报: an A4 PDF to print and post at the entrance (issue 15) — the
 * venue's name, its region by name, the QR (large: scanned from a step
 * away), the place-code text for typing when the camera fails, and the
 * instructions a citizen needs. Chinese text needs a CJK font embedded:
 * WenQuanYi Micro Hei (Debian fonts-wqy-microhei), or HC_POSTER_FONT.
 */
export const POSTER_FONT = process.env.HC_POSTER_FONT ?? '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';

const A4: [number, number] = [595.28, 841.89]; // points

export async function venuePosterPdf(v: Venue, fontPath = POSTER_FONT): Promise<Buffer> {
  if (!existsSync(fontPath)) throw new AdminError('ADM_ERR_CONFIG', `poster font ${fontPath} not found (install fonts-wqy-microhei or set HC_POSTER_FONT)`);
  const png = await placeCodePng(v.id, 16);
  const doc = new PDFDocument({ size: A4, margin: 48, info: { Title: `${v.name} 场所码`, Author: '健康码管理后台' } });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  // a .ttc holds several faces: name the one to embed
  if (fontPath.endsWith('.ttc')) doc.registerFont('cjk', fontPath, process.env.HC_POSTER_FONT_FACE ?? 'WenQuanYiMicroHei');
  else doc.registerFont('cjk', fontPath);
  doc.font('cjk');
  const w = A4[0] - 96;
  doc.rect(0, 0, A4[0], 110).fill('#0f3d91');
  doc.fillColor('#ffffff').fontSize(34).text('场所码', 48, 30, { width: w, align: 'center' });
  doc.fontSize(14).text('进入前请扫码登记', 48, 76, { width: w, align: 'center' });
  doc.fillColor('#111827').fontSize(26).text(v.name, 48, 140, { width: w, align: 'center' });
  doc.fillColor('#4b5563').fontSize(14).text(regionName(v.region), 48, doc.y + 6, { width: w, align: 'center' });
  const size = 330;
  const top = doc.y + 24;
  doc.image(png, (A4[0] - size) / 2, top, { width: size, height: size });
  doc.fillColor('#111827').fontSize(12).text(`场所编号：${placeCodeText(v.id)}`, 48, top + size + 12, { width: w, align: 'center' });
  const lines = [
    '1. 打开健康码页面，点击“扫场所码”，对准上方二维码扫描；',
    '2. 相机无法使用时，可在“扫场所码”中输入上方场所编号；',
    '3. 请向工作人员出示扫码结果，绿码通行，黄码、红码请听从工作人员安排。',
  ];
  if (v.kind === 'entry') lines.push(`4. 本处为入川卡口：入川人员请在 ${v.entryTestHours ?? 24} 小时内完成核酸检测。`);
  doc.fontSize(13).fillColor('#1f2937');
  let y = doc.y + 24;
  for (const l of lines) {
    doc.text(l, 72, y, { width: w - 48 });
    y = doc.y + 8;
  }
  doc.fontSize(10).fillColor('#6b7280').text('如有疑问请拨打 12345 政务服务便民热线', 48, A4[1] - 72, { width: w, align: 'center' });
  doc.end();
  return done;
}
