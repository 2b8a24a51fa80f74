/**
 * Peers in the same table: `transformers` (bench/peers/transformers_bench.py under a Python with torch
 * and transformers: $MOEKIT_PYTHON, else /work/venv/bin/python, else python3), one fresh Python process
 * per case; `onnxruntime` (needs onnxruntime-node, not a dependency: skipped with a note).
 * An absent peer is skipped with one line saying why.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CaseResult } from "./case-spec.js";
import type { BenchOptions } from "./engine.js";
import type { GridPoint } from "./grid.js";
import { iterationWork } from "./work-model.js";

export type PeerName = "transformers" | "onnxruntime";
export const PEER_NAMES: readonly PeerName[] = ["transformers", "onnxruntime"];
export const TRANSFORMERS_IMPLS = ["eager", "batched_mm", "grouped_mm"];

export interface PeerRow {
  point: GridPoint;
  implementation: string;
  result: CaseResult;
}

const SCRIPT = fileURLToPath(new URL("../../bench/peers/transformers_bench.py", import.meta.url));

function python(): string {
  if (process.env.MOEKIT_PYTHON) return process.env.MOEKIT_PYTHON;
  return existsSync("/work/venv/bin/python") ? "/work/venv/bin/python" : "python3";
}

function runPython(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(python(), [SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    p.on("error", (e) => resolve({ code: -1, stdout, stderr: e.message }));
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
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
  if (peer === "onnxruntime") {
    note("peer onnxruntime skipped: onnxruntime-node is not installed (it is an optional peer, not a dependency)");
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
      const out = JSON.parse(lastLine(r.stdout)) as { samples_ms: number[]; peak_rss_bytes: number; weight_bytes: number; load_ms: number; version: string };
      rows.push({
        point,
        implementation: `transformers ${out.version}:${impl}`,
        result: {
          ...ours,
          samplesMs: out.samples_ms,
          peakRssBytes: out.peak_rss_bytes,
          weightBytes: out.weight_bytes,
          work: iterationWork(opts.scope, ours.dims, point.batch, point.seq, ours.layers),
          backend: "torch-cpu",
          loadMs: out.load_ms,
          autoChoice: undefined,
        },
      });
    }
  }
  return rows;
}
