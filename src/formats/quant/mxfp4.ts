/**
 * MXFP4 (OCP microscaling FP4): blocks of 32 FP4 e2m1 values sharing one e8m0 exponent.
 *
 * moekit stores ggml's block_mxfp4 (17 bytes): the exponent byte e, then 16 bytes with element j in the
 * low nibble of byte j and element j + 16 in its high nibble. ggml keeps the e2m1 values doubled
 * (kvalues 0, 1, 2, 3, 4, 6, 8, 12 and their negatives) and halves the scale: value = kv · 2^(e − 128)
 * (e < 2: the float32 subnormals 2^−128, 2^−127), which equals e2m1 · 2^(e − 127).
 * Widening and quantization are bit-exact with gguf-py.
 *
 * gpt-oss checkpoints hold the same codes in another order (transformers' mxfp4 integration):
 * `*_blocks` uint8 [..., N, K/32, 16] with element 2j in the low nibble of byte j and 2j + 1 in the high
 * one, `*_scales` uint8 [..., N, K/32] holding e (value = e2m1 · 2^(e − 127)); mxfp4FromGptOss repacks them.
 */
import { fround } from "./common.js";

/** e2m1 codes as ggml's doubled integers. */
const KVALUES = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12] as const;

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** ggml's e8m0 → float32 with the halving folded in (GGML_E8M0_TO_FP32_HALF). */
export function e8m0Half(e: number): number {
  bits[0] = e < 2 ? 0x00200000 << e : (e - 1) << 23;
  return asFloat[0]!;
}

export function widenMxfp4(bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = offset + b * 17;
    const d = e8m0Half(bytes[at]!);
    const o = outOffset + b * 32;
    for (let j = 0; j < 16; j++) {
      const q = bytes[at + 1 + j]!;
      out[o + j] = fround(KVALUES[q & 15]! * d);
      out[o + j + 16] = fround(KVALUES[q >>> 4]! * d);
    }
  }
}

/** The code whose value (kv · d, in float32) is nearest to x; the first on ties. */
function nearestCode(x: number, d: number): number {
  let best = 0;
  let bestErr = Math.abs(fround(fround(KVALUES[0] * d) - x));
  for (let i = 1; i < 16; i++) {
    const err = Math.abs(fround(fround(KVALUES[i]! * d) - x));
    if (err < bestErr) {
      best = i;
      bestErr = err;
    }
  }
  return best;
}

/**
 * e = floor(log2(amax)) − 2 + 127 with log2 rounded to float32 as numpy and C's log2f do (a maximum just
 * below a power of two can round up to it). A block whose maximum is below 2^−125 gets a negative
 * exponent, which gguf-py's cast to uint8 wraps modulo 256 (its values then all quantize to code 0):
 * reproduced as is, so blocks stay bit-identical to gguf-py's.
 */
function blockExponent(amax: number): number {
  if (!(amax > 0)) return 0;
  return (Math.floor(fround(Math.log2(amax))) - 2 + 127) & 0xff;
}

export function quantizeMxfp4(x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number): void {
  const codes = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    const xi = xOffset + b * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xi + j]!));
    const e = blockExponent(amax);
    const d = e8m0Half(e);
    for (let j = 0; j < 32; j++) codes[j] = nearestCode(x[xi + j]!, d);
    const at = outOffset + b * 17;
    out[at] = e;
    for (let j = 0; j < 16; j++) out[at + 1 + j] = codes[j]! | (codes[j + 16]! << 4);
  }
}

/**
 * gpt-oss's packed MXFP4 → moekit mxfp4 blocks. `blocks` holds rows × (cols/32) × 16 bytes, `scales`
 * rows × (cols/32) exponents; `name` names the tensor in errors. Exponent 255 (NaN in the MX spec) is rejected.
 */
export function mxfp4FromGptOss(blocks: Uint8Array, scales: Uint8Array, rows: number, cols: number, name: string): Uint8Array {
  if (cols % 32 !== 0) throw new Error(`${name}: a row of ${cols} values is not a whole number of MXFP4 blocks of 32`);
  const groups = rows * (cols / 32);
  if (scales.length !== groups) throw new Error(`${name}: scales hold ${scales.length} exponents; [${rows}, ${cols / 32}] needs ${groups}`);
  if (blocks.length !== groups * 16) throw new Error(`${name}: blocks hold ${blocks.length} bytes; [${rows}, ${cols / 32}, 16] needs ${groups * 16}`);
  const out = new Uint8Array(groups * 17);
  const codes = new Uint8Array(32);
  for (let g = 0; g < groups; g++) {
    const e = scales[g]!;
    if (e === 255) throw new Error(`${name}: scale 255 (NaN in the MX spec) at row ${Math.floor(g / (cols / 32))}, block ${g % (cols / 32)}`);
    for (let j = 0; j < 16; j++) {
      const q = blocks[g * 16 + j]!;
      codes[2 * j] = q & 15;
      codes[2 * j + 1] = q >>> 4;
    }
    out[g * 17] = e;
    for (let j = 0; j < 16; j++) out[g * 17 + 1 + j] = codes[j]! | (codes[j + 16]! << 4);
  }
  return out;
}
