import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** test/fixtures/quant/ (written by scripts/quant-fixtures.py; see its README). */
export const QUANT_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "quant");

export function quantFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(QUANT_FIXTURES, name), "utf8")) as T;
}

export function bytes(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, "base64"));
}

export function floats(b64: string): Float32Array {
  const b = bytes(b64);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/**
 * Index of the first element where a and b differ, or −1: bit for bit (−0 differs from +0) except that
 * any NaN equals any NaN; with `signedZero` false, ±0 are equal too.
 */
export function firstBitDifference(a: Float32Array, b: Float32Array, signedZero = true): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const same = signedZero ? Object.is(x, y) : x === y;
    if (!same && !(Number.isNaN(x) && Number.isNaN(y))) return i;
  }
  return -1;
}

export function firstByteDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
