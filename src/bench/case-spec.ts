/** What one benchmark case is: sent from the parent to a fresh child process, and what comes back. */
import type { DType } from "../dtype.js";
import type { BackendName, ComputeName } from "./backends.js";
import type { GenerationRecord, GenerationSpec } from "./generation.js";
import type { MemorySample } from "./memory.js";
import type { ModelDType, ModelRunResult, ModelRunSpec } from "./model-run.js";
import type { MoeDims, Scope, Work } from "./work-model.js";

export interface CaseSpec {
  scope: Scope;
  impl: string;
  batch: number;
  seq: number;
  /** checkpoint directory; absent: the embedded synthetic Qwen1.5-MoE-A2.7B */
  model?: string;
  layers: number;
  /** weights dtype; absent: bfloat16 for the synthetic model, the stored dtype of a checkpoint; a quantized one: matrices quantized at load */
  dtype?: ModelDType;
  backend: BackendName;
  threads?: number;
  /** cpu backend activation precision */
  compute?: ComputeName;
  warmup: number;
  iters: number;
  seed: number;
}

export interface CaseResult {
  samplesMs: number[];
  /** resident high-water mark of the timed work, bytes (peak-rss.ts: since loading ended, where the kernel allows) */
  peakRssBytes: number;
  /** bytes of the weights the timed part holds */
  weightBytes: number;
  /** moekit's cases: the memory accounting (memory.ts); peers: absent */
  memory?: MemorySample;
  dims: MoeDims;
  /** MoE layers timed (experts, block) or decoder layers (model) */
  layers: number;
  work: Work;
  dtype: DType;
  backend: string;
  loadMs: number;
  /** for `auto`: the implementation it ran at this shape */
  autoChoice?: string;
}

export interface ProbeSpec {
  backend: BackendName;
  threads?: number;
  compute?: ComputeName;
  dtype: DType;
  /** bandwidth probe buffer size */
  probeMiB: number;
}

export interface Ceilings {
  gemmGflops: number;
  gemmShape: string;
  bandwidthGBs: number;
  bandwidthMethod: string;
}

export type ChildRequest =
  | { kind: "case"; spec: CaseSpec }
  | { kind: "probe"; spec: ProbeSpec }
  | { kind: "generate"; spec: GenerationSpec }
  | { kind: "model"; spec: ModelRunSpec };
export type ChildReply = { ok: true; result: CaseResult | Ceilings | GenerationRecord | ModelRunResult } | { ok: false; error: string };
