/**
 * The child process of a benchmark case or of a generation run (generation.ts): receives one request
 * over IPC, builds what it times in a fresh heap, runs warmup and timed iterations, and replies with the samples and its resident
 * high-water mark over warmup and timed iterations (src/bench/peak-rss.ts: weights, runtime, activations and
 * scratch; what loading left as garbage is collected first, the child runs with --expose-gc).
 */
import { lastAutoChoice } from "../experts/auto.js";
import { resolveBackend } from "./backends.js";
import type { CaseResult, CaseSpec, ChildReply, ChildRequest } from "./case-spec.js";
import { measureGeneration } from "./generation.js";
import { runModelCases, type ModelRunResult, type ModelRunSpec } from "./model-run.js";
import { peakRssBytes, resetPeakRss } from "./peak-rss.js";
import { measureCeilings } from "./probes.js";
import { buildSubject } from "./subject.js";
import { iterationWork } from "./work-model.js";

export async function runCase(spec: CaseSpec): Promise<CaseResult> {
  const { backend } = await resolveBackend(spec.backend, spec.threads, spec.compute);
  const t0 = performance.now();
  const subject = await buildSubject(spec, backend);
  const loadMs = performance.now() - t0;
  (globalThis as { gc?: () => void }).gc?.();
  resetPeakRss();
  for (let i = 0; i < spec.warmup; i++) await subject.run();
  const samplesMs: number[] = [];
  for (let i = 0; i < spec.iters; i++) {
    const s = performance.now();
    await subject.run();
    samplesMs.push(performance.now() - s);
  }
  return {
    samplesMs,
    peakRssBytes: peakRssBytes(),
    weightBytes: subject.weightBytes,
    dims: subject.dims,
    layers: subject.layers,
    work: iterationWork(spec.scope, subject.dims, spec.batch, spec.seq, subject.layers),
    dtype: subject.dtype,
    backend: backend.name,
    loadMs,
    autoChoice: spec.impl === "auto" ? lastAutoChoice() : undefined,
  };
}

/** Every case of one weights dtype of `--scope model` on one loaded model (model-run.ts). */
export async function runModel(spec: ModelRunSpec): Promise<ModelRunResult> {
  const { backend } = await resolveBackend(spec.backend, spec.threads, spec.compute);
  resetPeakRss();
  const r = await runModelCases(spec, backend, spec.compute === "float32" ? "float32" : "bfloat16");
  return { ...r, peakRssBytes: peakRssBytes() };
}

async function handle(req: ChildRequest): Promise<ChildReply> {
  try {
    if (req.kind === "case") return { ok: true, result: await runCase(req.spec) };
    if (req.kind === "model") return { ok: true, result: await runModel(req.spec) };
    if (req.kind === "generate") return { ok: true, result: await measureGeneration(req.spec) };
    const { backend } = await resolveBackend(req.spec.backend, req.spec.threads, req.spec.compute);
    return { ok: true, result: await measureCeilings(backend, req.spec.dtype, req.spec.probeMiB) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

if (process.send) {
  process.once("message", (req: ChildRequest) => {
    void handle(req).then((reply) => process.send!(reply, () => process.exit(0)));
  });
}
