/**
 * One row of the benchmark table (one JSON record per case). Latencies are per timed iteration;
 * throughput columns use the median latency and the work model of work-model.ts.
 */
import type { CaseResult, Ceilings } from "./case-spec.js";
import type { GridPoint } from "./grid.js";
import { memoryAccount } from "./memory.js";
import { latencyStats } from "./stats.js";
import type { Scope } from "./work-model.js";

export interface BenchRecord {
  model: string;
  scope: Scope;
  backend: string;
  dtype: string;
  threads: number | null;
  compute: string;
  layers: number;
  batch_size: number;
  seq_length: number;
  tokens: number;
  implementation: string;
  /** null for moekit's own rows; "transformers" etc. for peers */
  peer: string | null;
  /** the backend that supplies this implementation (its own version of the name), or null for the portable one */
  supplied_by: string | null;
  /** for `auto`: the implementation it chose at this shape */
  auto_choice: string | null;
  warmup: number;
  iters: number;
  mean_ms: number;
  median_ms: number;
  p90_ms: number;
  min_ms: number;
  max_ms: number;
  std_ms: number;
  /** resident high-water mark of the case's timed work (loading excluded), MB (10^6 bytes) */
  peak_mem_mb: number;
  weights_mb: number;
  /** moekit's cases (memory.ts): what the timed work adds once the weights are resident, MB; peers: null */
  activations_mb: number | null;
  /** moekit's cases: the resident size before loading and the high-water mark of loading, MB; peers: null */
  runtime_mb: number | null;
  load_peak_mem_mb: number | null;
  /** moekit's cases: peak (loading and the timed work) / (weights + activations); peers: null */
  mem_ratio: number | null;
  tokens_per_s: number;
  gflops: number;
  gbps: number;
  flop_per_iter: number;
  bytes_per_iter: number;
  gemm_ceiling_gflops: number;
  bandwidth_ceiling_gbps: number;
  frac_gemm_ceiling: number;
  frac_bandwidth_ceiling: number;
  /** median latency over the best moekit implementation's median at this grid point (1 = best) */
  ratio_to_best: number;
  load_ms: number;
}

/** Every column, in table order. */
export const COLUMNS: readonly (keyof BenchRecord)[] = [
  "model", "scope", "backend", "dtype", "compute", "threads", "layers", "batch_size", "seq_length", "tokens", "implementation", "peer", "supplied_by", "auto_choice",
  "warmup", "iters", "mean_ms", "median_ms", "p90_ms", "min_ms", "max_ms", "std_ms", "peak_mem_mb", "weights_mb", "activations_mb", "runtime_mb", "load_peak_mem_mb", "mem_ratio", "tokens_per_s", "gflops",
  "gbps", "flop_per_iter", "bytes_per_iter", "gemm_ceiling_gflops", "bandwidth_ceiling_gbps", "frac_gemm_ceiling", "frac_bandwidth_ceiling",
  "ratio_to_best", "load_ms",
];

export interface RecordContext {
  model: string;
  scope: Scope;
  threads: number | null;
  /** activation precision of moekit's products (the reference backend computes in float64) */
  compute: string;
  warmup: number;
  iters: number;
  ceilings: Ceilings;
}

export function makeRecord(ctx: RecordContext, point: GridPoint, implementation: string, peer: string | null, r: CaseResult, suppliedBy: string | null = null): BenchRecord {
  const st = latencyStats(r.samplesMs);
  const tokens = point.batch * point.seq;
  const sec = st.median / 1000;
  const gflops = r.work.flops / sec / 1e9;
  const gbps = r.work.bytes / sec / 1e9;
  const mem = r.memory && memoryAccount(r.memory);
  return {
    model: ctx.model,
    scope: ctx.scope,
    backend: r.backend,
    dtype: r.dtype,
    compute: ctx.compute,
    threads: ctx.threads,
    layers: r.layers,
    batch_size: point.batch,
    seq_length: point.seq,
    tokens,
    implementation,
    peer,
    supplied_by: suppliedBy,
    auto_choice: r.autoChoice ?? null,
    warmup: ctx.warmup,
    iters: r.samplesMs.length,
    mean_ms: st.mean,
    median_ms: st.median,
    p90_ms: st.p90,
    min_ms: st.min,
    max_ms: st.max,
    std_ms: st.std,
    peak_mem_mb: r.peakRssBytes / 1e6,
    weights_mb: r.weightBytes / 1e6,
    activations_mb: mem ? mem.activationBytes / 1e6 : null,
    runtime_mb: mem ? mem.runtimeBytes / 1e6 : null,
    load_peak_mem_mb: mem ? mem.loadPeakBytes / 1e6 : null,
    mem_ratio: mem ? mem.ratio : null,
    tokens_per_s: tokens / sec,
    gflops,
    gbps,
    flop_per_iter: r.work.flops,
    bytes_per_iter: r.work.bytes,
    gemm_ceiling_gflops: ctx.ceilings.gemmGflops,
    bandwidth_ceiling_gbps: ctx.ceilings.bandwidthGBs,
    frac_gemm_ceiling: gflops / ctx.ceilings.gemmGflops,
    frac_bandwidth_ceiling: gbps / ctx.ceilings.bandwidthGBs,
    ratio_to_best: 1,
    load_ms: r.loadMs,
  };
}

/** Fill ratio_to_best: each row's median over the best moekit (non-peer) median at its grid point. */
export function fillRatios(records: BenchRecord[]): void {
  const best = new Map<string, number>();
  const key = (r: BenchRecord) => `${r.batch_size}x${r.seq_length}`;
  for (const r of records) if (r.peer === null) best.set(key(r), Math.min(best.get(key(r)) ?? Infinity, r.median_ms));
  for (const r of records) {
    const b = best.get(key(r));
    r.ratio_to_best = b ? r.median_ms / b : NaN;
  }
}
