/**
 * Where a served decode step's time goes (run by hand; figures go to docs/performance.md):
 *
 *   node --import tsx bench/serve/step-profile.ts [--layers 2] [--threads 2] [--rows 1,8] [--steps 8]
 *     [--non-deterministic]
 *
 * The engine of `moekit serve` on the synthetic Qwen1.5-MoE-A2.7B (bench/serve/server-child.ts' model),
 * without HTTP: for each row count, that many greedy sequences decode together and every step is split
 * into its parts, timed around the calls: attention (per layer), router, routed experts, shared
 * expert, lm head, the rest of the forward (embedding, norms, adds, cache), and what the engine does
 * outside the forward (token choice, queues, the event-loop turn). Medians over --steps steps.
 */
import { createCpuBackend } from "../../src/backends/cpu/index.js";
import { qwen15MoeSynthetic } from "../../src/bench/qwen-synthetic.js";
import { loadCausalLM } from "../../src/pretrained/auto-model.js";
import { BatchEngine } from "../../src/serve/engine/scheduler.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const layers = Number(arg("--layers", "2"));
const threads = Number(arg("--threads", "2"));
const rowCounts = arg("--rows", "1,8").split(",").map(Number);
const steps = Number(arg("--steps", "8"));
const deterministic = !process.argv.includes("--non-deterministic");
const compute = arg("--compute", "bfloat16") as "bfloat16" | "float32";

const backend = createCpuBackend({ threads, compute });
const model = await loadCausalLM(qwen15MoeSynthetic(layers, "bfloat16"), { backend });

/** Milliseconds per part in the current step. */
let parts: Record<string, number> = {};
const add = (name: string, ms: number) => (parts[name] = (parts[name] ?? 0) + ms);

function wrap<T extends object>(obj: T, method: keyof T & string, name: string): void {
  const f = (obj[method] as (...a: unknown[]) => unknown).bind(obj);
  (obj as Record<string, unknown>)[method] = (...a: unknown[]) => {
    const t0 = performance.now();
    const r = f(...a);
    if (r instanceof Promise) return r.then((v) => (add(name, performance.now() - t0), v));
    add(name, performance.now() - t0);
    return r;
  };
}

const p = model.parts;
for (const layer of p.layers) {
  wrap(layer.mixer, "forward", "attention");
  if (layer.ffn.kind === "moe") {
    const block = layer.ffn.block;
    wrap(block.router, "route", "router");
    wrap(block.experts, "forward", "routed experts");
    if (block.shared) wrap(block.shared.mlp, "forward", "shared expert");
  }
}
wrap(p.lmHead, "forward", "lm head");

/** One record per forward: its parts, and the period from its start to the next forward's start. */
const records: Record<string, number>[] = [];
let lastStart = 0;
const forward = model.forward.bind(model);
model.forward = async (...a: Parameters<typeof forward>) => {
  const t0 = performance.now();
  if (records.length > 0) {
    const prev = records[records.length - 1]!;
    prev.step = t0 - lastStart;
    prev["outside the forward"] = prev.step - prev.forward!;
  }
  lastStart = t0;
  parts = {};
  const r = await forward(...a);
  const inside = ["attention", "router", "routed experts", "shared expert", "lm head"].reduce((n, k) => n + (parts[k] ?? 0), 0);
  parts.forward = performance.now() - t0;
  parts["forward, other"] = parts.forward - inside;
  parts.rows = a[0].shape[0]!;
  parts.tokens = a[0].size;
  records.push(parts);
  return r;
};

const engine = new BatchEngine(model, { maxBatch: 16, deterministic });
const prompt = (i: number) => Array.from({ length: 12 }, (_, j) => (i * 7919 + j * 104729) % 9973);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const out: Record<string, Record<string, number>> = {};
for (const rows of rowCounts) {
  records.length = 0;
  const gens = Array.from({ length: rows }, (_, i) => engine.submit(prompt(i + rows * 100), { maxNewTokens: steps + rows + 3, doSample: false }));
  await Promise.all(gens.map((g) => g.done));
  // decode steps with every sequence in (not the last one: no next forward closes its period)
  const decode = records.filter((r) => r.rows === rows && r.tokens === rows && r.step !== undefined);
  const keys = ["step", "forward", "outside the forward", "attention", "router", "routed experts", "shared expert", "lm head", "forward, other"];
  out[`${rows} rows`] = { ...Object.fromEntries(keys.map((k) => [k, Number(median(decode.map((x) => x[k] ?? 0)).toFixed(2))])), steps: decode.length };
  process.stderr.write(`${rows} rows: ${JSON.stringify(out[`${rows} rows`])}\n`);
}
await engine.close();
process.stdout.write(`${JSON.stringify({ layers, threads, compute, deterministic, steps, parts: out }, null, 2)}\n`);
