import { CpuBackend } from "../../src/backends/cpu/index.js";
import { modelSource, seededIds } from "../../src/bench/model-run.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { Tensor } from "../../src/tensor.js";
const be = new CpuBackend({ threads: 2, compute: "bfloat16" });
const ckpt = await modelSource({ layers: 2, positions: 8192, seed: 0, dtype: "bfloat16" });
const model = (await AutoModelForCausalLM.fromPretrained(ckpt, { backend: be, onWarning: () => undefined })) as MoeForCausalLM;
const [B, S] = (process.argv[2] ?? "1x128").split("x").map(Number) as [number, number];
const x = seededIds(B * S, model.vocabSize, 0);
async function prefill() { const cache = model.newCache(); try { const { logits } = await model.forward(Tensor.from(x, [B, S]), { cache, logitsToKeep: 1 }); await logits.data(); } finally { for (const id of cache.sequences) cache.removeSequence(id); } }
for (let i = 0; i < 3; i++) await prefill();
const { Session } = await import("node:inspector/promises");
const s = new Session(); s.connect();
await s.post("Profiler.enable"); await s.post("Profiler.setSamplingInterval", { interval: 100 });
await s.post("Profiler.start");
const t0 = performance.now();
for (let i = 0; i < 20; i++) await prefill();
const el = performance.now() - t0;
const { profile } = (await s.post("Profiler.stop")) as any;
const self = new Map<string, number>();
const byId = new Map<number, any>(); for (const n of profile.nodes) byId.set(n.id, n);
const dt = profile.timeDeltas as number[]; const samples = profile.samples as number[];
for (let i = 0; i < samples.length; i++) { const n = byId.get(samples[i]!); const cf = n.callFrame; const key = `${cf.functionName || "(anon)"} ${cf.url.replace(/.*\/src\//, "")}:${cf.lineNumber + 1}`; self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0)); }
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
console.log(`per forward ${(el / 20).toFixed(1)} ms`);
for (const [k, v] of rows) console.log((v / 1000 / 20).toFixed(2).padStart(7), "ms/fwd", k);
