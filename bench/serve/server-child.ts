/**
 * The server under load: `moekit serve` on the synthetic Qwen1.5-MoE-A2.7B (real dimensions, `--layers`
 * layers, seeded bf16 weights, as `moekit bench` builds it) with the synthetic byte-level tokenizer, on
 * the cpu backend. Prints `READY <url>` when it listens. SIGUSR2 runs a garbage collection (started with
 * --expose-gc) so that resident memory is read without garbage; SIGTERM stops it (exit 0).
 *
 *   node --expose-gc --import tsx bench/serve/server-child.ts [--layers 2] [--threads 2] [--max-batch 16]
 *     [--max-queue 64] [--prefill-chunk 64] [--non-deterministic] [--compute bfloat16|float32]
 */
import { createCpuBackend } from "../../src/backends/cpu/index.js";
import { qwen15MoeSynthetic } from "../../src/bench/qwen-synthetic.js";
import { loadCausalLM } from "../../src/pretrained/auto-model.js";
import { ModelServer } from "../../src/serve/server.js";
import { syntheticTokenizer } from "./synthetic-tokenizer.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const layers = Number(arg("--layers", "2"));
const threads = Number(arg("--threads", "2"));
const compute = arg("--compute", "bfloat16") as "bfloat16" | "float32";
const backend = createCpuBackend({ threads, compute });
const model = await loadCausalLM(qwen15MoeSynthetic(layers, "bfloat16"), { backend });
// the synthetic config names no eos: answers run to max_tokens (a random model would rarely pick one anyway)
const { tokenizer } = syntheticTokenizer(model.vocabSize);
const server = new ModelServer({
  model,
  tokenizer,
  modelId: `synthetic-qwen1.5-moe-${layers}l`,
  maxBatch: Number(arg("--max-batch", "16")),
  maxQueue: Number(arg("--max-queue", "64")),
  prefillChunk: Number(arg("--prefill-chunk", "64")),
  timeoutMs: Number(arg("--timeout-ms", "120000")),
  deterministic: !process.argv.includes("--non-deterministic"),
});
const { url } = await server.listen(Number(arg("--port", "0")), "127.0.0.1");
process.on("SIGUSR2", () => (globalThis as { gc?: () => void }).gc?.());
process.once("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
process.stdout.write(`READY ${url} ${model.backend.name} ${compute} ${server.engine.deterministic ? "deterministic" : "non-deterministic"}\n`);
