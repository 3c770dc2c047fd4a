// Types of qr.js (plain JS so the page ships without a TypeScript step), for the tests.
export interface QrSymbol {
  /** modules per side: 4 × version + 17 */
  readonly size: number;
  readonly version: number;
  readonly mask: number;
  /** modules[y * size + x] = 1 for a dark module */
  readonly modules: Uint8Array;
}
export function encodeQr(text: string, mask?: number): QrSymbol;
export function drawQr(canvas: unknown, qr: QrSymbol, scale: number, ink?: string): void;
