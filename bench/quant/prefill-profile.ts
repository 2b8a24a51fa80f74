/**
 * Where whole-model prefill spends its time, per weights dtype: the model scope's 2-layer synthetic
 * Qwen1.5-MoE-A2.7B (quantized at load for a quantized dtype), a prefill of B × S tokens (logits of the last
 * position only, as `moekit bench --scope model` times it) run under the OpProfiler, each part's wall time,
 * its FLOPs and GFLOP/s, its share of the forward, and its floor at the GEMM probe's rate measured in the same
 * process (the bf16 GEMM ceiling the model floor uses; a part at 100% runs at that rate).
 *
 *   node --import tsx bench/quant/prefill-profile.ts [--dtypes bfloat16,q8_0,q4_0] [--cases 1x128,4x128]
 *        [--threads 2] [--iters 5] [--layers 2] [--model <gguf>]
 *
 * Each dtype loads once; per case one warm-up, then `iters` profiled runs; the table gives medians per run.
 */
import { loadavg } from "node:os";
import { resolveBackend } from "../../src/bench/backends.js";
import { OpProfiler, type Breakdown } from "../../src/bench/op-profile.js";
import { measureCeilings } from "../../src/bench/probes.js";
import { modelSource, seededIds, type ModelDType } from "../../src/bench/model-run.js";
import { median } from "../../src/bench/stats.js";
import type { QuantDType } from "../../src/models/build/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const DTYPES = (args.get("dtypes") ?? "bfloat16,q8_0,q4_0").split(",") as ModelDType[];
const CASES = (args.get("cases") ?? "1x128,4x128").split(",").map((c) => c.split("x").map(Number) as [number, number]);
const THREADS = Number(args.get("threads") ?? 2);
// --model <gguf>: read that file (e.g. the bench's cached synthetic q4_k_m GGUF, ~/.cache/moekit/bench/) instead of
// quantizing the synthetic float checkpoint at load (minutes for the K-quants); --dtypes then only labels it.
const MODEL = args.get("model");
const ITERS = Number(args.get("iters") ?? 5);
const LAYERS = Number(args.get("layers") ?? 2);

// Qwen1.5-MoE-A2.7B's products per token and layer (multiply-adds × 2).
const H = 2048, E_I = 1408, TOPK = 4, SH_I = 5632, VOCAB = 151936, EXPERTS = 60;
const perToken = {
  attention: 2 * 4 * H * H,
  router: 2 * H * (EXPERTS + 1),
  experts: 2 * TOPK * (H * 2 * E_I + E_I * H),
  "shared experts": 2 * (H * 2 * SH_I + SH_I * H),
};

async function main(): Promise<void> {
  const { backend: raw } = await resolveBackend("cpu", THREADS, "bfloat16");
  const profiler = new OpProfiler();
  const backend = profiler.wrap(raw);
  console.log(`threads ${THREADS}, layers ${LAYERS}, load average ${loadavg().map((v) => v.toFixed(2)).join(" ")}`);
  for (const dtype of DTYPES) {
    const quantized = !["float32", "bfloat16", "float16"].includes(dtype);
    const ckpt = MODEL ?? (await modelSource({ layers: LAYERS, positions: 8192, seed: 0, dtype }));
    // a GGUF given with --model already holds its formats: no quantization at load
    const model = await AutoModelForCausalLM.fromPretrained(ckpt, {
      backend,
      ...(quantized && !MODEL ? { dtype: dtype as QuantDType } : {}),
      onWarning: () => undefined,
    });
    profiler.instrument(model);
    for (const [B, S] of CASES) {
      const x = seededIds(B * S, model.vocabSize, 0);
      const run = async () => {
        const cache = model.newCache();
        try {
          const { logits } = await model.forward(Tensor.from(x, [B, S]), { cache, logitsToKeep: 1 });
          await logits.data();
        } finally {
          for (const id of cache.sequences) cache.removeSequence(id);
        }
      };
      await run();
      const ceil = await measureCeilings(raw, "bfloat16", 64);
      const runs: Breakdown[] = [];
      for (let i = 0; i < ITERS; i++) {
        profiler.enabled = true;
        profiler.reset();
        await run();
        runs.push(profiler.snapshot());
        profiler.enabled = false;
      }
      const T = B * S;
      const flops: Record<string, number> = { lm_head: 2 * B * H * VOCAB };
      for (const [p, f] of Object.entries(perToken)) flops[p] = f * T * LAYERS;
      // shared experts inside the routed experts' pass: their products are the experts part's
      const fusedShared = model.moeBlocks().length > 0 && model.moeBlocks().every((b) => b.sharedFused);
      if (fusedShared) {
        flops.experts! += flops["shared experts"]!;
        delete flops["shared experts"];
      }
      const total = median(runs.map((r) => r.totalMs));
      const gemm = ceil.gemmGflops;
      const allFlops = Object.values(flops).reduce((a, b) => a + b, 0);
      console.log(`\n${dtype} prefill ${B}x${S}: total ${total.toFixed(1)} ms (${(allFlops / total / 1e6).toFixed(0)} GFLOP/s, floor ${(allFlops / gemm / 1e6).toFixed(1)} ms at GEMM probe ${gemm.toFixed(0)} GFLOP/s), load ${loadavg()[0]!.toFixed(2)}${fusedShared ? "; experts = routed + shared (one pass)" : ""}`);
      console.log("| part | ms | share | GFLOP/s | % of GEMM probe | ops (calls/run: ms) |");
      console.log("|---|---:|---:|---:|---:|---|");
      const parts = runs[0]!.parts.map((p) => p.part);
      for (const part of parts) {
        const ms = median(runs.map((r) => r.parts.find((p) => p.part === part)?.ms ?? 0));
        const f = flops[part];
        const ops = runs[0]!.ops.filter((o) => o.part === part).map((o) => `${o.op} ${o.calls}: ${median(runs.map((r) => r.ops.find((q) => q.part === part && q.op === o.op)?.ms ?? 0)).toFixed(1)}`);
        console.log(`| ${part} | ${ms.toFixed(1)} | ${((100 * ms) / total).toFixed(0)}% | ${f ? (f / ms / 1e6).toFixed(0) : ""} | ${f ? ((100 * f) / ms / 1e6 / gemm).toFixed(0) + "%" : ""} | ${ops.slice(0, 6).join(", ")} |`);
      }
    }
    model.dispose();
  }
}

await main();
