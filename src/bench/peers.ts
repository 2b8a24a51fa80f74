/**
 * Peers in the same table: `transformers` (bench/peers/transformers_bench.py under a Python with torch
 * and transformers: $MOEKIT_PYTHON, else /work/venv/bin/python, else python3), one fresh Python process
 * per case; `onnxruntime` (bench/peers/onnxruntime/moe-peer.ts: com.microsoft.MoE on onnxruntime-node's
 * CPU EP, one fresh Node process per grid point; onnxruntime-node is not a dependency of moekit but of
 * that folder, installed by bench/peers/onnxruntime/install.sh; experts scope, float32 and float16
 * weights only). An absent or inapplicable peer is skipped with one line saying why.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { CaseResult } from "./case-spec.js";
import type { BenchOptions } from "./engine.js";
import type { GridPoint } from "./grid.js";
import { iterationWork } from "./work-model.js";

export type PeerName = "transformers" | "onnxruntime" | "llama.cpp";
export const PEER_NAMES: readonly PeerName[] = ["transformers", "onnxruntime", "llama.cpp"];
export const TRANSFORMERS_IMPLS = ["eager", "batched_mm", "grouped_mm"];

export interface PeerRow {
  point: GridPoint;
  implementation: string;
  result: CaseResult;
}

const SCRIPT = fileURLToPath(new URL("../../bench/peers/transformers_bench.py", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ORT_SCRIPT = fileURLToPath(new URL("../../bench/peers/onnxruntime/moe-peer.ts", import.meta.url));
const ORT_PACKAGE = fileURLToPath(new URL("../../bench/peers/onnxruntime/node_modules/onnxruntime-node/package.json", import.meta.url));
const ORT_INSTALL = "bash bench/peers/onnxruntime/install.sh";
/** Weight dtypes onnxruntime's CPU MoE kernel is registered for. */
export const ONNXRUNTIME_DTYPES: readonly string[] = ["float32", "float16"];

function python(): string {
  if (process.env.MOEKIT_PYTHON) return process.env.MOEKIT_PYTHON;
  return existsSync("/work/venv/bin/python") ? "/work/venv/bin/python" : "python3";
}

function runProcess(command: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], cwd });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    p.on("error", (e) => resolve({ code: -1, stdout, stderr: e.message }));
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function runPython(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess(python(), [SCRIPT, ...args]);
}

/** moe-peer.ts under tsx, which resolves from the repository root (a devDependency there). */
function runOrtPeer(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess(process.execPath, ["--import", "tsx", ORT_SCRIPT, ...args], REPO_ROOT);
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop() ?? "";
}

export async function runPeer(
  peer: PeerName,
  opts: BenchOptions,
  moekit: ReadonlyMap<string, CaseResult>,
  note: (line: string) => void,
  step: (label: string) => void,
): Promise<PeerRow[]> {
  if (peer === "onnxruntime") return runOnnxruntime(opts, moekit, note, step);
  if (peer === "llama.cpp") {
    note(`peer llama.cpp skipped: it times the whole model, not --scope ${opts.scope} (use --scope model)`);
    return [];
  }
  if (opts.model) {
    note("peer transformers skipped: it runs on the embedded synthetic Qwen1.5-MoE dims only (no --model)");
    return [];
  }
  if (!existsSync(SCRIPT)) {
    note(`peer transformers skipped: ${SCRIPT} is missing`);
    return [];
  }
  const check = await runPython(["--check"]);
  if (check.code !== 0) {
    note(`peer transformers skipped: ${python()} cannot import torch and transformers (${lastLine(check.stderr) || `exit ${check.code}`})`);
    return [];
  }
  const rows: PeerRow[] = [];
  for (const point of opts.grid) {
    const ours = moekit.get(`${point.batch}x${point.seq}`);
    if (!ours) continue;
    for (const impl of TRANSFORMERS_IMPLS) {
      step(`${point.batch}x${point.seq} transformers:${impl}`);
      const spec = {
        scope: opts.scope, impl, batch: point.batch, seq: point.seq, layers: opts.layers, dtype: opts.dtype ?? "bfloat16",
        threads: opts.threads ?? null, warmup: opts.warmup, iters: opts.iters, seed: opts.seed,
      };
      const r = await runPython([JSON.stringify(spec)]);
      if (r.code !== 0) {
        note(`peer transformers ${impl} at ${point.batch}x${point.seq} failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
        continue;
      }
      const out = JSON.parse(lastLine(r.stdout)) as PeerCaseLine;
      rows.push(peerRow(opts, point, ours, `transformers ${out.version}:${impl}`, "torch-cpu", out));
    }
  }
  return rows;
}

/** What a peer process prints for one case (transformers_bench.py, moe-peer.ts). */
interface PeerCaseLine {
  samples_ms: number[];
  peak_rss_bytes: number;
  weight_bytes: number;
  load_ms: number;
  version: string;
}

/** One result line of moe-peer.ts. */
interface OrtCaseLine extends PeerCaseLine {
  error?: string;
}

/** A peer's row of the table: its samples and memory in place of ours, the work model of the same case. */
function peerRow(opts: BenchOptions, point: GridPoint, ours: CaseResult, implementation: string, backend: string, out: PeerCaseLine): PeerRow {
  return {
    point,
    implementation,
    result: {
      ...ours,
      samplesMs: out.samples_ms,
      peakRssBytes: out.peak_rss_bytes,
      weightBytes: out.weight_bytes,
      work: iterationWork(opts.scope, ours.dims, point.batch, point.seq, ours.layers),
      backend,
      loadMs: out.load_ms,
      autoChoice: undefined,
    },
  };
}

function parseLine<T>(line: string): T | null {
  try {
    return JSON.parse(line) as T;
  } catch {
    return null;
  }
}

/** Why the onnxruntime peer cannot run these options, or null when it can. */
function onnxruntimeSkip(opts: BenchOptions, dtype: string): string | null {
  if (!existsSync(ORT_SCRIPT)) return `${ORT_SCRIPT} is missing (the peers run from a moekit checkout)`;
  if (!existsSync(ORT_PACKAGE)) return `onnxruntime-node is not installed (it is an optional peer, not a dependency; install it with: ${ORT_INSTALL})`;
  if (opts.scope !== "experts") return `it times the experts layer only (com.microsoft.MoE), not --scope ${opts.scope}`;
  if (opts.model) return "it runs on the embedded synthetic Qwen1.5-MoE dims only (no --model)";
  if (!ONNXRUNTIME_DTYPES.includes(dtype)) return `its CPU MoE kernel takes ${ONNXRUNTIME_DTYPES.join(" or ")} weights, not ${dtype} (use --dtype float32 or --dtype float16)`;
  return null;
}

async function runOnnxruntime(
  opts: BenchOptions,
  moekit: ReadonlyMap<string, CaseResult>,
  note: (line: string) => void,
  step: (label: string) => void,
): Promise<PeerRow[]> {
  const dtype = opts.dtype ?? "bfloat16";
  const skip = onnxruntimeSkip(opts, dtype);
  if (skip) {
    note(`peer onnxruntime skipped: ${skip}`);
    return [];
  }
  const check = await runOrtPeer(["--check"]);
  if (check.code !== 0) {
    note(`peer onnxruntime skipped: ${ORT_SCRIPT} --check failed (${lastLine(check.stderr) || `exit ${check.code}`})`);
    return [];
  }
  const rows: PeerRow[] = [];
  for (const point of opts.grid) {
    const ours = moekit.get(`${point.batch}x${point.seq}`);
    if (!ours) continue;
    step(`${point.batch}x${point.seq} onnxruntime:MoE`);
    const d = ours.dims;
    const spec = {
      threads: opts.threads ?? os.availableParallelism(), seed: opts.seed, dtype, ts: [point.batch * point.seq], layers: opts.layers,
      warmup: opts.warmup, iters: opts.iters, dims: { hidden: d.hidden, intermediate: d.intermediate, experts: d.experts, topK: d.topK },
    };
    const r = await runOrtPeer([JSON.stringify(spec)]);
    const out = r.code === 0 ? parseLine<OrtCaseLine>(lastLine(r.stdout)) : null;
    if (!out || out.error) {
      note(`peer onnxruntime at ${point.batch}x${point.seq} failed: ${out?.error ?? (lastLine(r.stderr) || `exit ${r.code}, output '${lastLine(r.stdout)}'`)}`);
      continue;
    }
    rows.push(peerRow(opts, point, ours, `onnxruntime ${out.version}:MoE`, "onnxruntime-cpu", out));
  }
  return rows;
}
