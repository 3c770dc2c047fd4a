import { existsSync } from 'node:fs';
import ExcelJS from 'exceljs';
import PDFDocument from 'pdfkit';

/**
 * The log audit report (per day, per device, per rule) as XLSX and PDF,
 * in Chinese. The PDF embeds WenQuanYi Micro Hei (Debian fonts-wqy-microhei)
 * so Chinese prints; without that font it falls back to Helvetica and says so.
 */
export interface ReportData {
  generatedAt: string;
  days: { day: string; events: number }[];
  devices: { ip: string; hostName: string | null; dataset: string; events: number; silent: boolean }[];
  rules: { rule: string; zh: string; alerts: number }[];
}

export async function reportXlsx(r: ReportData): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.created = new Date(r.generatedAt);
  const d = wb.addWorksheet('每日入库');
  d.columns = [{ header: '日期（北京时间）', key: 'day', width: 18 }, { header: '日志条数', key: 'events', width: 14 }];
  r.days.forEach((x) => d.addRow(x));
  const v = wb.addWorksheet('设备');
  v.columns = [
    { header: '设备地址', key: 'ip', width: 20 }, { header: '主机名', key: 'hostName', width: 20 }, { header: '数据集', key: 'dataset', width: 20 },
    { header: '日志条数', key: 'events', width: 12 }, { header: '状态', key: 'state', width: 10 },
  ];
  r.devices.forEach((x) => v.addRow({ ...x, hostName: x.hostName ?? '', state: x.silent ? '静默' : '正常' }));
  const ru = wb.addWorksheet('规则告警');
  ru.columns = [{ header: '规则', key: 'zh', width: 40 }, { header: '规则编号', key: 'rule', width: 32 }, { header: '告警次数', key: 'alerts', width: 12 }];
  r.rules.forEach((x) => ru.addRow(x));
  for (const ws of [d, v, ru]) ws.getRow(1).font = { bold: true };
  return Buffer.from(await wb.xlsx.writeBuffer());
}

const FONT = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';

export function reportPdf(r: ReportData): Promise<Buffer> {
  return new Promise((res, rej) => {
    const doc = new PDFDocument({ size: 'A4', margin: 48 });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => res(Buffer.concat(chunks)));
    doc.on('error', rej);
    if (existsSync(FONT)) doc.font(FONT, 'WenQuanYiMicroHei');
    doc.fontSize(18).text('日志审计报表');
    doc.fontSize(10).text(`生成时间：${r.generatedAt}（北京时间）`).moveDown();
    doc.fontSize(13).text('每日入库量').fontSize(10);
    const max = Math.max(1, ...r.days.map((x) => x.events));
    for (const x of r.days) {
      const y = doc.y;
      doc.text(`${x.day}`, 48, y, { width: 80 });
      doc.rect(130, y + 2, Math.max(1, (x.events / max) * 300), 8).fill('#2563eb').fillColor('black');
      doc.text(String(x.events), 440, y);
      doc.moveDown(0.3);
    }
    doc.moveDown().fontSize(13).text('设备（按日志量）', 48).fontSize(10);
    for (const x of r.devices.slice(0, 30)) doc.text(`${x.ip}  ${x.hostName ?? ''}  ${x.dataset}  ${x.events} 条  ${x.silent ? '静默' : '正常'}`);
    doc.moveDown().fontSize(13).text('规则告警').fontSize(10);
    if (r.rules.length === 0) doc.text('统计期内无告警');
    for (const x of r.rules) doc.text(`${x.zh}：${x.alerts} 次`);
    doc.end();
  });
}
