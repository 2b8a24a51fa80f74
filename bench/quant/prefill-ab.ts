/**
 * Whole-model prefill, A/B between two builds of the native addon in one process: the model scope's 2-layer
 * synthetic Qwen1.5-MoE-A2.7B (quantized at load) loaded twice, once on a cpu backend driving build A (`--a`,
 * e.g. main's build/Release/moekit_native.node copied aside) and once on the build the cpu backend loads (B),
 * then prefills of B × S tokens (logits of the last position, as `moekit bench --scope model` times them)
 * alternating A, B, A, B … so a shared machine's load drifts hit both alike. Reports medians, minima, the ratio
 * of medians and the process CPU time per run (user + system; it counts the work, not the waiting).
 *
 * `--a-shared apart` runs A's shared experts apart (their own products, gate, mul and add), as before they ran
 * inside the routed experts' pass for block formats: A is then main before that change, TypeScript included.
 *
 *   node --import tsx bench/quant/prefill-ab.ts --a /path/to/old/moekit_native.node [--dtypes q4_0,q8_0]
 *        [--cases 1x128,4x128] [--rounds 7] [--threads 2] [--model <gguf>] [--a-shared apart]
 */
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { CpuBackend, type NativeAddon } from "../../src/backends/cpu/index.js";
import { modelSource, prefillLastLogits, seededIds, type ModelDType } from "../../src/bench/model-run.js";
import { alternateRuns } from "../../src/bench/timing.js";
import { median } from "../../src/bench/stats.js";
import type { QuantDType } from "../../src/models/build/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const DTYPES = (args.get("dtypes") ?? "q4_0,q8_0").split(",") as ModelDType[];
const CASES = (args.get("cases") ?? "1x128,4x128").split(",").map((c) => c.split("x").map(Number) as [number, number]);
const ROUNDS = Number(args.get("rounds") ?? 7);
const THREADS = Number(args.get("threads") ?? 2);
// --model <gguf>: read that file (e.g. the bench's cached synthetic q4_k_m GGUF, ~/.cache/moekit/bench/) instead of
// quantizing the synthetic float checkpoint at load (minutes for the K-quants); --dtypes then only labels it.
const MODEL = args.get("model");
const A_SHARED = args.get("a-shared") ?? "fused";
if (A_SHARED !== "fused" && A_SHARED !== "apart") throw new Error(`prefill-ab: --a-shared must be fused or apart, got '${A_SHARED}'`);


async function main(): Promise<void> {
  const a = args.get("a");
  if (!a) throw new Error("prefill-ab: --a <path of the baseline moekit_native.node> is required");
  const B = new CpuBackend({ threads: THREADS, compute: "bfloat16" });
  const A = new CpuBackend({ threads: THREADS, compute: "bfloat16" });
  (A as { native: NativeAddon }).native = createRequire(import.meta.url)(resolve(a)) as NativeAddon;
  A.setThreads(THREADS);
  console.log(`# A = ${resolve(a)} (shared experts ${A_SHARED}); B = the build the cpu backend loads; ${THREADS} threads, ${ROUNDS} alternating runs each; load average ${loadavg()[0]!.toFixed(2)}`);
  console.log("| dtype | case | A median ms | B median ms | A min | B min | A / B (medians) | A cpu ms | B cpu ms | A / B (cpu) |\n|---|---|---|---|---|---|---|---|---|---|");
  for (const dtype of DTYPES) {
    const models: Record<"A" | "B", MoeForCausalLM> = {} as Record<"A" | "B", MoeForCausalLM>;
    for (const [k, be] of [["A", A], ["B", B]] as const) {
      const ckpt = MODEL ?? (await modelSource({ layers: 2, positions: 8192, seed: 0, dtype }));
      // a GGUF given with --model already holds its formats: no quantization at load
      models[k] = await AutoModelForCausalLM.fromPretrained(ckpt, { backend: be, ...(MODEL ? {} : { dtype: dtype as QuantDType }), onWarning: () => undefined });
    }
    const fused = models.B.moeBlocks().filter((b) => b.sharedFused).length;
    const apart = A_SHARED === "apart" ? models.A.runSharedExpertsApart() : 0;
    console.log(`# ${dtype}: B runs ${fused} of ${models.B.moeBlocks().length} shared experts in the routed pass${A_SHARED === "apart" ? `; A runs ${apart} apart` : ""}`);
    for (const [batch, seq] of CASES) {
      const x = seededIds(batch * seq, models.A.vocabSize, 0);
      await prefillLastLogits(models.A, x, batch);
      await prefillLastLogits(models.B, x, batch);
      const { A, B } = await alternateRuns(["A", "B"] as const, ROUNDS, (k) => prefillLastLogits(models[k], x, batch), 2);
      const [ma, mb, ca, cb] = [median(A.ms), median(B.ms), median(A.cpu), median(B.cpu)];
      console.log(`| ${dtype} | ${batch}x${seq} | ${ma.toFixed(1)} | ${mb.toFixed(1)} | ${Math.min(...A.ms).toFixed(1)} | ${Math.min(...B.ms).toFixed(1)} | ${(ma / mb).toFixed(2)} | ${ca.toFixed(0)} | ${cb.toFixed(0)} | ${(ca / cb).toFixed(2)} |`);
    }
    models.A.dispose();
    models.B.dispose();
  }
  console.log(`# load average ${loadavg()[0]!.toFixed(2)}`);
}

await main();
