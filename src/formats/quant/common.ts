/**
 * Helpers shared by the block codecs: float32 arithmetic as C and numpy do it (Math.fround after each
 * operation is exact: a double result of +, −, ×, ÷ on float32 inputs rounds to the float32 result),
 * ggml's rounding functions, fp16 scales read from and written to block bytes.
 */
import { f16BitsToNumber, toF16Bits } from "../../dtype.js";

export const fround = Math.fround;

/** A double rounded to the nearest integer, ties to even (ggml's nearest_int without its float32 step). */
export function rint(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** C's roundf (and gguf-py's np_roundf): halves away from zero. */
export function roundAway(x: number): number {
  return x < 0 ? -Math.floor(0.5 - x) : Math.floor(x + 0.5);
}

/**
 * A float32 value converted to an integer type as x86 does (cvttss2si): truncated toward zero, and
 * NaN or out-of-range values give the "integer indefinite" 0x80000000, whose low byte is 0. numpy's
 * casts (and so gguf-py's quantizers) behave this way on the scales that underflow.
 */
export function truncLowByte(x: number): number {
  if (!Number.isFinite(x) || x >= 2 ** 31 || x < -(2 ** 31)) return 0;
  return Math.trunc(x) & 0xff;
}

let halfTable: Float32Array | undefined;

/** fp16 bits → float32 value, through a 65536-entry table built on first use. */
export function halfToFloat(bits: number): number {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = f16BitsToNumber(h);
  }
  return halfTable[bits]!;
}

/** The fp16 value stored little-endian at bytes[at]. */
export function readHalf(bytes: Uint8Array, at: number): number {
  return halfToFloat(bytes[at]! | (bytes[at + 1]! << 8));
}

/** Stores float32 `x` at bytes[at] as fp16 (round to nearest even) and returns the stored value. */
export function writeHalf(bytes: Uint8Array, at: number, x: number): number {
  const h = toF16Bits(x);
  bytes[at] = h & 0xff;
  bytes[at + 1] = h >>> 8;
  return halfToFloat(h);
}

/** Throws naming the first non-finite value of `values` (rows of `cols`, the first being row `firstRow`). */
export function checkFinite(values: Float32Array, cols: number, what: string, firstRow = 0): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new Error(`${what}: value ${values[i]} at row ${firstRow + Math.floor(i / cols)}, column ${i % cols} is not finite; only finite floats can be quantized`);
    }
  }
}

/** Encodes whole blocks: writes `blocks` blocks of `x` from x[xOffset ..] into out[outOffset ..]. */
export type BlockQuantize = (x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number) => void;
