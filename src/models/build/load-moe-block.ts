/**
 * Building a sparse MoE block (router, experts, shared experts) from a checkpoint: `loadMoeBlock` for
 * layer-level work and benchmarks, `loadMoeBlockFromCheckpoint` for the model builder.
 */
import type { Backend } from "../../backends/backend.js";
import { resolveBackend, type BackendChoice } from "../../backends/by-name.js";
import { Experts } from "../../experts/experts.js";
import type { ExpertsInterface } from "../../experts/registry.js";
import { Router } from "../../experts/routers.js";
import type { ExpertsWeights } from "../../experts/types.js";
import { Checkpoint } from "../../loading/checkpoint.js";
import { loadTensor } from "../../loading/fuse.js";
import type { Tensor } from "../../tensor.js";
import type { FamilyDefinition } from "../config/family.js";
import { intField } from "../config/fields.js";
import { convertCheckpoint, familyCheckpoint } from "./convert-checkpoint.js";
import { GatedMlp } from "../layers/mlp.js";
import { SparseMoeBlock, type SharedExperts } from "../layers/moe-block.js";
import { loadExpertsWeights } from "./experts-weights.js";
import { loadGatedMlp } from "./gated-mlp.js";
import type { MatrixRole } from "./quantize.js";

export interface LoadMoeBlockOptions {
  expertsImplementation?: string;
  /** "auto" (default), "cpu", "webgpu", "reference" or a Backend; see src/backends/by-name.ts. */
  backend?: BackendChoice;
  registry?: ExpertsInterface;
  /** Load the shared experts too (default true). */
  sharedExperts?: boolean;
}

/**
 * One sparse MoE block (router, experts, shared experts) of a local Hugging Face checkpoint, for
 * layer-level work and benchmarks. Throws if the layer has no MoE block.
 */
export async function loadMoeBlock(source: string | Checkpoint, layerIndex: number, opts: LoadMoeBlockOptions = {}): Promise<SparseMoeBlock> {
  const { ckpt, fam } = familyCheckpoint(typeof source === "string" ? await Checkpoint.open(source) : source);
  return loadMoeBlockFromCheckpoint(ckpt, fam, layerIndex, {
    backend: await resolveBackend(opts.backend),
    expertsImplementation: opts.expertsImplementation,
    registry: opts.registry,
    sharedExperts: opts.sharedExperts,
  });
}

export interface MoeBlockOptions {
  backend: Backend;
  /** Where the router and routed experts live (default `backend`); shared experts stay on `backend`. */
  expertsBackend?: Backend;
  expertsImplementation?: string;
  registry?: ExpertsInterface;
  /** Load the block's shared experts (default true); false leaves them out (router and experts only). */
  sharedExperts?: boolean;
  /**
   * Puts an expert or shared-expert matrix (a host tensor) on backend `on`, e.g. quantized (WeightReader.matrix);
   * default: adopted as stored. Routers and biases never pass through it.
   */
  matrix?: (t: Tensor, role: MatrixRole, layer: number, what: string, on: Backend) => Tensor;
}

/** A length-n vector stored as [n] or [1, n] (ernie keeps its correction bias as [1, E]). */
async function loadVector(ckpt: Checkpoint, key: string, n: number): Promise<Tensor> {
  const shape = ckpt.has(key) ? ckpt.info(key).shape : [n];
  return (await loadTensor(ckpt, key, shape.length === 2 ? [1, n] : [n])).reshape([n]);
}

/** Build layer `layer`'s sparse MoE block from a checkpoint (as stored, or already converted), on `opts.backend`. */
export async function loadMoeBlockFromCheckpoint(source: Checkpoint, fam: FamilyDefinition, layer: number, opts: MoeBlockOptions): Promise<SparseMoeBlock> {
  const ckpt = convertCheckpoint(source, fam);
  const cfg = ckpt.config;
  const layers = intField(cfg, ["num_hidden_layers"]);
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers) throw new Error(`layer ${layer} is outside [0, ${layers})`);
  const moe = fam.moe;
  if (!moe.isSparseLayer(cfg, layer)) {
    throw new Error(`layer ${layer} of this ${fam.modelType} model has no sparse MoE block (it is a dense MLP layer)`);
  }
  const b = opts.expertsBackend ?? opts.backend;
  const rest = opts.backend;
  const prefix = `model.layers.${layer}.${moe.blockName}`;
  const h = intField(cfg, ["hidden_size"]);
  const e = moe.numExperts(cfg, layer);
  const r = moe.router;
  const outs = r.outputs?.(cfg) ?? e;
  const up = (t: Tensor | undefined) => (t ? b.adopt(t) : undefined);
  const correction = r.correctionBiasKey && (r.usesCorrectionBias?.(cfg) ?? true) ? await loadVector(ckpt, `${prefix}.${r.correctionBiasKey}`, outs) : undefined;
  const router = new Router(
    r.rule(cfg, layer),
    {
      weight: b.adopt(await loadTensor(ckpt, `${prefix}.${r.weightKey}`, [outs, h])),
      bias: up(r.biasKey ? await loadTensor(ckpt, `${prefix}.${r.biasKey}`, [outs]) : undefined),
      correctionBias: up(correction),
    },
    b,
  );
  const matrix = opts.matrix ?? ((t: Tensor, _role: MatrixRole, _layer: number, _what: string, on: Backend) => on.adopt(t));
  const w = await loadExpertsWeights(ckpt, fam, prefix, layer);
  const onBackend: ExpertsWeights = {
    ...w,
    gateUp: w.gateUp && matrix(w.gateUp, "exps_gate_up", layer, `${prefix} experts gate_up`, b),
    up: w.up && matrix(w.up, "exps_gate_up", layer, `${prefix} experts up`, b),
    down: matrix(w.down, "exps_down", layer, `${prefix} experts down`, b),
    gateUpBias: up(w.gateUpBias),
    downBias: up(w.downBias),
  };
  const experts = new Experts(onBackend, { backend: b, implementation: opts.expertsImplementation, registry: opts.registry });
  let shared: SharedExperts | undefined;
  if (moe.shared && moe.shared.width(cfg) > 0 && opts.sharedExperts !== false) {
    const mlp = await loadGatedMlp(ckpt, `${prefix}.${moe.shared.name}`, h, moe.shared.width(cfg), cfg);
    const sp = `${prefix}.${moe.shared.name}`;
    const onRest = (t: Tensor | undefined) => (t ? rest.adopt(t) : undefined);
    const onB = new GatedMlp(matrix(mlp.gateUp, "ffn_gate_up", layer, `${sp} gate_up`, rest), matrix(mlp.down, "ffn_down", layer, `${sp}.down_proj`, rest), mlp.act, onRest(mlp.gateUpBias), onRest(mlp.downBias));
    const gate = moe.shared.gateKey ? rest.adopt(await loadTensor(ckpt, `${prefix}.${moe.shared.gateKey}`, [1, h])) : undefined;
    shared = { mlp: onB, gate, average: moe.shared.combine?.(cfg) === "average" };
  }
  const outputBias = moe.outputBiasKey ? rest.adopt(await loadTensor(ckpt, `${prefix}.${moe.outputBiasKey}`, [h])) : undefined;
  return new SparseMoeBlock(router, experts, shared, rest, { expertsBackend: b, call: moe.expertsCall?.(cfg), outputBias });
}
