/**
 * Host quantizer throughput: MB/s of float32 input for each block format on rows of `--cols` (2048),
 * the TS codecs and (when the addon is built) the native ones, one thread
 * (`--threaded`: native over the addon's thread pool).
 *   node --import tsx bench/quant/quantize.ts [--cols 2048] [--rows 512] [--formats q4_k,q6_k,...] [--impl ts,native] [--threaded]
 */
import { parseArgs } from "node:util";
import { quantizeRows, type QuantFormat } from "../../src/formats/quant/index.js";
import { randomFloats, rng } from "../../src/bench/random.js";

const { values: opts } = parseArgs({ options: { cols: { type: "string", default: "2048" }, rows: { type: "string", default: "512" }, formats: { type: "string", default: "q4_k,q6_k,q5_0,q8_0,q4_0,mxfp4" }, impl: { type: "string", default: "ts,native" }, threaded: { type: "boolean", default: false } } });
const cols = Number(opts.cols);
const rows = Number(opts.rows);
const x = randomFloats(rng(1), rows * cols, 0.02);
const mb = (x.length * 4) / 1e6;
for (const format of opts.formats!.split(",") as QuantFormat[]) {
  for (const impl of opts.impl!.split(",")) {
    const run = () => quantizeRows(x, rows, cols, format, { native: impl === "native", threaded: opts.threaded! });
    try {
      run();
    } catch (e) {
      console.log(`${format} ${impl}: ${(e as Error).message}`);
      continue;
    }
    // wall time, and this process's CPU time (the machine may be shared: CPU seconds are what one core costs)
    let best = Infinity;
    let bestCpu = Infinity;
    for (let i = 0; i < 3; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      run();
      best = Math.min(best, performance.now() - t0);
      const c = process.cpuUsage(c0);
      bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e3);
    }
    const rate = (ms: number) => (mb / (ms / 1e3)).toFixed(1).padStart(8);
    console.log(`${format.padEnd(6)} ${impl.padEnd(6)} ${rate(best)} MB/s wall ${rate(bestCpu)} MB/s per CPU-second  (${best.toFixed(1)} ms wall, ${bestCpu.toFixed(1)} ms CPU for ${mb.toFixed(1)} MB, ${rows}x${cols})`);
  }
}
