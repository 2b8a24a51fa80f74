/**
 * Experts on the CPU beside a GPU, timed: the model scope's synthetic Qwen1.5-MoE-A2.7B (seeded bf16 weights) on
 * webgpu alone, with its routers and routed experts on the cpu backend (`{ rest: "webgpu", experts: "cpu" }`,
 * llama.cpp's --cpu-moe), and on cpu alone: prefill 1×128 (ms to the first token) and decode (a 16-token prompt,
 * then greedy steps; tok/s), the median of --runs after one warm-up. For bench/webgpu/device-check.sh on a lent
 * GPU; on Mesa lavapipe (a CPU software adapter) the figures are not GPU figures.
 *
 *   node --import tsx bench/webgpu/placement.ts [--layers 2] [--new 32] [--runs 3] [--placements webgpu,webgpu+cpu,cpu]
 *        [--tiny 1] [--json FILE]
 *
 * --tiny 1: small dimensions (hidden 256, 8 experts, vocab 1024) for a dry run of the script.
 */
import { writeFileSync } from "node:fs";
import type { BackendChoice } from "../../src/backends/by-name.js";
import { argmaxRows, modelSource, seededIds } from "../../src/bench/model-run.js";
import { median } from "../../src/bench/stats.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { Tensor } from "../../src/tensor.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const LAYERS = Number(args.get("layers") ?? 2);
const NEW = Number(args.get("new") ?? 32);
const RUNS = Number(args.get("runs") ?? 3);
const PLACEMENTS = (args.get("placements") ?? "webgpu,webgpu+cpu,cpu").split(",");
const TINY = args.get("tiny") === "1";
const TINY_DIMS = { hidden_size: 256, intermediate_size: 512, moe_intermediate_size: 128, shared_expert_intermediate_size: 512, num_experts: 8, num_attention_heads: 4, num_key_value_heads: 4, head_dim: 64, vocab_size: 1024 };

const BACKENDS: Record<string, BackendChoice> = {
  webgpu: "webgpu",
  "webgpu+cpu": { rest: "webgpu", experts: "cpu" },
  cpu: "cpu",
};

async function nextId(model: MoeForCausalLM, ids: Int32Array<ArrayBuffer>, cache: ReturnType<MoeForCausalLM["newCache"]>): Promise<number> {
  const { logits } = await model.forward(Tensor.from(ids, [1, ids.length]), { cache, logitsToKeep: 1 });
  return argmaxRows((await logits.data()) as Float32Array, 1, model.vocabSize)[0]!;
}

async function prefillMs(model: MoeForCausalLM): Promise<number> {
  const cache = model.newCache();
  const t0 = performance.now();
  await nextId(model, seededIds(128, model.vocabSize, 0), cache);
  return performance.now() - t0;
}

async function decodeTokPerS(model: MoeForCausalLM): Promise<number> {
  const cache = model.newCache();
  let next = await nextId(model, seededIds(16, model.vocabSize, 1), cache);
  const t0 = performance.now();
  for (let i = 0; i < NEW; i++) next = await nextId(model, Int32Array.of(next), cache);
  return (NEW / (performance.now() - t0)) * 1000;
}

const rows: { placement: string; backend: string; prefill_ms: number; decode_tok_s: number }[] = [];
const ckpt = await modelSource({ layers: LAYERS, positions: 4096, seed: 0, dtype: "bfloat16", ...(TINY ? { dims: TINY_DIMS } : {}) });
for (const name of PLACEMENTS) {
  const backend = BACKENDS[name];
  if (!backend) throw new Error(`--placements: '${name}' is not one of ${Object.keys(BACKENDS).join(", ")}`);
  const model = await AutoModelForCausalLM.fromPretrained(ckpt, { backend, onWarning: () => undefined });
  try {
    await prefillMs(model);
    const p: number[] = [];
    const d: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      p.push(await prefillMs(model));
      d.push(await decodeTokPerS(model));
    }
    rows.push({ placement: name, backend: model.backend.name, prefill_ms: median(p), decode_tok_s: median(d) });
  } finally {
    model.dispose();
  }
}
console.log(`synthetic Qwen1.5-MoE-A2.7B${TINY ? " (tiny dims)" : ""}, ${LAYERS} layers, bf16 weights; median of ${RUNS} runs\n`);
console.log("| placement | backend | prefill 1×128 ms | decode tok/s (16 + " + NEW + ") |\n| --- | --- | ---: | ---: |");
for (const r of rows) console.log(`| ${r.placement} | ${r.backend} | ${r.prefill_ms.toFixed(1)} | ${r.decode_tok_s.toFixed(2)} |`);
if (args.get("json")) writeFileSync(args.get("json")!, JSON.stringify(rows, null, 2));
