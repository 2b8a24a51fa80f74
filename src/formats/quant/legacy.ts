/**
 * ggml's blocks of 32 with one fp16 scale: Q8_0 (34 bytes: d, 32 int8), Q4_0 (18 bytes: d, 16 bytes of
 * nibbles, element j in the low nibble of byte j and element j + 16 in its high nibble, value q − 8) and
 * Q5_0 (22 bytes: d, a little-endian uint32 of fifth bits, the nibbles as Q4_0, value q − 16).
 * Widening and quantization are bit-exact with gguf-py (gguf.quants), which matches ggml's reference
 * C code: every operation in float32, in the same order.
 */
import { fround, readHalf, roundAway, truncLowByte, writeHalf } from "./common.js";

export function widenQ8_0(bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = offset + b * 34;
    const d = readHalf(bytes, at);
    const o = outOffset + b * 32;
    for (let j = 0; j < 32; j++) out[o + j] = fround(((bytes[at + 2 + j]! << 24) >> 24) * d);
  }
}

export function widenQ4_0(bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = offset + b * 18;
    const d = readHalf(bytes, at);
    const o = outOffset + b * 32;
    for (let j = 0; j < 16; j++) {
      const q = bytes[at + 2 + j]!;
      out[o + j] = fround(((q & 15) - 8) * d);
      out[o + j + 16] = fround(((q >>> 4) - 8) * d);
    }
  }
}

export function widenQ5_0(bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = offset + b * 22;
    const d = readHalf(bytes, at);
    const qh = bytes[at + 2]! | (bytes[at + 3]! << 8) | (bytes[at + 4]! << 16) | (bytes[at + 5]! << 24);
    const o = outOffset + b * 32;
    for (let j = 0; j < 16; j++) {
      const q = bytes[at + 6 + j]!;
      out[o + j] = fround((((q & 15) | (((qh >>> j) & 1) << 4)) - 16) * d);
      out[o + j + 16] = fround((((q >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d);
    }
  }
}

/** Index of the first value of largest magnitude in x[at, at + n). */
function argAbsMax(x: Float32Array, at: number, n: number): number {
  let best = at;
  let amax = 0;
  for (let j = at; j < at + n; j++) {
    const a = Math.abs(x[j]!);
    if (a > amax) {
      amax = a;
      best = j;
    }
  }
  return best;
}

export function quantizeQ8_0(x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number): void {
  for (let b = 0; b < blocks; b++) {
    const xi = xOffset + b * 32;
    const at = outOffset + b * 34;
    const amax = Math.abs(x[argAbsMax(x, xi, 32)]!);
    const d = fround(amax / 127);
    const id = d === 0 ? 0 : fround(1 / d);
    writeHalf(out, at, d);
    for (let j = 0; j < 32; j++) out[at + 2 + j] = truncLowByte(roundAway(fround(x[xi + j]! * id)));
  }
}

/** Q4_0 (bits 4, offset 8) and Q5_0 (bits 5, offset 16): q = trunc(x / d + offset + 0.5), d = max / −offset. */
function offsetCodes(x: Float32Array, xi: number, offset: number, codes: Uint8Array): number {
  const max = x[argAbsMax(x, xi, 32)]!;
  const d = fround(max / -offset);
  const id = d === 0 ? 0 : fround(1 / d);
  const half = offset + 0.5;
  const top = 2 * offset - 1;
  for (let j = 0; j < 32; j++) codes[j] = Math.min(top, truncLowByte(Math.trunc(fround(fround(x[xi + j]! * id) + half))));
  return d;
}

export function quantizeQ4_0(x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number): void {
  const codes = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    const at = outOffset + b * 18;
    writeHalf(out, at, offsetCodes(x, xOffset + b * 32, 8, codes));
    for (let j = 0; j < 16; j++) out[at + 2 + j] = codes[j]! | (codes[j + 16]! << 4);
  }
}

export function quantizeQ5_0(x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number): void {
  const codes = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    const at = outOffset + b * 22;
    writeHalf(out, at, offsetCodes(x, xOffset + b * 32, 16, codes));
    let qh = 0;
    for (let j = 0; j < 32; j++) qh |= (codes[j]! >>> 4) << j;
    out[at + 2] = qh & 0xff;
    out[at + 3] = (qh >>> 8) & 0xff;
    out[at + 4] = (qh >>> 16) & 0xff;
    out[at + 5] = (qh >>> 24) & 0xff;
    for (let j = 0; j < 16; j++) out[at + 6 + j] = (codes[j]! & 15) | ((codes[j + 16]! & 15) << 4);
  }
}
