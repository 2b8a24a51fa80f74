/**
 * The llama.cpp peer on one GGUF, printed as one JSON line: load time, prefill B×S (ms until every
 * sequence of the batch has its first token, median over runs) and decode (a 16-token prompt, then 64
 * greedy decode steps, each one cached forward; tok/s = steps / their time, median over runs).
 *
 *   node --import tsx bench/peers/llama-cpp/run.ts --model m.gguf [--threads 2] [--grid 1x128,4x128]
 *        [--prompt 16] [--new 64] [--runs 3] [--warmup 1]
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

  const gguf = await GgufFile.open(new FileSource(values.model));
  const tokens = gguf.get("tokenizer.ggml.tokens");
  const vocab = tokens?.type === "array" ? tokens.value.values.length : 32000;
  const hi = Math.min(vocab, 32000);

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
    for (const g of grid) {
      const prompts = Array.from({ length: g.batch }, (_, b) => seededIds(g.seq, 0, hi, seed + 7919 * b + g.seq));
      for (let i = 0; i < warmup; i++) await peer.prefill(prompts);
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) ms.push(await peer.prefill(prompts));
      prefill.push({ batch: g.batch, seq: g.seq, ms: median(ms), ms_runs: ms });
    }
    const prompt = seededIds(promptLen, 0, hi, seed + 1);
    for (let i = 0; i < warmup; i++) await peer.greedy(prompt, Math.min(newTokens, 2));
    const tps: number[] = [];
    const steps: number[] = [];
    let ids: number[] = [];
    for (let i = 0; i < runs; i++) {
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
        decode: { prompt_len: promptLen, new_tokens: newTokens, tokens_per_s: median(tps), tokens_per_s_runs: tps, ms_per_token: median(steps), greedy_ids: ids },
        peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      }),
    );
  } finally {
    await peer.close();
  }
}

main().catch((e: Error) => {
  console.error(`llama.cpp peer: ${e.message}`);
  process.exit(1);
});
