/**
 * One decode run (the child that bench/offload/run.ts starts inside a memory cgroup): load, a 16-token
 * prompt, then `--new` greedy one-token steps; prints one JSON line with tok/s (steps / their total time),
 * peak memory, and for moekit the expert-cache counters and the routing it saw (skew, step-to-step overlap).
 *
 *   node --import tsx bench/offload/decode-child.ts --engine moekit|llama.cpp --model DIR|FILE.gguf [--budget BYTES] [--new 48] [--threads 2]
 */
import { parseArgs } from "node:util";
import type { ExpertCache } from "../../src/experts/residency.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { seededIds } from "../peers/llama-cpp/client.js";
import { rss } from "./memory.js";
import { routingStats } from "./routing-stats.js";

const { values } = parseArgs({
  options: {
    engine: { type: "string", default: "moekit" },
    model: { type: "string" },
    budget: { type: "string" },
    new: { type: "string", default: "48" },
    prompt: { type: "string", default: "16" },
    threads: { type: "string", default: "2" },
    vocab: { type: "string", default: "32000" },
  },
});
if (!values.model) throw new Error("--model is required");
const steps = Number(values.new);
const threads = Number(values.threads);
const prompt = seededIds(Number(values.prompt), 300, Number(values.vocab) - 1, 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (values.engine === "llama.cpp") {
  const { LlamaCppPeer } = await import("../peers/llama-cpp/client.js");
  const t0 = performance.now();
  const peer = await LlamaCppPeer.open({ modelPath: values.model, threads });
  const loadMs = performance.now() - t0;
  const r = await peer.greedy(prompt, steps);
  const total = r.stepMs.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ engine: "llama.cpp", loadMs: Math.round(loadMs), prefillMs: Math.round(r.prefillMs), tokPerS: (steps / total) * 1000, medianStepMs: median(r.stepMs), rssMiB: rss() }));
  await peer.close();
} else {
  const budget = values.budget ? Number(values.budget) : undefined;
  const t0 = performance.now();
  const model = await AutoModelForCausalLM.fromPretrained(values.model, { backend: "cpu", threads, ...(budget ? { maxResidentBytes: budget } : {}) });
  const loadMs = performance.now() - t0;
  const cache = model.parts.expertCache as ExpertCache | undefined;
  // the routing each block reports, per step (the cache's hook when there is one, else a router wrapper)
  const routed: number[][][] = model.moeBlocks().map(() => []);
  model.moeBlocks().forEach((block, l) => {
    const route = block.router.route.bind(block.router);
    block.router.route = (x) => {
      const r = route(x);
      void r.index.data().then((ids) => routed[l]!.push([...(ids as Int32Array)]));
      return r;
    };
  });
  const kv = model.newCache();
  let t = performance.now();
  const first = await model.forward(Tensor.from(Int32Array.from(prompt), [1, prompt.length]), { cache: kv, logitsToKeep: 1 });
  const prefillMs = performance.now() - t;
  const argmax = (v: Float32Array) => v.reduce((b, x, i) => (x > v[b]! ? i : b), 0);
  let next = argmax((await first.logits.data()) as Float32Array);
  const afterPrefill = cache?.stats();
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    t = performance.now();
    const { logits } = await model.forward(Tensor.from(new Int32Array([next]), [1, 1]), { cache: kv, logitsToKeep: 1 });
    next = argmax((await logits.data()) as Float32Array);
    stepMs.push(performance.now() - t);
  }
  const total = stepMs.reduce((a, b) => a + b, 0);
  const s = cache?.stats();
  const decodeCache = s && afterPrefill ? { hits: s.hits - afterPrefill.hits, misses: s.misses - afterPrefill.misses, hitRate: (s.hits - afterPrefill.hits) / (s.hits - afterPrefill.hits + s.misses - afterPrefill.misses) } : undefined;
  const experts = (model.parts.rawConfig.num_experts as number) ?? 0;
  console.log(
    JSON.stringify({
      engine: "moekit",
      budget,
      loadMs: Math.round(loadMs),
      prefillMs: Math.round(prefillMs),
      tokPerS: (steps / total) * 1000,
      medianStepMs: median(stepMs),
      rssMiB: rss(),
      cache: s ? { ...s, decode: decodeCache } : undefined,
      routing: routingStats(routed.map((calls) => calls.slice(1)), experts),
    }),
  );
}
