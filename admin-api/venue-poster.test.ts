import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { venuePosterPdf } from './venue-poster.js';

/** The printable place-code poster: one A4 page with the Chinese font embedded and the QR image. */
describe('venue poster', () => {
  it('is a one-page A4 PDF with the CJK font embedded and the QR drawn', async () => {
    const pdf = await venuePosterPdf({ id: 'VPOSTERTEST01', name: '春熙路步行街', region: '510104', kind: 'entry', entryTestHours: 24 });
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-')).toBe(true);
    expect(text).toMatch(/\/MediaBox \[0 0 595\.28 841\.89\]/);
    expect(text.match(/\/Type \/Page\b/g)?.length).toBe(1);
    expect(text).toMatch(/\/BaseFont \/[A-Z]{6}\+WenQuanYi/);
    expect(text).toContain('/Subtype /Image');
    // the page's text is drawn with the embedded font (hex glyph strings), not left empty
    const streams = [...text.matchAll(/stream\r?\n([\s\S]*?)endstream/g)].map((m) => {
      try {
        return inflateSync(Buffer.from(m[1]!, 'latin1')).toString('latin1');
      } catch {
        return '';
      }
    });
    expect(streams.some((s) => /<[0-9a-f]{8,}>/.test(s) && s.includes('Tf'))).toBe(true);
  });

  it('refuses without the font, naming it', async () => {
    await expect(venuePosterPdf({ id: 'V1', name: 'x', region: '510104', kind: 'normal', entryTestHours: null }, '/nope.ttc')).rejects.toMatchObject({ code: 'ADM_ERR_CONFIG' });
  });
});
