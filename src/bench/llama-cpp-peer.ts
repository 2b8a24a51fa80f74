/**
 * The llama.cpp peer of `--scope model`: bench/peers/llama-cpp/run.ts (node-llama-cpp 3.21.1's prebuilt CPU
 * llama.cpp, installed by bench/peers/llama-cpp/install.sh, never a dependency of moekit) in a fresh Node
 * process per case, on the synthetic model's GGUF in the same weights format (gguf-cache.ts).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ModelCase } from "./model-cases.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUN_SCRIPT = fileURLToPath(new URL("../../bench/peers/llama-cpp/run.ts", import.meta.url));
const PACKAGE = fileURLToPath(new URL("../../bench/peers/llama-cpp/node_modules/node-llama-cpp/package.json", import.meta.url));
export const LLAMA_CPP_INSTALL = "bash bench/peers/llama-cpp/install.sh";

/** Why the llama.cpp peer cannot run here, or null when it can (`root`: where the peer folder is looked for). */
export function llamaCppMissing(paths = { script: RUN_SCRIPT, pkg: PACKAGE }): string | null {
  if (!existsSync(paths.script)) return `${paths.script} is missing (the peers run from a moekit checkout)`;
  if (!existsSync(paths.pkg)) return `node-llama-cpp is not installed (it is an optional peer, not a dependency of moekit); install it with: ${LLAMA_CPP_INSTALL}`;
  return null;
}

export interface LlamaCppCaseResult {
  version: string;
  loadMs: number;
  prefillMs: number[];
  decodeTokPerS: number[];
  peakRssBytes: number;
}

interface RunLine {
  node_llama_cpp: string;
  load_ms: number;
  prefill?: { batch: number; seq: number; ms_runs: number[] }[];
  decode?: { tokens_per_s_runs: number[] } | null;
  context?: { prefill_ms: number; tokens_per_s: number };
  peak_rss_bytes: number;
}

function runNode(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", RUN_SCRIPT, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    p.on("error", (e) => resolve({ code: -1, stdout, stderr: e.message }));
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** run.ts's arguments for one case. */
export function llamaCppCaseArgs(c: ModelCase, o: { gguf: string; threads: number; warmup: number; iters: number; seed: number }): string[] {
  const base = ["--model", o.gguf, "--threads", String(o.threads), "--runs", String(o.iters), "--warmup", String(o.warmup), "--seed", String(o.seed)];
  if (c.kind === "prefill") return [...base, "--case", "prefill", "--grid", `${c.batch}x${c.seq}`];
  if (c.kind === "decode") return [...base, "--case", "decode", "--prompt", String(c.prompt), "--new", String(c.newTokens)];
  return [...base, "--case", "context", "--context", String(c.context), "--new", String(c.newTokens)];
}

export async function runLlamaCppCase(c: ModelCase, o: { gguf: string; threads: number; warmup: number; iters: number; seed: number }): Promise<LlamaCppCaseResult> {
  const r = await runNode(llamaCppCaseArgs(c, o));
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let out: RunLine | undefined;
  try {
    out = JSON.parse(last) as RunLine;
  } catch {
    /* reported below */
  }
  if (r.code !== 0 || !out) throw new Error((r.stderr.trim().split("\n").pop() ?? "") || `exit ${r.code}, output '${last}'`);
  return {
    version: out.node_llama_cpp,
    loadMs: out.load_ms,
    prefillMs: out.context ? [out.context.prefill_ms] : (out.prefill?.[0]?.ms_runs ?? []),
    decodeTokPerS: out.context ? [out.context.tokens_per_s] : (out.decode?.tokens_per_s_runs ?? []),
    peakRssBytes: out.peak_rss_bytes,
  };
}
