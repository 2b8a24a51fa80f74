/**
 * The child process of a benchmark case or of a generation run (generation.ts): receives one request
 * over IPC, builds what it times in a fresh heap, runs warmup and timed iterations, and replies with the samples and
 * its memory (memory.ts): the resident size before loading, the high-water mark of loading, the resident size once
 * loading's garbage is collected (the child runs with --expose-gc) and every weight page touched, and the high-water
 * mark over warmup and timed iterations (peak-rss.ts).
 */
import { lastAutoChoice } from "../experts/auto.js";
import { resolveBackend } from "./backends.js";
import type { CaseResult, CaseSpec, ChildReply, ChildRequest } from "./case-spec.js";
import { measureGeneration } from "./generation.js";
import { runModelCases, type ModelRunResult, type ModelRunSpec } from "./model-run.js";
import type { Backend } from "../backends/backend.js";
import type { Tensor } from "../tensor.js";
import { touchWeights, weightBytes, type MemorySample } from "./memory.js";
import { collectGarbage, peakRssBytes, residentBytes, resetPeakRss } from "./peak-rss.js";
import { measureCeilings } from "./probes.js";
import { buildSubject } from "./subject.js";
import { iterationWork } from "./work-model.js";

export async function runCase(spec: CaseSpec): Promise<CaseResult> {
  const { backend } = await resolveBackend(spec.backend, spec.threads, spec.compute);
  const runtimeBytes = residentBytes();
  resetPeakRss();
  const t0 = performance.now();
  const subject = await buildSubject(spec, backend);
  const loadMs = performance.now() - t0;
  const loadPeakBytes = peakRssBytes();
  const loadedRssBytes = await settleLoaded(subject.weights, backend);
  resetPeakRss();
  for (let i = 0; i < spec.warmup; i++) await subject.run();
  const samplesMs: number[] = [];
  for (let i = 0; i < spec.iters; i++) {
    const s = performance.now();
    await subject.run();
    samplesMs.push(performance.now() - s);
  }
  const runPeakBytes = peakRssBytes();
  return {
    samplesMs,
    peakRssBytes: runPeakBytes,
    weightBytes: subject.weightBytes,
    memory: { runtimeBytes, weightBytes: subject.weightBytes, loadPeakBytes, loadedRssBytes, runPeakBytes },
    dims: subject.dims,
    layers: subject.layers,
    work: iterationWork(spec.scope, subject.dims, spec.batch, spec.seq, subject.layers),
    dtype: subject.dtype,
    backend: backend.name,
    loadMs,
    autoChoice: spec.impl === "auto" ? lastAutoChoice() : undefined,
  };
}

/** After loading: what loading left as garbage collected, every weight page made resident; the resident size then. */
async function settleLoaded(weights: Iterable<Tensor>, backend: Backend): Promise<number> {
  await collectGarbage(backend.name === "cpu");
  touchWeights(weights);
  return residentBytes();
}

/**
 * Every case of one weights dtype of `--scope model` on one loaded model (model-run.ts), with the memory accounting:
 * the run's peak is the highest of the cases' own, each measured from right after its ceilings probe (whose buffers
 * are collected first) to its end.
 */
export async function runModel(spec: ModelRunSpec): Promise<ModelRunResult> {
  const { backend } = await resolveBackend(spec.backend, spec.threads, spec.compute);
  const runtimeBytes = residentBytes();
  resetPeakRss();
  let loaded: Omit<MemorySample, "runtimeBytes" | "runPeakBytes"> | undefined;
  let runPeakBytes = 0;
  const r = await runModelCases(spec, backend, spec.compute === "float32" ? "float32" : "bfloat16", {
    async afterLoad(weights) {
      const loadPeakBytes = peakRssBytes();
      loaded = { weightBytes: weightBytes(weights), loadPeakBytes, loadedRssBytes: await settleLoaded(weights, backend) };
    },
    async caseStart() {
      await collectGarbage(backend.name === "cpu");
      resetPeakRss();
    },
    caseEnd() {
      runPeakBytes = Math.max(runPeakBytes, peakRssBytes());
    },
  });
  const memory = loaded && { runtimeBytes, ...loaded, runPeakBytes };
  return { ...r, peakRssBytes: Math.max(runPeakBytes, memory?.loadPeakBytes ?? 0), memory };
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
