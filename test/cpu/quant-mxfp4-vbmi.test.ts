/**
 * The "avx512vbmi" quant kernel set (native/src/quant/dot_mxfp4_vbmi.h: mxfp4 on VBMI byte permutes, the
 * scales applied by vscalefps) gives the VNNI set's mxfp4 results bit for bit: every row length from 1 to 20
 * blocks (each residue of the 8-block loop, the 4-block group and the single blocks after it) and the model's
 * 1408 / 2048, every e8m0 exponent (the subnormal scales e = 0, 1 and e = 254, 255 included) and every code.
 * The several-row kernels are checked against these one-row results in gemv-rows.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nativeQuant } from "../../src/formats/quant/native.js";
import { formatInfo } from "../../src/formats/table.js";
import { rng } from "../helpers/random.js";

const q = nativeQuant();
const MXFP4 = formatInfo("mxfp4").code;

test("mxfp4 GEMV: the avx512vbmi kernels equal the avx512vnni kernels bit for bit", { skip: !q.isas().includes("avx512vbmi") && "this CPU has no AVX-512 VBMI" }, () => {
  const r = rng(1717);
  const m = 2;
  for (const blocks of [...Array.from({ length: 20 }, (_, i) => i + 1), 44, 64]) {
    const k = 32 * blocks;
    const n = 11;
    const w = new Uint8Array(n * blocks * 17);
    for (let i = 0; i < w.length; i++) w[i] = Math.floor(r() * 256);
    // scales: mostly near 2^0 (e 118..137), one row with every exponent in turn, the extremes in others
    for (let row = 0; row < n; row++)
      for (let b = 0; b < blocks; b++) {
        const at = (row * blocks + b) * 17;
        const e = row === 0 ? (b * 37) % 256 : row === 1 ? [0, 1, 2, 254, 255][b % 5]! : 118 + Math.floor(r() * 20);
        w[at] = e;
      }
    const x = Float32Array.from({ length: m * k }, () => r() * 2 - 1);
    x.fill(0, k, k + 32); // an all-zero activation block
    const want = new Float32Array(m * n);
    const got = new Float32Array(m * n);
    q.gemv(MXFP4, w, n, k, x, m, want, "avx512vnni");
    q.gemv(MXFP4, w, n, k, x, m, got, "avx512vbmi");
    for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `K=${k} token ${Math.floor(i / n)} row ${i % n}: vbmi ${got[i]}, vnni ${want[i]}`);
  }
});
