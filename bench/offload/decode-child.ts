/**
 * One decode run (the child that bench/offload/run.ts starts inside a memory cgroup): load, a 16-token
 * prompt, then `--new` one-token decode steps (KV cache growing, next-token logits each step) fed from a
 * seeded token stream rather than the model's own greedy picks (a random model's greedy output soon
 * repeats one token, which would route every step to the same experts): each next token repeats one of the
 * last 8 with probability 1/2, else is drawn uniformly — the temporal correlation of real text, stated.
 * Both engines decode the same stream. Prints one JSON line with tok/s (steps / their total time), memory,
 * and for moekit the expert-cache counters and the routing it saw (skew, step-to-step overlap).
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
/** The decode stream described above. */
function tokenStream(n: number, lo: number, hi: number, seed: number): number[] {
  const r = seededIds(3 * n, 0, 1 << 30, seed).map((x) => x / (1 << 30));
  const out: number[] = [...prompt];
  for (let i = 0; i < n; i++) {
    const repeat = r[3 * i]! < 0.5;
    out.push(repeat ? out[out.length - 1 - Math.floor(r[3 * i + 1]! * 8)]! : lo + Math.floor(r[3 * i + 2]! * (hi - lo)));
  }
  return out.slice(prompt.length);
}
const stream = tokenStream(steps, 300, Number(values.vocab) - 1, 11);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (values.engine === "llama.cpp") {
  const { LlamaCppPeer } = await import("../peers/llama-cpp/client.js");
  const t0 = performance.now();
  const peer = await LlamaCppPeer.open({ modelPath: values.model, threads });
  const loadMs = performance.now() - t0;
  const seq = peer.sequences[0]!;
  const GREEDY = { generateNext: { token: true, options: { temperature: 0 } } };
  let t = performance.now();
  await seq.controlledEvaluate(prompt.map((tok, i) => (i === prompt.length - 1 ? [tok, GREEDY] : tok)));
  const prefillMs = performance.now() - t;
  const stepMs: number[] = [];
  for (const tok of stream) {
    t = performance.now();
    const out = await seq.controlledEvaluate([[tok, GREEDY]]);
    if (out[0]?.next.token === undefined) throw new Error("node-llama-cpp returned no next token");
    stepMs.push(performance.now() - t);
  }
  const total = stepMs.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ engine: "llama.cpp", loadMs: Math.round(loadMs), prefillMs: Math.round(prefillMs), tokPerS: (steps / total) * 1000, medianStepMs: median(stepMs), rssMiB: rss() }));
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
  argmax((await first.logits.data()) as Float32Array);
  const afterPrefill = cache?.stats();
  const stepMs: number[] = [];
  for (const tok of stream) {
    t = performance.now();
    const { logits } = await model.forward(Tensor.from(new Int32Array([tok]), [1, 1]), { cache: kv, logitsToKeep: 1 });
    argmax((await logits.data()) as Float32Array);
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
