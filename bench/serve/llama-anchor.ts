/**
 * The llama-server anchor of the serve load test: llama.cpp's continuous batching (one context, several
 * sequences; node-llama-cpp gathers the sequences' pending tokens into one llama_decode per step) on the
 * same model as a GGUF, measured as bench/serve/load.ts measures moekit: one greedy stream of --new
 * tokens (3 runs), then --streams streams at once; aggregate decode tok/s (tokens after each stream's
 * first / span from the first stream's first token to the last stream's last) and inter-token
 * latency percentiles. Prompts are --prompt seeded random ids (the GGUF's own tokenizer is not the
 * load test's; prompt length is what matters for the timing).
 *
 *   bash bench/peers/llama-cpp/install.sh
 *   node --import tsx bench/peers/llama-cpp/write-qwen-gguf.ts --layers 2 --out /tmp/qwen-moe-2l-bf16.gguf
 *   node --import tsx bench/serve/llama-anchor.ts --model /tmp/qwen-moe-2l-bf16.gguf [--threads 2]
 *     [--streams 8] [--new 48] [--prompt 32]
 */
import { performance } from "node:perf_hooks";
import { LlamaCppPeer, seededIds } from "../peers/llama-cpp/client.js";
import type { LlamaContextSequence, Token } from "../peers/llama-cpp/node-llama-cpp.js";
import { percentile, type StreamTiming } from "./traffic.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const modelPath = arg("--model", "");
if (!modelPath) throw new Error("--model <file.gguf> is required (bench/peers/llama-cpp/write-qwen-gguf.ts writes the synthetic model)");
const threads = Number(arg("--threads", "2"));
const streams = Number(arg("--streams", "8"));
const newTokens = Number(arg("--new", "48"));
const promptLen = Number(arg("--prompt", "32"));
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

/** One greedy stream in `seq`: the prompt, then one token per evaluation, each token's arrival time kept. */
async function stream(seq: LlamaContextSequence, prompt: Token[]): Promise<StreamTiming> {
  await seq.clearHistory();
  const t0 = performance.now();
  const times: number[] = [];
  let input: Token[] = prompt;
  for (let i = 0; i < newTokens; i++) {
    const out = await seq.controlledEvaluate(input.map((t, j) => (j === input.length - 1 ? [t, { generateNext: { token: true, options: { temperature: 0 } } }] : t)));
    const tok = out[input.length - 1]?.next.token;
    if (tok === undefined || tok === null) throw new Error("node-llama-cpp generated no token");
    times.push(performance.now());
    input = [tok];
  }
  return { ttft: times[0]! - t0, gaps: times.slice(1).map((t, i) => t - times[i]!), first: times[0]!, last: times.at(-1)!, completionTokens: times.length, text: "" };
}

function summary(runs: StreamTiming[]) {
  const first = Math.min(...runs.map((r) => r.first));
  const last = Math.max(...runs.map((r) => r.last));
  const tokens = runs.reduce((n, r) => n + r.completionTokens - 1, 0);
  const gaps = runs.flatMap((r) => r.gaps);
  return { decodeTps: (tokens / (last - first)) * 1000, itlP50: percentile(gaps, 0.5), itlP99: percentile(gaps, 0.99), ttftMs: percentile(runs.map((r) => r.ttft), 0.5) };
}

const peer = await LlamaCppPeer.open({ modelPath, threads, sequences: streams, contextSize: streams * (promptLen + newTokens + 16), batchSize: 512 });
try {
  log(`llama.cpp: ${streams} sequences, ${threads} threads; warm-up`);
  await stream(peer.sequences[0]!, seededIds(8, 300, 150_000, 999));
  const single: StreamTiming[] = [];
  for (let i = 0; i < 3; i++) single.push(await stream(peer.sequences[0]!, seededIds(promptLen, 300, 150_000, i)));
  const gaps = single.flatMap((r) => r.gaps);
  const one = { decodeTps: percentile(single.map((r) => summary([r]).decodeTps), 0.5), itlP50: percentile(gaps, 0.5), itlP99: percentile(gaps, 0.99) };
  const many = summary(await Promise.all(peer.sequences.map((seq, i) => stream(seq, seededIds(promptLen, 300, 150_000, 100 + i)))));
  const result = { peer: "llama.cpp (node-llama-cpp 3.21.1)", threads, streams, newTokens, promptLen, date: new Date().toISOString(), single: one, concurrent: { streams, ...many }, aggregateOverSingle: many.decodeTps / one.decodeTps, p99Ratio: many.itlP99 / one.itlP99 };
  log(JSON.stringify(result));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await peer.close();
}
