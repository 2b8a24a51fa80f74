/**
 * FP8 e4m3 (float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN, largest finite ±448) with block
 * scales, as DeepSeek-V3 and Qwen3 "-FP8" checkpoints ship it: `weight` e4m3 [N, K] and
 * `weight_scale_inv` float32 [ceil(N/128), ceil(K/128)], W[n][k] = weight[n][k] · scale_inv[n/128][k/128].
 *
 * moekit's fp8_e4m3_b128 keeps it row-blocked so a row can be read alone: each row is K/128 blocks of
 * 132 bytes, the block's float32 scale (little-endian) then its 128 e4m3 codes; a 128×128 tile's scale
 * is repeated in each of its rows (3% more bytes than the checkpoint). Widening is value · scale in
 * float32, exactly transformers' fine-grained FP8 dequantization. Rows must be whole blocks (K a
 * multiple of 128, true of the checkpoints above); N may be anything (the last tile row is partial).
 */
import { fround, rint } from "./common.js";

const E4M3 = new Float32Array(256);
for (let c = 0; c < 256; c++) {
  const e = (c >>> 3) & 15;
  const m = c & 7;
  const mag = e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7);
  E4M3[c] = (c & 0x7f) === 0x7f ? NaN : c & 0x80 ? -mag : mag;
}

/** The value of e4m3 code c. */
export function e4m3ToFloat(c: number): number {
  return E4M3[c & 0xff]!;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → e4m3 code, round to nearest even, saturating to ±448 (NaN is an error for the caller). */
export function floatToE4m3(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  let a = Math.abs(fround(x));
  if (a >= 448) return sign | 0x7e;
  if (a < 2 ** -6) {
    // subnormal codes 0..7 step 2^-9; a rounding up to 8 is the smallest normal, code 8
    return sign | rint(a * 512);
  }
  f32[0] = a;
  const e = ((u32[0]! >>> 23) & 0xff) - 127;
  a = rint(a * 2 ** (3 - e)); // in [8, 16]: 16 carries into the next exponent
  return sign | Math.min(0x7e, (e + 7) * 8 + a - 8);
}

export function widenFp8(bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = offset + b * 132;
    const s = view.getFloat32(at, true);
    const o = outOffset + b * 128;
    for (let j = 0; j < 128; j++) out[o + j] = fround(E4M3[bytes[at + 4 + j]!]! * s);
  }
}

/** Per block: scale = amax / 448, codes = e4m3(x / scale). */
export function quantizeFp8(x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < blocks; b++) {
    const xi = xOffset + b * 128;
    const at = outOffset + b * 132;
    let amax = 0;
    for (let j = 0; j < 128; j++) amax = Math.max(amax, Math.abs(x[xi + j]!));
    const s = fround(amax / 448);
    view.setFloat32(at, s, true);
    for (let j = 0; j < 128; j++) out[at + 4 + j] = s === 0 ? 0 : floatToE4m3(fround(x[xi + j]! / s));
  }
}

/**
 * A checkpoint's FP8 weight → fp8_e4m3_b128 rows. `weight` holds N·K e4m3 codes, `scaleInv`
 * ceil(N/128)·ceil(K/128) float32 scales; `name` names the tensor in errors.
 */
export function fp8FromCheckpoint(weight: Uint8Array, scaleInv: Float32Array, n: number, k: number, name: string): Uint8Array {
  if (k % 128 !== 0) throw new Error(`${name}: rows of ${k} values; moekit's fp8_e4m3_b128 needs a multiple of 128`);
  if (weight.length !== n * k) throw new Error(`${name}: holds ${weight.length} e4m3 values; [${n}, ${k}] needs ${n * k}`);
  const sn = Math.ceil(n / 128);
  const sk = k / 128;
  if (scaleInv.length !== sn * sk) {
    throw new Error(`${name}: weight_scale_inv holds ${scaleInv.length} scales; 128x128 tiles of [${n}, ${k}] need [${sn}, ${sk}]`);
  }
  for (let i = 0; i < scaleInv.length; i++) {
    if (!Number.isFinite(scaleInv[i]!)) throw new Error(`${name}: weight_scale_inv[${Math.floor(i / sk)}][${i % sk}] = ${scaleInv[i]} is not finite`);
  }
  const out = new Uint8Array(n * sk * 132);
  const view = new DataView(out.buffer);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < sk; b++) {
      const at = (r * sk + b) * 132;
      view.setFloat32(at, scaleInv[Math.floor(r / 128) * sk + b]!, true);
      const src = r * k + b * 128;
      for (let j = 0; j < 128; j++) {
        const c = weight[src + j]!;
        if ((c & 0x7f) === 0x7f) throw new Error(`${name}: NaN e4m3 code 0x${c.toString(16)} at row ${r}, column ${b * 128 + j}`);
        out[at + 4 + j] = c;
      }
    }
  }
  return out;
}
