/**
 * Decode speed of a synthetic Qwen3-Next (bench/models/qwen3-next-config.ts: the real hidden sizes, 3 Gated
 * DeltaNet + 1 attention layer, 64 experts by default) at several context lengths, moekit beside transformers
 * on the very same weights: the checkpoint is written once by transformers (bench/peers/transformers_qwen3_next.py
 * `write`, its own seeded init) and loaded by both. For each context: moekit (generation bench, a fresh child:
 * prefill of `context` seeded tokens, then `--new-tokens` greedy cached decode steps) and the transformers peer
 * (torch CPU, its torch fallbacks for the linear layers) in turn, never at once.
 *
 *   node --import tsx bench/models/qwen3-next.ts [--dir /tmp/moekit-qwen3-next] [--layers 4] [--experts 64]
 *     [--contexts 128,4096] [--new-tokens 16] [--threads N] [--impl grouped_mm] [--no-peer] [--peer-dtype bfloat16|float32]
 *     [--json file]
 * --peer-dtype float32 loads the bfloat16 checkpoint into float32 in transformers (torch CPU is often faster so).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { GenerationRecord, GenerationSpec } from "../../src/bench/generation.js";
import { int, strictArgs } from "../../src/bench/options.js";
import { runInChild } from "../../src/bench/spawn.js";
import { qwen3NextConfig } from "./qwen3-next-config.js";

const PEER = fileURLToPath(new URL("../peers/transformers_qwen3_next.py", import.meta.url));
const PYTHON = process.env.MOEKIT_PYTHON ?? (existsSync("/work/venv/bin/python") ? "/work/venv/bin/python" : "python3");

interface PeerResult {
  context: number;
  prefill_ms: number;
  decode_ms: number[];
  decode_ms_median: number;
  decode_tokens_per_s: number;
  load_ms: number;
  peak_rss_bytes: number;
  threads: number;
  torch: string;
  transformers: string;
  kernels: Record<string, boolean>;
}

interface Row {
  context: number;
  moekit: GenerationRecord;
  peer: PeerResult | null;
}

function python(args: string[]): string {
  const r = spawnSync(PYTHON, [PEER, ...args], { encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "inherit"] });
  if (r.error) throw new Error(`qwen3-next bench: could not run ${PYTHON}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`qwen3-next bench: ${PYTHON} ${PEER} ${args[0]} exited with ${r.status}`);
  const last = r.stdout.trim().split("\n").pop() ?? "";
  return last;
}

/** Writes the checkpoint unless `dir` already holds one of the same shape. */
function ensureCheckpoint(dir: string, cfg: Record<string, unknown>, seed: number, note: (s: string) => void): void {
  const path = `${dir}/config.json`;
  if (existsSync(path)) {
    const have = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    for (const k of ["num_hidden_layers", "num_experts", "hidden_size", "linear_num_value_heads"]) {
      if (have[k] !== cfg[k]) throw new Error(`qwen3-next bench: ${dir} holds a checkpoint with ${k} = ${String(have[k])}, not ${String(cfg[k])}; remove it or pick another --dir`);
    }
    note(`using the checkpoint in ${dir}`);
    return;
  }
  note(`writing the checkpoint to ${dir} (transformers, seed ${seed}) ...`);
  note(python(["write", dir, JSON.stringify({ config: cfg, dtype: "bfloat16", seed })]));
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

function report(rows: Row[], meta: { layers: number; experts: number; peerDtype: string; load: number[][] }): string {
  const r0 = rows[0]!.moekit;
  const p0 = rows.find((r) => r.peer)?.peer;
  const lines = [
    `synthetic Qwen3-Next (hidden 2048, ${meta.layers} layers: ${meta.layers - Math.ceil(meta.layers / 4)} Gated DeltaNet + ${Math.ceil(meta.layers / 4)} attention, ` +
      `${meta.experts} experts × 512 top-10 + shared, vocab 151936), bfloat16 weights (${f(r0.weights_mb / 1e3, 2)} GB), batch 1, greedy`,
    `moekit: backend ${r0.backend}${r0.threads ? ` (${r0.threads} threads)` : ""}, experts ${r0.implementation}, float32 compute` +
      (p0 ? `; transformers ${p0.transformers} (torch ${p0.torch}, ${p0.threads} threads, ${meta.peerDtype} compute, fla/causal_conv1d installed: ${JSON.stringify(p0.kernels)})` : "; no peer"),
    `machine: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}; load average (1, 5, 15 min) at start ${meta.load[0]!.map((x) => f(x, 2)).join(", ")}, at end ${meta.load[1]!.map((x) => f(x, 2)).join(", ")}`,
    "",
    "| context | moekit decode tok/s | ms/token (median, p90) | transformers decode tok/s | ms/token (median) | moekit / transformers | prefill ms moekit / transformers |",
    "|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { context, moekit: m, peer: p } of rows) {
    lines.push(
      `| ${context} | ${f(m.decode_tokens_per_s, 2)} | ${f(m.decode_ms_per_token)}, ${f(m.decode_ms_p90)} | ${p ? f(p.decode_tokens_per_s, 2) : "—"} | ${p ? f(p.decode_ms_median) : "—"} | ` +
        `${p ? `${f(m.decode_tokens_per_s / p.decode_tokens_per_s, 2)}x` : "—"} | ${f(m.prefill_ms, 0)} / ${p ? f(p.prefill_ms, 0) : "—"} |`,
    );
  }
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const v = strictArgs(
    argv,
    {
      dir: { type: "string" },
      layers: { type: "string" },
      experts: { type: "string" },
      contexts: { type: "string" },
      "new-tokens": { type: "string" },
      threads: { type: "string" },
      impl: { type: "string" },
      "no-peer": { type: "boolean" },
      "peer-dtype": { type: "string" },
      seed: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "bench/models/qwen3-next.ts",
  ) as Record<string, string | boolean | undefined>;
  const s = (k: string) => v[k] as string | undefined;
  if (v.help) {
    process.stdout.write(`${readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0]}*/\n`);
    return 0;
  }
  const peerDtype = s("peer-dtype") ?? "bfloat16";
  if (peerDtype !== "bfloat16" && peerDtype !== "float32") throw new Error(`--peer-dtype must be bfloat16 or float32, got '${peerDtype}'`);
  const layers = int("layers", s("layers"), 4, 2);
  const experts = int("experts", s("experts"), 64, 10);
  const seed = int("seed", s("seed"), 0, 0);
  const newTokens = int("new-tokens", s("new-tokens"), 16, 2);
  const threads = s("threads") === undefined ? undefined : int("threads", s("threads"), 0, 1);
  const contexts = (s("contexts") ?? "128,4096").split(",").map((x) => int("contexts", x.trim(), 0, 1));
  const dir = s("dir") ?? `${os.tmpdir()}/moekit-qwen3-next-${layers}l-${experts}e`;
  const cfg = qwen3NextConfig({ layers, experts });
  const note = (line: string) => process.stderr.write(`${line}\n`);
  const load = [os.loadavg()];

  ensureCheckpoint(dir, cfg, seed, note);
  const rows: Row[] = [];
  for (const context of contexts) {
    const spec: GenerationSpec = {
      model: dir,
      layers,
      impl: s("impl") ?? "grouped_mm",
      backend: "cpu",
      threads,
      promptLen: context,
      newTokens,
      runs: 1,
      warmup: 0,
      breakdown: false,
      seed,
    };
    note(`context ${context}: moekit ...`);
    const moekit = await runInChild<GenerationRecord>({ kind: "generate", spec });
    note(`  ${f(moekit.decode_tokens_per_s, 2)} tok/s decode, prefill ${f(moekit.prefill_ms, 0)} ms`);
    let peer: PeerResult | null = null;
    if (v["no-peer"] !== true) {
      note(`context ${context}: transformers ...`);
      peer = JSON.parse(python(["run", dir, JSON.stringify({ context, new_tokens: newTokens, threads: moekit.threads, dtype: peerDtype, seed, warmup: 0 })])) as PeerResult;
      note(`  ${f(peer.decode_tokens_per_s, 2)} tok/s decode, prefill ${f(peer.prefill_ms, 0)} ms`);
    }
    rows.push({ context, moekit, peer });
  }
  load.push(os.loadavg());
  const text = report(rows, { layers, experts, peerDtype, load });
  if (s("json") === "-") process.stdout.write(`${JSON.stringify({ rows, load, date: new Date().toISOString() }, null, 2)}\n`);
  else {
    process.stdout.write(`${text}\n`);
    if (s("json")) await writeFile(s("json")!, `${JSON.stringify({ rows, load, date: new Date().toISOString() }, null, 2)}\n`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  return 1;
});
