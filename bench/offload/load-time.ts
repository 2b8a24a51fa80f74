/**
 * fromPretrained time and resident memory of a mapped checkpoint, warm (file in the page cache) or cold
 * (evicted first), then the first token (a 16-token prompt's prefill and one decode step). One JSON line:
 *
 *   node --expose-gc --import tsx bench/offload/load-time.ts --model DIR|FILE.gguf [--cold] [--threads 2] [--no-mmap]
 */
import { parseArgs } from "node:util";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { cachedMiB, evictFiles, rss, weightFiles } from "./memory.js";

const { values } = parseArgs({
  options: { model: { type: "string" }, cold: { type: "boolean", default: false }, threads: { type: "string", default: "2" }, "no-mmap": { type: "boolean", default: false } },
});
if (!values.model) throw new Error("--model DIR|FILE.gguf is required");
if (values["no-mmap"]) process.env.MOEKIT_MMAP = "0";
const files = weightFiles(values.model);
const leftCached = values.cold ? evictFiles(files) : undefined;
const before = rss();
const cachedBefore = cachedMiB(files);
let t0 = performance.now();
const model = await AutoModelForCausalLM.fromPretrained(values.model, { backend: "cpu", threads: Number(values.threads) });
const loadMs = performance.now() - t0;
const afterLoad = rss();
const prompt = Tensor.from(Int32Array.from({ length: 16 }, (_, i) => 100 + 37 * i), [1, 16]);
t0 = performance.now();
const cache = model.newCache();
const { logits } = await model.forward(prompt, { cache, logitsToKeep: 1 });
const next = await logits.data();
let best = 0;
for (let i = 1; i < next.length; i++) if (next[i]! > next[best]!) best = i;
const prefillMs = performance.now() - t0;
t0 = performance.now();
await model.forward(Tensor.from(new Int32Array([best]), [1, 1]), { cache, logitsToKeep: 1 });
const decodeMs = performance.now() - t0;
const afterToken = rss();
console.log(
  JSON.stringify({
    model: values.model,
    mmap: !values["no-mmap"],
    cold: values.cold,
    leftCachedMiB: leftCached,
    fileCachedBeforeMiB: Math.round(cachedBefore),
    loadMs: Math.round(loadMs),
    firstTokenMs: Math.round(prefillMs),
    secondTokenMs: Math.round(decodeMs),
    rssMiB: { before: before.rss, afterLoad: afterLoad.rss, afterFirstToken: afterToken.rss },
    rssFileMiB: { afterLoad: afterLoad.file, afterFirstToken: afterToken.file },
    rssAnonMiB: { afterLoad: afterLoad.anon, afterFirstToken: afterToken.anon },
    fileCachedAfterMiB: Math.round(cachedMiB(files)),
  }),
);
