/**
 * What a case times: the experts modules or the sparse MoE blocks of the first `layers` sparse layers
 * (each fed the same seeded input), or the whole forward of a causal LM.
 */
import type { Backend } from "../backends/backend.js";
import type { DType } from "../dtype.js";
import { bytesPerElement } from "../dtype.js";
import { Checkpoint, type Config } from "../loading/checkpoint.js";
import { intField } from "../models/config/fields.js";
import { familyFor } from "../models/families/index.js";
import { loadMoeBlockFromCheckpoint } from "../models/build/load-moe-block.js";
import { isQuantDType, type MatrixRole } from "../models/build/quantize.js";
import { WeightReader } from "../models/build/weights.js";
import type { SparseMoeBlock } from "../models/layers/moe-block.js";
import { Tensor } from "../tensor.js";
import type { CaseSpec } from "./case-spec.js";
import { castCheckpoint } from "./cast-checkpoint.js";
import { qwen15MoeSynthetic } from "./qwen-synthetic.js";
import { seedOf, uniformF32 } from "./random.js";
import { weightBytes } from "./memory.js";
import type { MoeDims } from "./work-model.js";

export interface Subject {
  run(): Promise<void>;
  dims: MoeDims;
  layers: number;
  /** the host weights the case holds (memory.ts counts and touches them) */
  weights: Tensor[];
  weightBytes: number;
  dtype: DType;
}

/**
 * The checkpoint of a case: cast to a float dtype, or as stored under a quantized one; the synthetic model under
 * a quantized dtype has its experts generated quantized (bf16 values quantized tensor by tensor, as quantize at
 * load makes them), so no float copy of a stack is ever alive and the case's memory is the quantized model's.
 */
export async function openSource(spec: Pick<CaseSpec, "model" | "layers" | "dtype" | "seed">): Promise<Checkpoint> {
  const float = spec.dtype && !isQuantDType(spec.dtype) ? (spec.dtype as DType) : undefined;
  if (!spec.model) return qwen15MoeSynthetic(spec.layers, float ?? "bfloat16", spec.seed, isQuantDType(spec.dtype) ? spec.dtype : undefined);
  const ckpt = await Checkpoint.open(spec.model);
  return float ? castCheckpoint(ckpt, float) : ckpt;
}

function quantInfo(cfg: Config): { numLayers: number; numExperts: number } {
  const fam = familyFor(cfg.model_type);
  const numLayers = intField(cfg, ["num_hidden_layers"]);
  return { numLayers, numExperts: fam.moe.numExperts(cfg, sparseLayers(cfg, 1)[0]!) };
}

/** Indices of the first `count` sparse layers. */
export function sparseLayers(cfg: Config, count: number): number[] {
  const fam = familyFor(cfg.model_type);
  const total = intField(cfg, ["num_hidden_layers"]);
  const out: number[] = [];
  for (let l = 0; l < total && out.length < count; l++) if (fam.moe.isSparseLayer(cfg, l)) out.push(l);
  if (out.length === 0) throw new Error(`model_type ${String(cfg.model_type)}: no sparse MoE layer among ${total} layers`);
  return out;
}

const present = (...ts: (Tensor | undefined)[]): Tensor[] => ts.filter((t): t is Tensor => t !== undefined);

function dimsOf(block: SparseMoeBlock, cfg: Config): MoeDims {
  const w = block.experts.weights;
  const heads = cfg.num_attention_heads as number | undefined;
  return {
    hidden: w.hiddenSize,
    experts: w.numExperts,
    intermediate: w.intermediateSize,
    topK: block.router.topK,
    gated: w.gate.kind !== "none",
    sharedWidth: block.shared ? block.shared.mlp.down.shape[1]! : 0,
    sharedGate: !!block.shared?.gate,
    weightBytes: bytesPerElement(w.down.dtype),
    heads,
    kvHeads: (cfg.num_key_value_heads as number | undefined) ?? heads,
    headDim: (cfg.head_dim as number | undefined) ?? (heads ? w.hiddenSize / heads : undefined),
    vocab: cfg.vocab_size as number | undefined,
  };
}

async function sync(backend: Backend, t: Tensor): Promise<void> {
  if (!t.isHost) await backend.read(t);
}

export async function buildSubject(spec: CaseSpec, backend: Backend): Promise<Subject> {
  const ckpt = await openSource(spec);
  const cfg = ckpt.config;
  const tokens = spec.batch * spec.seq;
  if (spec.scope === "model") throw new Error("--scope model cases run through model-run.ts, not as experts or block subjects");
  const fam = familyFor(cfg.model_type);
  const blocks: SparseMoeBlock[] = [];
  // The experts scope times router output → experts only: shared experts are not loaded (nor counted).
  const sharedExperts = spec.scope !== "experts";
  // a quantized dtype: expert and shared-expert matrices quantized at load as the whole model quantizes them
  const reader = isQuantDType(spec.dtype) ? new WeightReader(ckpt, backend, spec.dtype, quantInfo(cfg)) : undefined;
  const matrix = reader ? (t: Tensor, role: MatrixRole, layer: number, what: string, on: Backend) => reader.matrix(t, role, layer, what, on) : undefined;
  for (const l of sparseLayers(cfg, spec.layers)) {
    blocks.push(await loadMoeBlockFromCheckpoint(ckpt, fam, l, { backend, expertsImplementation: spec.impl, sharedExperts, matrix }));
  }
  const first = blocks[0]!;
  const h = first.experts.weights.hiddenSize;
  const x = backend.fromHost(uniformF32(tokens * h, seedOf("input", spec.seed), 1), [tokens, h], "float32");
  const dims = dimsOf(first, cfg);
  const dtype = first.experts.weights.down.dtype;
  const base = { dims, dtype, layers: blocks.length };
  if (spec.scope === "experts") {
    const routes = blocks.map((b) => b.route(x));
    const weights = blocks.flatMap((b) => present(b.experts.weights.gateUp, b.experts.weights.up, b.experts.weights.down));
    return {
      ...base,
      weights,
      weightBytes: weightBytes(weights),
      async run() {
        for (let i = 0; i < blocks.length; i++) await sync(backend, await blocks[i]!.experts.forward(x, routes[i]!.index, routes[i]!.weights));
      },
    };
  }
  const weights = blocks.flatMap((b) => {
    const w = b.experts.weights;
    return present(w.gateUp, w.up, w.down, w.gateUpBias, w.downBias, b.router.weights.weight, b.shared?.mlp.gateUp, b.shared?.mlp.down, b.shared?.gate);
  });
  return {
    ...base,
    weights,
    weightBytes: weightBytes(weights),
    async run() {
      for (const b of blocks) await sync(backend, await b.forward(x));
    },
  };
}
