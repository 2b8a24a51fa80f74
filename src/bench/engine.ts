/**
 * The benchmark engine: measures the machine's ceilings, then runs every (grid point × implementation)
 * case in its own child process, then the optional peers, and returns one record per case.
 */
import type { KvCacheDtype } from "../models/cache/kv-dtype.js";
import { expertsInterface } from "../experts/registry.js";
import { resolveBackend, type BackendName, type ComputeName } from "./backends.js";
import type { CaseResult, CaseSpec, Ceilings } from "./case-spec.js";
import type { GridPoint } from "./grid.js";
import { runPeer, type PeerName } from "./peers.js";
import { QWEN15_MOE_NAME } from "./qwen-dims.js";
import { fillRatios, makeRecord, type BenchRecord, type RecordContext } from "./record.js";
import { runInChild } from "./spawn.js";
import { openSource, sparseLayers } from "./subject.js";
import type { Scope } from "./work-model.js";
import { runModelBench, type ModelRow } from "./model-bench.js";
import type { QuantSource } from "./options.js";
import type { ModelDType } from "./model-run.js";
import type { DType } from "../dtype.js";
import { isQuantDType } from "../models/build/quantize.js";

export interface BenchOptions {
  model?: string;
  scope: Scope;
  grid: GridPoint[];
  /** default: every registered implementation, auto included (model scope: the model's default) */
  impls?: string[];
  backend?: BackendName;
  /** experts and block scopes: the weights dtype (a quantized one: the matrices quantized at load) */
  dtype?: ModelDType;
  /** model scope: each dtype's rows (default: [dtype]) */
  dtypes?: ModelDType[];
  /** model scope: decode case prompt and timed steps (0: none), long contexts and the steps timed at each */
  promptLen?: number;
  newTokens?: number;
  contexts?: number[];
  contextNew?: number;
  threads?: number;
  /** cpu backend activation precision; default: bfloat16 for bfloat16 weights (as transformers computes a bf16 model), else float32 */
  compute?: ComputeName;
  /** model scope: the KV cache format (default auto: bfloat16 with bfloat16 compute) */
  kvCacheDtype?: KvCacheDtype | "auto";
  /** model scope, quantized dtypes: quantize the float checkpoint at load (default), or load the checkpoint `moekit quantize` writes */
  quantSource?: QuantSource;
  warmup: number;
  iters: number;
  layers: number;
  peers: PeerName[];
  seed: number;
  /** bandwidth probe size */
  probeMiB: number;
}

export interface BenchHooks {
  /** one line for the user (warnings, skipped peers) */
  note?(line: string): void;
  progress?(done: number, total: number, label: string): void;
}

export interface BenchReport {
  records: BenchRecord[];
  ceilings: Ceilings;
  notes: string[];
  /** --scope model: its rows (records is then empty; each row carries the ceilings probed before it) */
  modelRows?: ModelRow[];
}

/** Every implementation runnable on the backend, auto included. */
export function defaultImplementations(backend: string): string[] {
  return expertsInterface.list(backend);
}

export async function runBench(opts: BenchOptions, hooks: BenchHooks = {}): Promise<BenchReport> {
  const notes: string[] = [];
  const note = (l: string) => {
    notes.push(l);
    hooks.note?.(l);
  };
  if (opts.scope === "model") return runModelScope(opts, hooks, note, notes);
  if (opts.model) {
    const ckpt = await openSource({ model: opts.model, layers: opts.layers, seed: opts.seed });
    sparseLayers(ckpt.config, opts.layers);
  }
  const dtype = opts.dtype ?? (opts.model ? "float32" : "bfloat16");
  const compute: ComputeName = opts.compute ?? (dtype === "bfloat16" ? "bfloat16" : "float32");
  const { backend, warning } = await resolveBackend(opts.backend, opts.threads, compute);
  if (warning) note(`warning: ${warning}`);
  const backendName = backend.name as BackendName;
  const impls = opts.impls ?? defaultImplementations(backendName);
  for (const i of impls) expertsInterface.resolve(expertsInterface.validate(i), backendName);
  const total = 1 + opts.grid.length * impls.length;
  let done = 0;
  const step = (label: string) => hooks.progress?.(done, total, label);
  step("probing machine ceilings");
  // quantized weights: the GEMM probe runs in bf16 (the activations' precision); the table's bytes use the block sizes
  const probeDtype: DType = isQuantDType(dtype) ? "bfloat16" : dtype;
  const ceilings = await runInChild<Ceilings>({ kind: "probe", spec: { backend: backendName, threads: opts.threads, compute, dtype: probeDtype, probeMiB: opts.probeMiB } });
  done++;
  const ctx: RecordContext = {
    model: opts.model ?? QWEN15_MOE_NAME,
    scope: opts.scope,
    threads: opts.threads ?? null,
    compute: backendName === "cpu" ? compute : "float64",
    warmup: opts.warmup,
    iters: opts.iters,
    ceilings,
  };
  const records: BenchRecord[] = [];
  const failures: string[] = [];
  const results = new Map<string, CaseResult>();
  for (const point of opts.grid) {
    for (const impl of impls) {
      step(`${point.batch}x${point.seq} ${impl}`);
      const spec: CaseSpec = {
        scope: opts.scope,
        impl,
        batch: point.batch,
        seq: point.seq,
        model: opts.model,
        layers: opts.layers,
        dtype: opts.dtype,
        backend: backendName,
        threads: opts.threads,
        compute,
        warmup: opts.warmup,
        iters: opts.iters,
        seed: opts.seed,
      };
      done++;
      let r: CaseResult;
      try {
        r = await runInChild<CaseResult>({ kind: "case", spec });
      } catch (e) {
        failures.push((e as Error).message);
        note(`case ${point.batch}x${point.seq} ${impl} failed: ${(e as Error).message}`);
        continue;
      }
      results.set(`${point.batch}x${point.seq}`, r);
      records.push(makeRecord(ctx, point, impl, null, r, expertsInterface.resolve(impl, backendName).backend ?? null));
    }
  }
  if (records.length === 0 && failures.length > 0) throw new Error(failures[0]);
  for (const peer of opts.peers) {
    const rows = await runPeer(peer, opts, results, (l) => note(l), (label) => step(label));
    for (const { point, implementation, result } of rows) records.push(makeRecord(ctx, point, implementation, peer, result));
  }
  step("done");
  fillRatios(records);
  return { records, ceilings, notes };
}

async function runModelScope(opts: BenchOptions, hooks: BenchHooks, note: (l: string) => void, notes: string[]): Promise<BenchReport> {
  const { backend, warning } = await resolveBackend(opts.backend, opts.threads, opts.compute);
  if (warning) note(`warning: ${warning}`);
  for (const p of opts.peers) if (p !== "llama.cpp") note(`peer ${p} skipped: it times the experts layer or block, not the whole model (use --peer llama.cpp with --scope model)`);
  if (opts.impls && opts.impls.length > 1) throw new Error(`--scope model times one experts implementation, got --impl ${opts.impls.join(",")}`);
  const impl = opts.impls?.[0];
  if (impl) expertsInterface.resolve(expertsInterface.validate(impl), backend.name);
  let step = 0;
  const dtypeCount = opts.dtypes?.length ?? 1;
  const caseCount = opts.grid.length + ((opts.newTokens ?? 64) > 0 ? 1 : 0) + (opts.contexts?.length ?? 0);
  const total = dtypeCount * (1 + (opts.peers.includes("llama.cpp") ? 1 + caseCount : 0));
  const rows = await runModelBench(
    {
      model: opts.model, layers: opts.layers, dtypes: opts.dtypes ?? [opts.dtype ?? (opts.model ? "float32" : "bfloat16")], impl,
      backend: backend.name as BackendName, threads: opts.threads, compute: opts.compute, kvCacheDtype: opts.kvCacheDtype, quantSource: opts.quantSource, warmup: opts.warmup, iters: opts.iters, seed: opts.seed,
      probeMiB: opts.probeMiB, llamaCpp: opts.peers.includes("llama.cpp"), prefill: opts.grid, prompt: opts.promptLen ?? 16,
      newTokens: opts.newTokens ?? 64, contexts: opts.contexts ?? [], contextNew: opts.contextNew ?? 16,
    },
    { note, step: (label) => hooks.progress?.(step++, Math.max(step, total), label) },
  );
  if (rows.length === 0) throw new Error(notes.find((n) => / failed: /.test(n)) ?? "--scope model: no case produced a row");
  const first = rows[0]!;
  return { records: [], ceilings: { gemmGflops: first.gemm_ceiling_gflops, gemmShape: "", bandwidthGBs: first.bandwidth_ceiling_gbps, bandwidthMethod: "" }, notes, modelRows: rows };
}
