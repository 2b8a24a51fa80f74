/**
 * Decode steps of a loaded checkpoint: a 16-token prompt, then `--steps` greedy single-token forwards;
 * the median and min step time and RSS at the end. One JSON line (compare builds back to back):
 *
 *   node --import tsx bench/offload/decode-steps.ts --model DIR|FILE.gguf [--steps 16] [--threads 2]
 */
import { parseArgs } from "node:util";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { rss } from "./memory.js";

const { values } = parseArgs({ options: { model: { type: "string" }, steps: { type: "string", default: "16" }, threads: { type: "string", default: "2" } } });
if (!values.model) throw new Error("--model DIR|FILE.gguf is required");
const model = await AutoModelForCausalLM.fromPretrained(values.model, { backend: "cpu", threads: Number(values.threads) });
const cache = model.newCache();
const argmax = (v: Float32Array | Int32Array): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
};
let { logits } = await model.forward(Tensor.from(Int32Array.from({ length: 16 }, (_, i) => 100 + 37 * i), [1, 16]), { cache, logitsToKeep: 1 });
const ms: number[] = [];
for (let s = 0; s < Number(values.steps); s++) {
  const next = argmax(await logits.data());
  const t0 = performance.now();
  ({ logits } = await model.forward(Tensor.from(new Int32Array([next]), [1, 1]), { cache, logitsToKeep: 1 }));
  await logits.data();
  ms.push(performance.now() - t0);
}
ms.sort((a, b) => a - b);
console.log(JSON.stringify({ model: values.model, steps: ms.length, medianMs: Math.round(ms[ms.length >> 1]!), minMs: Math.round(ms[0]!), rssMiB: Math.round(rss().rss) }));
model.dispose();
