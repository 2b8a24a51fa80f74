/**
 * Quantized matrix-vector products on the webgpu backend, the int8 path (inputs quantized per block,
 * dot4I8Packed; src/backends/webgpu/kernels/int8-dot.wgsl.ts) against the float path (each weight value
 * widened in the lanes), same device, same weights: `linear` at M = 1 and 4 on one [N, K] matrix, and
 * `gatheredLinear` at decode (one token, top-4 of E experts of [2·I, H], Qwen1.5-MoE-A2.7B's gate_up).
 * Median ms and GB/s of weight bytes read (the bandwidth these kernels are bound by).
 *
 *   node --import tsx bench/webgpu/quant-gemv.ts [--formats q4_0,q8_0] [--n 32768] [--k 4096] [--experts 60]
 *        [--quantize 1] [--json out.json]
 *
 * The default matrix (q4_0 72 MiB, q8_0 136 MiB) is larger than a GPU's L2, so the figures are memory
 * bandwidth; software adapters (lavapipe) take smaller sizes and their timings are CPU figures.
 * Each case: a warm-up, then samples for ~2 s (at most 10), each repeating the op until it lasts ≥ 20 ms.
 * Without the WGSL packed_4x8_integer_dot_product feature only the float path is timed.
 */
import { writeFileSync } from "node:fs";
import { createWebGpuBackend, WebGpuBackend } from "../../src/backends/webgpu/index.js";
import { randomFloats, rng } from "../../src/bench/random.js";
import { median } from "../../src/bench/stats.js";
import { quantizeRows } from "../../src/formats/quant/index.js";
import { formatInfo, storageBytes } from "../../src/formats/table.js";
import { isInt8DotWeight, type Int8DotWeight } from "../../src/backends/webgpu/kernels/int8-dot.wgsl.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const FORMATS = (args.get("formats") ?? "q4_0,q8_0").split(",") as Int8DotWeight[];
for (const f of FORMATS) if (!isInt8DotWeight(f)) throw new Error(`--formats: ${f} is not one of the int8-dot formats (q8_0, q4_0, q5_0, q4_k, q6_k, mxfp4)`);
const N = Number(args.get("n") ?? 32768);
const K = Number(args.get("k") ?? 4096);
const E = Number(args.get("experts") ?? 60);
const H = 2048;
const I2 = 2 * 1408;
const TOPK = 4;

async function timeIt(b: WebGpuBackend, fn: () => unknown): Promise<number> {
  await b.sync();
  let t0 = performance.now();
  fn();
  await b.sync();
  const single = performance.now() - t0;
  const inner = Math.max(1, Math.min(200, Math.ceil(20 / Math.max(single, 1e-3))));
  const ts: number[] = [];
  const start = performance.now();
  while (ts.length === 0 || (ts.length < 10 && performance.now() - start < 2000)) {
    t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    await b.sync();
    ts.push((performance.now() - t0) / inner);
  }
  return median(ts);
}

/** Byte offsets of the fp16 scales in a block (mxfp4: its one e8m0 byte at 0). */
const SCALES: Record<Int8DotWeight, number[]> = { q8_0: [0], q4_0: [0], q5_0: [0], q4_k: [0, 2], q6_k: [208], mxfp4: [] };

/**
 * Random blocks with finite small scales: the timing does not depend on the values, and quantizing
 * hundreds of millions of floats on the host would take minutes (`--quantize` does it anyway).
 */
function randomBlocks(shape: number[], format: Int8DotWeight, seed: number): Tensor {
  const cols = shape[shape.length - 1]!;
  const rows = shape.reduce((a, c) => a * c, 1) / cols;
  if (args.has("quantize")) return new Tensor(shape, format, quantizeRows(randomFloats(rng(seed), rows * cols), rows, cols, format));
  const { blockBytes } = formatInfo(format);
  const bytes = new Uint8Array(storageBytes(format, shape));
  const r = rng(seed);
  const words = new Uint32Array(bytes.buffer, 0, bytes.length >> 2);
  for (let i = 0; i < words.length; i++) words[i] = (r() * 2 ** 32) >>> 0;
  for (let b = 0; b < bytes.length; b += blockBytes) {
    if (format === "mxfp4") bytes[b] = 120;
    for (const o of SCALES[format]) [bytes[b + o], bytes[b + o + 1]] = [0x00, 0x20];
  }
  return new Tensor(shape, format, bytes);
}

const base = await createWebGpuBackend();
const paths: [string, WebGpuBackend][] = [["float", new WebGpuBackend(base.device, { int8Dot: false })]];
if (base.int8Dot) paths.unshift(["int8", new WebGpuBackend(base.device, { int8Dot: true })]);
console.log(`adapter: ${base.description}${base.int8Dot ? "" : " — no packed_4x8_integer_dot_product: float path only"}`);
console.log(`| format | op | rows | path | ms | weight GB/s | int8 vs float |`);
console.log(`|---|---|---|---|---|---|---|`);
const rows: Record<string, unknown>[] = [];
for (const format of FORMATS) {
  const w = randomBlocks([N, K], format, 1);
  const ws = randomBlocks([E, I2, H], format, 2);
  const cases: { op: string; m: number; bytes: number; run: (b: WebGpuBackend, gw: Tensor, gws: Tensor) => Tensor }[] = [];
  for (const m of [1, 4]) {
    const x = Tensor.from(randomFloats(rng(3), m * K), [m, K]);
    cases.push({ op: `linear [${N}, ${K}]`, m, bytes: storageBytes(format, [N, K]), run: (b, gw) => b.linear(b.adopt(x), gw) });
  }
  const ids = Tensor.from(Int32Array.from({ length: TOPK }, (_, i) => (i * 7) % E), [TOPK]);
  const xe = Tensor.from(randomFloats(rng(4), H), [1, H]);
  cases.push({ op: `gatheredLinear top-${TOPK} of [${E}, ${I2}, ${H}]`, m: 1, bytes: TOPK * storageBytes(format, [I2, H]), run: (b, _, gws) => b.gatheredLinear(b.adopt(xe), gws, b.adopt(ids), { rowsPerInput: TOPK }) });
  const onDevice = paths.map(([name, b]) => ({ name, b, gw: b.adopt(w), gws: b.adopt(ws) }));
  for (const c of cases) {
    const ms: Record<string, number> = {};
    for (const { name, b, gw, gws } of onDevice) {
      ms[name] = await timeIt(b, () => b.dispose(c.run(b, gw, gws)));
      const ratio = name === "float" && ms.int8 !== undefined ? `${(ms.float! / ms.int8).toFixed(2)}×` : "";
      console.log(`| ${format} | ${c.op} | ${c.m} | ${name} | ${ms[name]!.toFixed(3)} | ${(c.bytes / ms[name]! / 1e6).toFixed(1)} | ${ratio} |`);
      rows.push({ format, op: c.op, m: c.m, path: name, ms: ms[name], gbps: c.bytes / ms[name]! / 1e6 });
    }
  }
  for (const { b, gw, gws } of onDevice) {
    b.dispose(gw);
    b.dispose(gws);
  }
  if (args.has("json")) writeFileSync(args.get("json")!, JSON.stringify({ adapter: base.description, n: N, k: K, experts: E, rows }, null, 1));
}
base.destroy();
