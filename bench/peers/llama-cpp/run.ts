/**
 * The llama.cpp peer on one GGUF, printed as one JSON line: load time, prefill B×S (ms until every
 * sequence of the batch has its first token, median over runs) and decode (a 16-token prompt, then 64
 * greedy decode steps, each one cached forward; tok/s = steps / their time, median over runs).
 * `--case` runs one part only (`moekit bench --scope model` runs each case right after its probes):
 * prefill (the grid), decode, or context (a prompt of --context tokens evaluated in batches of 512, timed
 * once, then --new decode steps at that context).
 *
 *   node --import tsx bench/peers/llama-cpp/run.ts --model m.gguf [--threads 2] [--grid 1x128,4x128]
 *        [--prompt 16] [--new 64] [--runs 3] [--warmup 1] [--case all|prefill|decode|context] [--context N]
 *   node --import tsx bench/peers/llama-cpp/run.ts --check      # is node-llama-cpp installed and loadable?
 */
import { parseArgs } from "node:util";
import { FileSource } from "../../../src/loading/node-files.js";
import { GgufFile } from "../../../src/loading/gguf/reader.js";
import { LlamaCppPeer, seededIds } from "./client.js";
import { cpuLlama, PINNED_VERSION } from "./node-llama-cpp.js";


function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function parseGrid(text: string): { batch: number; seq: number }[] {
  return text.split(",").map((p) => {
    const m = /^(\d+)x(\d+)$/.exec(p.trim());
    if (!m) throw new Error(`--grid: '${p}' is not BxS (e.g. 1x128)`);
    return { batch: Number(m[1]), seq: Number(m[2]) };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      threads: { type: "string", default: "2" },
      grid: { type: "string", default: "1x128" },
      prompt: { type: "string", default: "16" },
      new: { type: "string", default: "64" },
      runs: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      seed: { type: "string", default: "0" },
      case: { type: "string", default: "all" },
      context: { type: "string" },
      check: { type: "boolean", default: false },
    },
  });
  if (values.check) {
    const llama = await cpuLlama();
    console.log(JSON.stringify({ peer: "llama.cpp", node_llama_cpp: PINNED_VERSION, build: llama.buildType, system: llama.systemInfo.trim() }));
    return;
  }
  if (!values.model) throw new Error("--model PATH.gguf is required");
  const threads = Number(values.threads);
  const grid = parseGrid(values.grid!);
  const promptLen = Number(values.prompt);
  const newTokens = Number(values.new);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  const seed = Number(values.seed);

  const which = values.case!;
  if (!["all", "prefill", "decode", "context"].includes(which)) throw new Error(`--case must be all, prefill, decode or context, got '${which}'`);
  const gguf = await GgufFile.open(new FileSource(values.model));
  const tokens = gguf.get("tokenizer.ggml.tokens");
  const vocab = tokens?.type === "array" ? tokens.value.values.length : 32000;
  const hi = Math.min(vocab, 32000);
  if (which === "context") {
    const context = Number(values.context);
    if (!Number.isInteger(context) || context < 1) throw new Error(`--context must be a positive integer, got '${values.context}'`);
    console.log(JSON.stringify(await longContext(values.model, threads, context, newTokens, seed, hi)));
    return;
  }

  const maxBatch = Math.max(1, ...grid.map((g) => g.batch));
  const maxSeq = Math.max(promptLen + newTokens + 1, ...grid.map((g) => g.seq + 1));
  const peer = await LlamaCppPeer.open({
    modelPath: values.model,
    threads,
    sequences: maxBatch,
    contextSize: maxSeq,
    batchSize: Math.max(512, ...grid.map((g) => g.batch * g.seq)),
  });
  try {
    const prefill = [];
    for (const g of which === "decode" ? [] : grid) {
      const prompts = Array.from({ length: g.batch }, (_, b) => seededIds(g.seq, 0, hi, seed + 7919 * b + g.seq));
      for (let i = 0; i < warmup; i++) await peer.prefill(prompts);
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) ms.push(await peer.prefill(prompts));
      prefill.push({ batch: g.batch, seq: g.seq, ms: median(ms), ms_runs: ms });
    }
    const prompt = seededIds(promptLen, 0, hi, seed + 1);
    for (let i = 0; i < (which === "prefill" ? 0 : warmup); i++) await peer.greedy(prompt, Math.min(newTokens, 2));
    const tps: number[] = [];
    const steps: number[] = [];
    let ids: number[] = [];
    for (let i = 0; i < (which === "prefill" ? 0 : runs); i++) {
      const r = await peer.greedy(prompt, newTokens);
      tps.push((1000 * r.stepMs.length) / r.stepMs.reduce((a, b) => a + b, 0));
      steps.push(...r.stepMs);
      ids = r.ids;
    }
    console.log(
      JSON.stringify({
        peer: "llama.cpp",
        node_llama_cpp: PINNED_VERSION,
        model: values.model,
        threads,
        load_ms: peer.loadMs,
        prefill,
        decode: which === "prefill" ? null : { prompt_len: promptLen, new_tokens: newTokens, tokens_per_s: median(tps), tokens_per_s_runs: tps, ms_per_token: median(steps), greedy_ids: ids },
        peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      }),
    );
  } finally {
    await peer.close();
  }
}

/** One prompt of `context` ids evaluated in batches of 512 (timed once), then `newTokens` greedy steps at that context. */
async function longContext(modelPath: string, threads: number, context: number, newTokens: number, seed: number, hi: number) {
  const peer = await LlamaCppPeer.open({ modelPath, threads, sequences: 1, contextSize: context + newTokens + 1, batchSize: 512 });
  try {
    const r = await peer.greedy(seededIds(context, 0, hi, seed + 2), newTokens);
    const tps = (1000 * r.stepMs.length) / r.stepMs.reduce((a, b) => a + b, 0);
    return {
      peer: "llama.cpp",
      node_llama_cpp: PINNED_VERSION,
      model: modelPath,
      threads,
      load_ms: peer.loadMs,
      context: { context, new_tokens: newTokens, prefill_ms: r.prefillMs, tokens_per_s: tps, ms_per_token: median(r.stepMs) },
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    await peer.close();
  }
}

main().catch((e: Error) => {
  console.error(`llama.cpp peer: ${e.message}`);
  process.exit(1);
});
