/**
 * `moekit bench --scope model`: for each weights dtype, moekit's cases in one child (model-run.ts: the
 * model loaded once, the ceilings probed right before each case), then — with `--peer llama.cpp` — the
 * same cases on llama.cpp, each in its own process right after its own probe, on a GGUF of the same
 * weights in the same format (gguf-cache.ts). Each measured value becomes a row with its floor
 * (model-floor.ts) and, where both engines ran, the speed ratio moekit / llama.cpp.
 */
import type { KvCacheDtype } from "../models/cache/kv-dtype.js";
import os from "node:os";
import type { ComputeName } from "./backends.js";
import type { Ceilings } from "./case-spec.js";
import { ensureSyntheticGguf } from "./gguf-cache.js";
import { llamaCppMissing, runLlamaCppCase } from "./llama-cpp-peer.js";
import { caseName, modelCases, positionsNeeded, rowLabel, type ModelCase, type ModelCaseOptions, type RowMetric } from "./model-cases.js";
import { modelBytes, rowFloor, shareOfFloor, type ModelBytes } from "./model-floor.js";
import { modelBenchConfig, modelSource, type ModelDType, type ModelRunCommon, type ModelRunResult, type ModelRunSpec } from "./model-run.js";
import { memoryAccount, type MemorySample } from "./memory.js";
import type { QuantSource } from "./options.js";
import { ensureQuantizedCheckpoint } from "./quantized-cache.js";
import { median } from "./stats.js";
import { QWEN15_MOE_NAME } from "./qwen-dims.js";
import { isQuantDType } from "../models/build/quantize.js";
import { baseDtypeOf, type GgufWeightDType } from "./qwen-gguf.js";
import { runInChild } from "./spawn.js";

/** The context the synthetic model declares: Qwen1.5-MoE's 8192, or more when a case needs it. */
export function positionsFor(cases: readonly ModelCase[]): number {
  return Math.max(8192, ...cases.map(positionsNeeded));
}

export interface ModelBenchOptions extends ModelCaseOptions, ModelRunCommon {
  dtypes: ModelDType[];
  /** quantized dtypes: quantized at load (default), or the checkpoint `moekit quantize` writes (quantized-cache.ts) */
  quantSource?: QuantSource;
  llamaCpp: boolean;
  /** where the peer's GGUFs are cached (gguf-cache.ts default when absent) */
  cacheDir?: string;
}

export interface ModelRow {
  model: string;
  case: string;
  row: string;
  metric: RowMetric;
  dtype: string;
  engine: "moekit" | "llama.cpp";
  /** node-llama-cpp's version for the peer, the experts implementation for moekit */
  detail: string;
  threads: number | null;
  layers: number;
  /** median of the runs: ms (prefill rows) or tok/s (decode rows) */
  value: number;
  runs: number[];
  floor: number;
  floor_bound: "compute" | "bandwidth";
  share_of_floor: number;
  flops: number;
  bytes: number;
  gemm_ceiling_gflops: number;
  bandwidth_ceiling_gbps: number;
  /** moekit rows: moekit's speed over llama.cpp's at the same row and dtype (> 1: moekit faster) */
  speed_vs_llama_cpp: number | null;
  load_ms: number;
  /** resident high-water mark over loading and the cases, MB */
  peak_mem_mb: number;
  /** moekit rows: where the quantized weights came from (null: float weights); llama.cpp: null */
  quant_source: QuantSource | null;
  /** moekit rows: the memory accounting (memory.ts), MB and the ratio peak / (weights + activations); llama.cpp: null */
  weights_mb: number | null;
  activations_mb: number | null;
  runtime_mb: number | null;
  loaded_rss_mb: number | null;
  load_peak_mem_mb: number | null;
  run_peak_mem_mb: number | null;
  mem_ratio: number | null;
}

export interface ModelBenchHooks {
  note(line: string): void;
  step(label: string): void;
}

/** ", kv bfloat16": the KV cache format the run used (auto resolves as the model loader does on the cpu backend). */
function kvDetail(compute: ComputeName, kv: KvCacheDtype | "auto" | undefined): string {
  return `, kv ${kv === undefined || kv === "auto" ? (compute === "bfloat16" ? "bfloat16" : "float32") : kv}`;
}

function computeFor(dtype: ModelDType, set: ComputeName | undefined): ComputeName {
  return set ?? (dtype === "float32" || dtype === "float16" ? "float32" : "bfloat16");
}

const NO_MEMORY = { weights_mb: null, activations_mb: null, runtime_mb: null, loaded_rss_mb: null, load_peak_mem_mb: null, run_peak_mem_mb: null, mem_ratio: null };

/** A row's memory columns from a moekit child's sample. */
function memoryColumns(m: MemorySample | undefined): Pick<ModelRow, keyof typeof NO_MEMORY> {
  if (!m) return NO_MEMORY;
  const a = memoryAccount(m);
  return {
    weights_mb: a.weightBytes / 1e6, activations_mb: a.activationBytes / 1e6, runtime_mb: a.runtimeBytes / 1e6, loaded_rss_mb: a.loadedRssBytes / 1e6,
    load_peak_mem_mb: a.loadPeakBytes / 1e6, run_peak_mem_mb: a.runPeakBytes / 1e6, mem_ratio: a.ratio,
  };
}

/** The rows (one or two) of one case's timing. */
function rowsOf(
  base: Omit<ModelRow, "case" | "row" | "metric" | "value" | "runs" | "floor" | "floor_bound" | "share_of_floor" | "flops" | "bytes" | "gemm_ceiling_gflops" | "bandwidth_ceiling_gbps" | "speed_vs_llama_cpp">,
  m: ModelBytes,
  c: ModelCase,
  ceilings: Ceilings,
  prefillMs: number[],
  decodeTokPerS: number[],
): ModelRow[] {
  const out: ModelRow[] = [];
  const add = (metric: RowMetric, runs: number[]) => {
    if (runs.length === 0) return;
    const value = median(runs);
    const fl = rowFloor(m, c, metric, ceilings);
    out.push({
      ...base, case: caseName(c), row: rowLabel(c, metric), metric, value, runs, floor: fl.value, floor_bound: fl.bound,
      share_of_floor: shareOfFloor(metric, value, fl.value), flops: fl.flops, bytes: fl.bytes,
      gemm_ceiling_gflops: ceilings.gemmGflops, bandwidth_ceiling_gbps: ceilings.bandwidthGBs, speed_vs_llama_cpp: null,
    });
  };
  add("prefill_ms", prefillMs);
  add("decode_tok_s", decodeTokPerS);
  return out;
}

/** Fills speed_vs_llama_cpp on moekit rows that have a llama.cpp row of the same case, row and dtype. */
export function fillSpeedRatios(rows: ModelRow[]): void {
  const key = (r: ModelRow) => `${r.dtype}|${r.row}`;
  const peer = new Map(rows.filter((r) => r.engine === "llama.cpp").map((r) => [key(r), r]));
  for (const r of rows) {
    const p = r.engine === "moekit" ? peer.get(key(r)) : undefined;
    r.speed_vs_llama_cpp = p ? (r.metric === "prefill_ms" ? p.value / r.value : r.value / p.value) : null;
  }
}

export async function runModelBench(o: ModelBenchOptions, hooks: ModelBenchHooks): Promise<ModelRow[]> {
  const cases = modelCases(o);
  if (cases.length === 0) throw new Error("--scope model: no cases (give --grid points, --new-tokens > 0 or --contexts)");
  const positions = positionsFor(cases);
  const threads = o.threads ?? null;
  let peerOk = o.llamaCpp;
  if (o.llamaCpp) {
    const missing = o.model ? "it runs on the synthetic Qwen1.5-MoE-A2.7B only (no --model)" : llamaCppMissing();
    if (missing) {
      hooks.note(`peer llama.cpp skipped: ${missing}`);
      peerOk = false;
    }
  }
  const rows: ModelRow[] = [];
  const modelName = o.model ?? QWEN15_MOE_NAME;
  for (const dtype of o.dtypes) {
    const ckpt = await modelSource({ model: o.model, layers: o.layers, positions, seed: o.seed, dtype, dims: o.dims });
    const m = modelBytes(ckpt, dtype);
    const maxPositions = Number(ckpt.config.max_position_embeddings ?? positions);
    const fits = cases.filter((c) => positionsNeeded(c) <= maxPositions);
    for (const c of cases) if (!fits.includes(c)) hooks.note(`${caseName(c)} skipped: it needs ${positionsNeeded(c)} positions, the model has ${maxPositions}`);
    const compute = computeFor(dtype, o.compute);
    const fromFile = o.quantSource === "file" && isQuantDType(dtype);
    let quantizedDir: string | undefined;
    if (fromFile) {
      try {
        const src = { model: o.model, config: ckpt.config, layers: o.layers, seed: o.seed };
        quantizedDir = (await ensureQuantizedCheckpoint(ckpt, src, dtype, o.cacheDir, (p) => hooks.step(`writing the ${dtype} checkpoint (moekit quantize): ${p}`))).path;
      } catch (e) {
        hooks.note(`moekit ${dtype} skipped: writing its quantized checkpoint failed: ${(e as Error).message}`);
        continue;
      }
    }
    hooks.step(`moekit ${dtype}: loading${fromFile ? " its quantized checkpoint" : ""}, then ${fits.length} cases`);
    const spec: ModelRunSpec = {
      quantizedDir,
      model: o.model, dims: o.dims, layers: o.layers, dtype, positions, impl: o.impl, backend: o.backend, threads: o.threads, compute,
      kvCacheDtype: o.kvCacheDtype, warmup: o.warmup, iters: o.iters, seed: o.seed, probeMiB: o.probeMiB, cases: fits,
    };
    let ours: ModelRunResult | undefined;
    try {
      ours = await runInChild<ModelRunResult>({ kind: "model", spec });
    } catch (e) {
      hooks.note(`moekit ${dtype} failed: ${(e as Error).message}`);
    }
    for (const t of ours?.timings ?? []) {
      if (t.error) hooks.note(`moekit ${dtype} ${caseName(t.case)} failed: ${t.error}`);
      const base = { model: modelName, dtype, engine: "moekit" as const, detail: `${o.impl ?? "default"} (${compute}${kvDetail(compute, o.kvCacheDtype)})`, threads, layers: m.layers, load_ms: ours!.loadMs, peak_mem_mb: ours!.peakRssBytes / 1e6,
        quant_source: isQuantDType(dtype) ? (fromFile ? "file" as const : "load" as const) : null, ...memoryColumns(ours!.memory) };
      rows.push(...rowsOf(base, m, t.case, t.ceilings, t.prefillMs, t.decodeTokPerS));
    }
    if (!peerOk) continue;
    if (dtype === "fp8_e4m3_b128") {
      hooks.note("peer llama.cpp skipped for fp8_e4m3_b128: GGUF has no such format");
      continue;
    }
    const cfg = { ...modelBenchConfig(o.layers, positions, o.dims), dtype: baseDtypeOf(dtype as GgufWeightDType) };
    let gguf: string;
    try {
      gguf = (await ensureSyntheticGguf(cfg, dtype as GgufWeightDType, o.seed, o.cacheDir, (p) => hooks.step(`writing the ${dtype} GGUF for llama.cpp: ${p}`))).path;
    } catch (e) {
      hooks.note(`peer llama.cpp ${dtype} skipped: writing its GGUF failed: ${(e as Error).message}`);
      continue;
    }
    const peerThreads = o.threads ?? os.availableParallelism();
    for (const c of fits) {
      hooks.step(`llama.cpp ${dtype}: ${caseName(c)}`);
      try {
        const ceilings = await runInChild<Ceilings>({ kind: "probe", spec: { backend: o.backend, threads: o.threads, compute, dtype: compute === "float32" ? "float32" : "bfloat16", probeMiB: o.probeMiB } });
        const r = await runLlamaCppCase(c, { gguf, threads: peerThreads, warmup: o.warmup, iters: o.iters, seed: o.seed });
        const base = { model: modelName, dtype, engine: "llama.cpp" as const, detail: `node-llama-cpp ${r.version}`, threads: peerThreads, layers: m.layers, load_ms: r.loadMs, peak_mem_mb: r.peakRssBytes / 1e6, quant_source: null, ...NO_MEMORY };
        rows.push(...rowsOf(base, m, c, ceilings, r.prefillMs, r.decodeTokPerS));
      } catch (e) {
        hooks.note(`peer llama.cpp ${dtype} ${caseName(c)} failed: ${(e as Error).message}`);
      }
    }
  }
  fillSpeedRatios(rows);
  return rows;
}
