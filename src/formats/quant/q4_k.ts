/**
 * ggml Q4_K: super-blocks of 256 values in 144 bytes — fp16 d and dmin, 12 bytes packing eight 6-bit
 * sub-block scales sc and mins m, then 128 bytes of nibbles (for each chunk of 64 values: 32 bytes,
 * value l in the low nibble of byte l, value 32 + l in the high one). Sub-block j (32 values) widens to
 * (d·sc_j)·q − dmin·m_j. Widening is bit-exact with gguf-py; the quantizer follows llama.cpp's reference
 * (no importance matrix): per sub-block a weighted least-squares search of scale and min over a grid of
 * candidate inverse scales, then the 6-bit scale and min codes and a final rounding with them.
 */
import { fround, readHalf, rint, writeHalf } from "./common.js";

/** The 6-bit scale and min of sub-block j from the 12 packed bytes at bytes[at]. */
function scaleMin(bytes: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [bytes[at + j]! & 63, bytes[at + j + 4]! & 63];
  const lo = bytes[at + j + 4]!;
  return [(lo & 15) | ((bytes[at + j - 4]! >>> 6) << 4), (lo >>> 4) | ((bytes[at + j]! >>> 6) << 4)];
}

export function widenQ4_K(bytes: Uint8Array, offset: number, blocks: number, out: Float32Array, outOffset: number): void {
  for (let b = 0; b < blocks; b++) {
    const at = offset + b * 144;
    const d = readHalf(bytes, at);
    const dmin = readHalf(bytes, at + 2);
    for (let c = 0; c < 4; c++) {
      const [sc0, m0] = scaleMin(bytes, at + 4, 2 * c);
      const [sc1, m1] = scaleMin(bytes, at + 4, 2 * c + 1);
      const d0 = fround(d * sc0);
      const dm0 = fround(dmin * m0);
      const d1 = fround(d * sc1);
      const dm1 = fround(dmin * m1);
      const q = at + 16 + 32 * c;
      const o = outOffset + b * 256 + 64 * c;
      for (let l = 0; l < 32; l++) {
        const v = bytes[q + l]!;
        out[o + l] = fround(fround(d0 * (v & 15)) - dm0);
        out[o + 32 + l] = fround(fround(d1 * (v >>> 4)) - dm1);
      }
    }
  }
}

/**
 * Scale and (non-positive) min for the 32 values xs with 4-bit codes into L: the weighted squared error
 * of scale·L + min is minimised over 21 candidate inverse scales (nmax − 1 + 0.1·i)/(max − min), each
 * followed by the closed-form least-squares scale and min for its codes. Returns [scale, −min].
 * (Codes round half up — Math.round, V8's fast path — where ggml rounds half to even: ties are rare
 * in this double-precision search and either code is as close.)
 */
function scaleAndMin(xs: Float64Array, w: Float64Array, L: Uint8Array, aux: Uint8Array): [number, number] {
  const n = 32;
  const nmax = 15;
  let min = xs[0]!;
  let max = xs[0]!;
  let sumW = 0;
  let sumX = 0;
  for (let i = 0; i < n; i++) {
    const v = xs[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW += w[i]!;
    sumX += w[i]! * v;
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0);
    return [0, -min];
  }
  let iscale = nmax / (max - min);
  let scale = 1 / iscale;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.min(nmax, Math.round(iscale * (xs[i]! - min)));
    L[i] = l;
    const diff = scale * l + min - xs[i]!;
    best += w[i]! * diff * diff;
  }
  for (let step = 0; step <= 20; step++) {
    iscale = (-1 + 0.1 * step + nmax) / (max - min);
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.min(nmax, Math.round(iscale * (xs[i]! - min)));
      aux[i] = l;
      const wl = w[i]! * l;
      sumL += wl;
      sumL2 += wl * l;
      sumXL += wl * xs[i]!;
    }
    const D = sumW * sumL2 - sumL * sumL;
    if (!(D > 0)) continue;
    let thisScale = (sumW * sumXL - sumX * sumL) / D;
    let thisMin = (sumL2 * sumX - sumL * sumXL) / D;
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = sumXL / sumL2;
    }
    let err = 0;
    for (let i = 0; i < n; i++) {
      const diff = thisScale * aux[i]! + thisMin - xs[i]!;
      err += w[i]! * diff * diff;
    }
    if (err < best) {
      L.set(aux);
      best = err;
      scale = thisScale;
      min = thisMin;
    }
  }
  return [scale, -min];
}

export function quantizeQ4_K(x: Float32Array, xOffset: number, blocks: number, out: Uint8Array, outOffset: number): void {
  const w = new Float64Array(32);
  const xs = new Float64Array(32);
  const L = new Uint8Array(256);
  const sub = new Uint8Array(32);
  const aux = new Uint8Array(32);
  const scales = new Float64Array(8);
  const mins = new Float64Array(8);
  for (let b = 0; b < blocks; b++) {
    const xi = xOffset + b * 256;
    const at = outOffset + b * 144;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) {
        xs[l] = x[xi + 32 * j + l]!;
        sumX2 += xs[l]! * xs[l]!;
      }
      const av = Math.sqrt(sumX2 / 32);
      for (let l = 0; l < 32; l++) w[l] = av + Math.abs(xs[l]!);
      [scales[j], mins[j]] = scaleAndMin(xs, w, sub, aux);
      L.set(sub, 32 * j);
      maxScale = Math.max(maxScale, scales[j]!);
      maxMin = Math.max(maxMin, mins[j]!);
    }
    const invScale = maxScale > 0 ? 63 / maxScale : 0;
    const invMin = maxMin > 0 ? 63 / maxMin : 0;
    out.fill(0, at + 4, at + 16);
    for (let j = 0; j < 8; j++) {
      const ls = Math.max(0, Math.min(63, rint(invScale * scales[j]!)));
      const lm = Math.max(0, Math.min(63, rint(invMin * mins[j]!)));
      if (j < 4) {
        out[at + 4 + j] = ls;
        out[at + 8 + j] = lm;
      } else {
        out[at + 8 + j] = (ls & 15) | ((lm & 15) << 4);
        out[at + j] |= (ls >>> 4) << 6;
        out[at + 4 + j] |= (lm >>> 4) << 6;
      }
    }
    const d = writeHalf(out, at, maxScale / 63);
    const dmin = writeHalf(out, at + 2, maxMin / 63);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMin(out, at + 4, j);
      const dj = d * sc;
      if (dj === 0) continue;
      const dm = dmin * m;
      for (let l = 0; l < 32; l++) L[32 * j + l] = Math.max(0, Math.min(15, rint((x[xi + 32 * j + l]! + dm) / dj)));
    }
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) out[at + 16 + 32 * c + l] = L[64 * c + l]! | (L[64 * c + 32 + l]! << 4);
    }
  }
}
