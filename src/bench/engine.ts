/**
 * The benchmark engine: measures the machine's ceilings, then runs every (grid point × implementation)
 * case in its own child process, then the optional peers, and returns one record per case.
 */
import { expertsInterface } from "../experts/registry.js";
import { resolveBackend, type BackendName, type ComputeName } from "./backends.js";
import type { CaseResult, CaseSpec, Ceilings } from "./case-spec.js";
import type { GridPoint } from "./grid.js";
import { findCausalLm, MODEL_SCOPE_MISSING } from "./model-scope.js";
import { runPeer, type PeerName } from "./peers.js";
import { QWEN15_MOE_NAME } from "./qwen-dims.js";
import { fillRatios, makeRecord, type BenchRecord, type RecordContext } from "./record.js";
import { runInChild } from "./spawn.js";
import { openSource, sparseLayers } from "./subject.js";
import type { Scope } from "./work-model.js";
import type { DType } from "../dtype.js";

export interface BenchOptions {
  model?: string;
  scope: Scope;
  grid: GridPoint[];
  /** default: every registered implementation, auto included */
  impls?: string[];
  backend?: BackendName;
  dtype?: DType;
  threads?: number;
  /** cpu backend activation precision; default: bfloat16 for bfloat16 weights (as transformers computes a bf16 model), else float32 */
  compute?: ComputeName;
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
  if (opts.scope === "model" && !(await findCausalLm())) throw new Error(MODEL_SCOPE_MISSING);
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
  const ceilings = await runInChild<Ceilings>({ kind: "probe", spec: { backend: backendName, threads: opts.threads, compute, dtype, probeMiB: opts.probeMiB } });
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
