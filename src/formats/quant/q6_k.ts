/**
 * ggml Q6_K: super-blocks of 256 values in 210 bytes — 128 bytes of low nibbles (ql), 64 bytes of
 * 2-bit high parts (qh), 16 int8 sub-block scales, fp16 d. For each half h of 128 values and l < 32:
 * values 128h + l, + 32, + 64, + 96 take the low nibble of ql[64h + l], of ql[64h + 32 + l], the high
 * nibble of ql[64h + l], of ql[64h + 32 + l], and bits 0–1, 2–3, 4–5, 6–7 of qh[32h + l]; value i widens
 * to (d·sc[i/16])·(q − 32). Widening is bit-exact with gguf-py; the quantizer follows llama.cpp's
 * reference (no importance matrix): per sub-block of 16 the scale with the best x²-weighted fit over 19
 * candidate inverse scales, then 8-bit scale codes relative to the largest.
 */
import { fround, readHalf, rint, writeHalf } from "./common.js";

export function widenQ6_K(bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  const ds = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const at = offset + b * 210;
    const d = readHalf(bytes, at + 208);
    for (let s = 0; s < 16; s++) ds[s] = fround(d * ((bytes[at + 192 + s]! << 24) >> 24));
    for (let h = 0; h < 2; h++) {
      const ql = at + 64 * h;
      const qh = at + 128 + 32 * h;
      const o = outOffset + b * 256 + 128 * h;
      for (let l = 0; l < 32; l++) {
        const a = bytes[ql + l]!;
        const c = bytes[ql + 32 + l]!;
        const hi = bytes[qh + l]!;
        const s = 8 * h + (l >>> 4);
        out[o + l] = fround(ds[s]! * (((a & 15) | ((hi & 3) << 4)) - 32));
        out[o + 32 + l] = fround(ds[s + 2]! * (((c & 15) | (((hi >>> 2) & 3) << 4)) - 32));
        out[o + 64 + l] = fround(ds[s + 4]! * (((a >>> 4) | (((hi >>> 4) & 3) << 4)) - 32));
        out[o + 96 + l] = fround(ds[s + 6]! * (((c >>> 4) | (((hi >>> 6) & 3) << 4)) - 32));
      }
    }
  }
}

const EPS = 1e-15;

/**
 * Signed scale for x[at, at + 16) with codes l in [−32, 31] (stored in L as l + 32), maximising the
 * x²-weighted fit Σw·x·l / sqrt(Σw·l²) over inverse scales −(32 + 0.1·i)/max, i in [−9, 9]. (Codes of
 * the search round half up, Math.round, where ggml rounds half to even: either is as close.)
 */
function subBlockScale(x: Float32Array, at: number, L: Int8Array, lAt: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < 16; i++) {
    const a = Math.abs(x[at + i]!);
    if (a > amax) {
      amax = a;
      max = x[at + i]!;
    }
  }
  if (amax < EPS) {
    L.fill(0, lAt, lAt + 16);
    return 0;
  }
  let scale = 0;
  let best = -1;
  for (let step = 0; step <= 18; step++) {
    // the unshifted candidate first, as the reference does
    const shift = step === 0 ? 0 : step <= 9 ? step - 10 : step - 9;
    const iscale = -(32 + 0.1 * shift) / max;
    let sumLX = 0;
    let sumL2 = 0;
    for (let i = 0; i < 16; i++) {
      const v = x[at + i]!;
      const l = Math.max(-32, Math.min(31, Math.round(iscale * v)));
      const w = v * v;
      sumLX += w * v * l;
      sumL2 += w * l * l;
    }
    if (step === 0 ? true : sumL2 > 0 && sumLX * sumLX > best * sumL2) {
      for (let i = 0; i < 16; i++) L[lAt + i] = Math.max(-32, Math.min(31, Math.round(iscale * x[at + i]!))) + 32;
      scale = sumL2 ? sumLX / sumL2 : 0;
      best = scale * sumLX;
    }
  }
  return scale;
}

export function quantizeQ6_K(x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number): void {
  const L = new Int8Array(256);
  const scales = new Float64Array(16);
  for (let b = 0; b < blocks; b++) {
    const xi = xOffset + b * 256;
    const at = outOffset + b * 210;
    let maxScale = 0;
    let maxAbs = 0;
    for (let s = 0; s < 16; s++) {
      scales[s] = subBlockScale(x, xi + 16 * s, L, 16 * s);
      if (Math.abs(scales[s]!) > maxAbs) {
        maxAbs = Math.abs(scales[s]!);
        maxScale = scales[s]!;
      }
    }
    out.fill(0, at, at + 210);
    if (maxAbs < EPS) continue;
    const iscale = -128 / maxScale;
    const d = writeHalf(out, at + 208, 1 / iscale);
    for (let s = 0; s < 16; s++) out[at + 192 + s] = Math.max(-128, Math.min(127, rint(iscale * scales[s]!))) & 0xff;
    for (let s = 0; s < 16; s++) {
      const ds = d * ((out[at + 192 + s]! << 24) >> 24);
      if (ds === 0) continue;
      for (let i = 0; i < 16; i++) L[16 * s + i] = Math.max(-32, Math.min(31, rint(x[xi + 16 * s + i]! / ds))) + 32;
    }
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const k = 128 * h + l;
        const q1 = L[k]!;
        const q2 = L[k + 32]!;
        const q3 = L[k + 64]!;
        const q4 = L[k + 96]!;
        out[at + 64 * h + l] = (q1 & 15) | ((q3 & 15) << 4);
        out[at + 64 * h + 32 + l] = (q2 & 15) | ((q4 & 15) << 4);
        out[at + 128 + 32 * h + l] = (q1 >>> 4) | ((q2 >>> 4) << 2) | ((q3 >>> 4) << 4) | ((q4 >>> 4) << 6);
      }
    }
  }
}
