import assert from "node:assert/strict";
import { test } from "node:test";
import type { QuantFormat } from "../../src/formats/quant/index.js";
import { nativeQuant } from "../../src/formats/quant/native.js";
import { formatInfo } from "../../src/formats/table.js";
import { rng } from "../helpers/random.js";

// The GEMV's activation preparation (quant::quantize_act, vectorized on AVX2) byte for byte against the
// rule written out here in float32 steps: d = amax / 127, id = 1 / d (0 when d is 0), q = x·id rounded to
// nearest even and clamped to ±127; a block with a non-finite value gets d NaN and codes 0.

const q = nativeQuant();
const f32 = Math.fround;

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** d and codes of one block by the rule. */
function block(x: Float32Array): { d: number; q: number[] } {
  let amax = 0;
  let finite = true;
  for (const v of x) {
    finite &&= Number.isFinite(v);
    amax = Math.max(amax, Math.abs(v));
  }
  if (!finite) return { d: NaN, q: Array.from(x, () => 0) };
  const d = f32(amax / 127);
  const id = d > 0 ? f32(1 / d) : 0;
  return { d, q: Array.from(x, (v) => Math.max(-127, Math.min(127, roundHalfEven(f32(v * id))))) };
}

/** The prepared bytes by the rule: int8 codes (A8_32X4: runs of four blocks as first halves, then second halves), d per block, then Σq per 32 (int32) or per 16 (int16). */
function expected(kind: "a8_32" | "a8_32x4" | "a8_256", x: Float32Array): Uint8Array {
  const k = x.length;
  const size = kind === "a8_256" ? 256 : 32;
  const out = new Uint8Array(kind === "a8_256" ? k + 4 * (k / 256) + 2 * (k / 16) : k + 8 * (k / 32));
  const dv = new DataView(out.buffer);
  const nb = k / 32;
  for (let b = 0; b < k / size; b++) {
    const { d, q: codes } = block(x.subarray(b * size, (b + 1) * size));
    dv.setFloat32(k + 4 * b, d, true);
    codes.forEach((c, j) => {
      const i = b * size + j;
      const blk = Math.floor(i / 32);
      const at = kind === "a8_32x4" && blk < (nb & ~3) ? 128 * (blk >> 2) + ((i % 32) < 16 ? 0 : 64) + 16 * (blk & 3) + (i % 16) : i;
      dv.setInt8(at, c);
    });
    if (kind !== "a8_256") dv.setInt32(k + 4 * nb + 4 * b, codes.reduce((s, c) => s + c, 0), true);
  }
  if (kind === "a8_256") {
    for (let g = 0; g < k / 16; g++) {
      let s = 0;
      for (let i = 16 * g; i < 16 * g + 16; i++) s += dv.getInt8(i);
      dv.setInt16(k + 4 * (k / 256) + 2 * g, s, true);
    }
  }
  return out;
}

test("quant GEMV activation preparation equals the float32 rule byte for byte (ties, zeros, non-finite blocks, partial runs)", () => {
  const r = rng(4242);
  const cases: [QuantFormat, "a8_32" | "a8_32x4" | "a8_256", number][] = [
    ["q8_0", "a8_32", 13 * 32],
    ["q4_0", "a8_32x4", 13 * 32],
    ["mxfp4", "a8_32x4", 64 * 32],
    ["q5_0", "a8_32x4", 5 * 32],
    ["q4_k", "a8_256", 768],
    ["q6_k", "a8_256", 768],
  ];
  for (const [format, kind, k] of cases) {
    const x = Float32Array.from({ length: k }, () => (r() * 2 - 1) * 3);
    // block 1: exact ties of x·id (amax 127 makes id 1: values n + 0.5 round to the even neighbour)
    for (let i = 32; i < 64; i++) x[i] = i === 32 ? 127 : (i % 7) - 3.5;
    const wide = kind === "a8_256";
    if (!wide) x.fill(0, 64, 96); // block 2: all zero (d 0, codes 0)
    x[wide ? 300 : 100] = NaN; // a block with a NaN
    x[wide ? 600 : 130] = -Infinity; // a block with an infinity
    x[wide ? 200 : 160] = 1e-42; // a subnormal among normal values
    const got = new Uint8Array(q.activationBytes(formatInfo(format).code, k));
    q.quantizeActivation(formatInfo(format).code, x, k, got);
    const want = expected(kind, x);
    const i = got.findIndex((v, j) => v !== want[j]);
    assert.equal(i, -1, `${format} K=${k}: byte ${i} is ${got[i]}, the rule gives ${want[i]}`);
  }
});
