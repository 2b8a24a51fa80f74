import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toBf16Bits } from "../../src/dtype.js";
import { fp8FromCheckpoint, quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { nativeQuant } from "../../src/formats/quant/native.js";
import { formatInfo } from "../../src/formats/table.js";
import { widen } from "../../src/formats/widen.js";
import { bytes, firstBitDifference, floats, quantFixture } from "../helpers/quant-fixtures.js";
import { randomFloats, rng } from "../helpers/random.js";

const q = nativeQuant();
const ISAS = q.isas();
const FORMATS: QuantFormat[] = ["q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4", "fp8_e4m3_b128"];
const code = (f: QuantFormat) => formatInfo(f).code;
const actKind = (f: QuantFormat) =>
  f === "fp8_e4m3_b128" ? "f32" : f === "q4_k" || f === "q6_k" ? "a8_256" : f === "q8_0" ? "a8_32" : "a8_32x4";

/** Where value i of a row of k sits in a prepared A8_32X4 activation (runs of 4 blocks: first halves, then second halves). */
function x4Position(k: number, i: number): number {
  const b = Math.floor(i / 32);
  const j = i % 32;
  if (b >= (Math.floor(k / 32) & ~3)) return i;
  return 128 * (b >> 2) + (j < 16 ? 16 * (b & 3) + j : 64 + 16 * (b & 3) + j - 16);
}

describe("native quant widening", () => {
  it("runs on the scalar kernels and every SIMD set this CPU has", () => {
    assert.equal(ISAS[0], "scalar");
    assert.equal(q.best(), ISAS[ISAS.length - 1]);
  });
  for (const format of FORMATS) {
    const f = formatInfo(format);
    let blocks =
      format === "fp8_e4m3_b128"
        ? (() => {
            const c = quantFixture<{ cases: { n: number; k: number; weight: string; scale_inv: string }[] }>("fp8-e4m3.json").cases[1]!;
            return fp8FromCheckpoint(bytes(c.weight), floats(c.scale_inv), c.n, c.k, "w");
          })()
        : bytes(quantFixture<{ bytes: string }>(`ggml-${format}.json`).bytes);
    if (format === "fp8_e4m3_b128") {
      // and every e4m3 code, NaN codes included (the converters reject those, the widening still keeps them NaN)
      const raw = new Uint8Array(2 * 132);
      for (let c = 0; c < 256; c++) raw[4 * (1 + (c >> 7)) + c] = c;
      new DataView(raw.buffer).setFloat32(0, 0.75, true);
      new DataView(raw.buffer).setFloat32(132, -3e-30, true);
      const all = new Uint8Array(blocks.length + raw.length);
      all.set(blocks);
      all.set(raw, blocks.length);
      blocks = all;
    }
    const n = blocks.length / f.blockBytes;
    const want = widen(blocks, format);
    for (const isa of ISAS) {
      it(`${format} (${isa}): float32 and bfloat16 widening of the oracle blocks equals the host widening bit for bit`, () => {
        // as rows of 2 blocks (plus a last row of 1 when odd) and as one long row
        for (const cols of [f.blockElems * 2, n * f.blockElems]) {
          const rows = Math.floor((n * f.blockElems) / cols);
          const out = new Float32Array(rows * cols);
          q.widen(f.code, blocks, rows, cols, out, isa);
          const i = firstBitDifference(out, want.subarray(0, rows * cols));
          assert.equal(i, -1, `value ${i}: native ${out[i]}, host ${want[i]}`);
        }
        const bf = new Uint16Array(n * f.blockElems);
        q.widen(f.code, blocks, 1, n * f.blockElems, bf, isa);
        const j = bf.findIndex((h, k) => h !== toBf16Bits(want[k]!));
        assert.equal(j, -1, `bf16 value ${j}: native 0x${bf[j]?.toString(16)}, host 0x${toBf16Bits(want[j]!).toString(16)}`);
      });
    }
  }
});

/** The activation values the native dot products see: d·q per element (fp8: x itself). */
function preparedActivation(format: QuantFormat, x: Float32Array, k: number): Float64Array {
  const buf = new Uint8Array(q.activationBytes(code(format), k));
  q.quantizeActivation(code(format), x, k, buf);
  const dv = new DataView(buf.buffer);
  const out = new Float64Array(k);
  const kind = actKind(format);
  if (kind === "f32") {
    for (let i = 0; i < k; i++) out[i] = dv.getFloat32(4 * i, true);
    return out;
  }
  const block = kind === "a8_256" ? 256 : 32;
  for (let b = 0; b < k / block; b++) {
    const d = dv.getFloat32(k + 4 * b, true);
    let sum = 0;
    for (let i = b * block; i < (b + 1) * block; i++) {
      const qi = dv.getInt8(kind === "a8_32x4" ? x4Position(k, i) : i);
      out[i] = d * qi;
      sum += qi;
      assert.ok(Math.abs(qi) <= 127);
      if (Number.isFinite(x[i]!)) assert.ok(Math.abs(x[i]! - d * qi) <= d / 2 + 1e-12, `activation ${i}: ${x[i]} as ${d}·${qi}`);
    }
    if (kind !== "a8_256") assert.equal(dv.getInt32(k + 4 * (k / 32) + 4 * b, true), sum, `block ${b} sum`);
  }
  if (kind === "a8_256") {
    for (let g = 0; g < k / 16; g++) {
      let s = 0;
      for (let i = 16 * g; i < 16 * g + 16; i++) s += dv.getInt8(i);
      assert.equal(dv.getInt16(k + 4 * (k / 256) + 2 * g, true), s, `group ${g} sum`);
    }
  }
  return out;
}

describe("native quant GEMV", () => {
  const n = 37;
  const m = 3;
  for (const format of FORMATS) {
    const f = formatInfo(format);
    // an odd number of blocks per row for the 32-blocks (the AVX-512 kernels take them in pairs)
    const k = f.blockElems === 32 ? 32 * 23 : f.blockElems * 3;
    const r = rng(11 + f.code);
    const wf = randomFloats(r, n * k, 0.05);
    for (let i = 0; i < wf.length; i += 97) wf[i] = wf[i]! * 20; // outliers: large codes and scales
    const w = quantizeRows(wf, n, k, format);
    const ww = widen(w, format);
    const x = randomFloats(r, m * k, 1);
    x.fill(0, k, k + f.blockElems); // an all-zero activation block
    for (const isa of ISAS) {
      it(`${format} (${isa}): y = W·x with the prepared activations, and within the int8 rounding of the float product`, () => {
        const y = new Float32Array(m * n);
        q.gemv(f.code, w, n, k, x, m, y, isa);
        for (let t = 0; t < m; t++) {
          const xt = x.subarray(t * k, (t + 1) * k);
          const xa = preparedActivation(format, xt, k);
          const d = new Float64Array(k);
          if (actKind(format) !== "f32") for (let i = 0; i < k; i++) d[i] = Math.abs(xt[i]! - xa[i]!);
          for (let row = 0; row < n; row++) {
            let exact = 0;
            let mag = 0;
            let flt = 0;
            let bound = 0;
            for (let i = 0; i < k; i++) {
              const wi = ww[row * k + i]!;
              exact += wi * xa[i]!;
              mag += Math.abs(wi * xa[i]!);
              flt += wi * xt[i]!;
              bound += Math.abs(wi) * d[i]!;
            }
            const got = y[t * n + row]!;
            assert.ok(Math.abs(got - exact) <= 2e-6 * mag + 1e-9, `token ${t} row ${row}: ${got} vs ${exact} (|w·x| ${mag})`);
            assert.ok(Math.abs(got - flt) <= bound + 2e-6 * mag + 1e-9, `token ${t} row ${row}: ${got} vs float ${flt}, bound ${bound}`);
          }
        }
      });
    }
  }
  // Every weight a small integer (block scale 1) and every activation an integer with 127 in each block (its
  // int8 scale exactly 1): each product and partial sum is an integer below 2^24, so every kernel's result is
  // exact whatever its order of additions. Row lengths cover whole groups of eight, a group of four and single
  // blocks after them (the kernels take each apart), and gpt-oss's 90 blocks.
  it("is exact where every product and sum is an integer below 2^24: every row length's groups and single blocks", () => {
    const r = rng(29);
    const n = 5;
    const m = 3;
    for (const format of ["q8_0", "q4_0", "q5_0", "mxfp4"] as const) {
      const f = formatInfo(format);
      for (const blocks of [...Array.from({ length: 20 }, (_, i) => i + 1), 44, 45, 89, 90]) {
        const k = 32 * blocks;
        const w = new Uint8Array(n * blocks * f.blockBytes);
        for (let i = 0; i < w.length; i++) w[i] = Math.floor(r() * 256);
        for (let b = 0; b < n * blocks; b++) {
          const at = b * f.blockBytes;
          if (format === "mxfp4") {
            w[at] = 128; // 2^(128 − 127) · the doubled e2m1 code / 2
          } else {
            w[at] = 0x00; // fp16 1.0
            w[at + 1] = 0x3c;
          }
        }
        const ww = widen(w, format);
        const x = Float32Array.from({ length: m * k }, () => Math.round(r() * 254) - 127);
        for (let i = 0; i < m * k; i += 32) x[i + Math.floor(r() * 32)] = r() < 0.5 ? 127 : -127;
        for (const isa of ISAS) {
          const y = new Float32Array(m * n);
          q.gemv(f.code, w, n, k, x, m, y, isa);
          for (let t = 0; t < m; t++)
            for (let row = 0; row < n; row++) {
              let want = 0;
              let mag = 0;
              for (let i = 0; i < k; i++) {
                const p = ww[row * k + i]! * x[t * k + i]!;
                want += p;
                mag += Math.abs(p);
              }
              assert.ok(mag < 2 ** 24, `${format} ${blocks} blocks: |w|·|x| ${mag} leaves the exact range`);
              assert.equal(y[t * n + row], want, `${format} (${isa}) ${blocks} blocks, token ${t} row ${row}`);
            }
        }
      }
    }
  });
  it("a non-finite activation makes its products NaN", () => {
    const k = 64;
    const w = quantizeRows(randomFloats(rng(3), 2 * k, 1), 2, k, "q8_0");
    const x = randomFloats(rng(4), k, 1);
    x[40] = Infinity;
    const y = new Float32Array(2);
    q.gemv(code("q8_0"), w, 2, k, x, 1, y);
    assert.ok(Number.isNaN(y[0]!) && Number.isNaN(y[1]!));
  });
  it("rejects unknown formats and kernel sets, ragged rows and short buffers", () => {
    const w = new Uint8Array(34 * 2);
    const x = new Float32Array(64);
    const y = new Float32Array(1);
    assert.throws(() => q.gemv(3, w, 1, 64, x, 1, y), /format code 3 is not a block format/);
    assert.throws(() => q.gemv(code("q8_0"), w, 1, 48, x, 1, y), /q8_0 rows are whole blocks of 32; cols = 48/);
    assert.throws(() => q.gemv(code("q8_0"), w, 2, 64, x, 1, y), /w holds 68 elements, needs 136/);
    assert.throws(() => q.gemv(code("q8_0"), w, 1, 64, x, 2, y), /x holds 64 elements, needs 128/);
    assert.throws(() => q.gemv(code("q8_0"), w, 1, 64, x, 1, y, "avx9000"), /kernel set "avx9000" is unknown/);
    assert.throws(() => q.widen(code("q4_k"), w, 1, 256, new Float32Array(256)), /bytes holds 68 elements, needs 144/);
    assert.throws(() => q.widen(code("q8_0"), w, 1, 64, new Int32Array(64) as unknown as Float32Array), /out must be a Float32Array or Uint16Array/);
  });
});
