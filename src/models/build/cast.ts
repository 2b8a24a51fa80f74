/** A sparse MoE block with its expert and shared-expert matrices converted to another storage dtype. */
import type { Backend } from "../../backends/backend.js";
import type { DType } from "../../dtype.js";
import { Experts } from "../../experts/experts.js";
import type { Tensor } from "../../tensor.js";
import { GatedMlp } from "../layers/mlp.js";
import { SparseMoeBlock } from "../layers/moe-block.js";

function castTo(b: Backend, t: Tensor | undefined, dtype: DType): Tensor | undefined {
  return t && t.dtype !== dtype && t.dtype !== "int32" ? b.cast(t, dtype) : t;
}

export function castMoeBlock(block: SparseMoeBlock, dtype: DType): SparseMoeBlock {
  const b = block.backend;
  const eb = block.expertsBackend;
  const w = block.experts.weights;
  const experts = new Experts(
    { ...w, gateUp: castTo(eb, w.gateUp, dtype), up: castTo(eb, w.up, dtype), down: castTo(eb, w.down, dtype)! },
    { backend: eb, implementation: block.experts.implementation, registry: block.experts.registry },
  );
  const s = block.shared;
  const shared = s ? { ...s, mlp: castMlp(b, s.mlp, dtype) } : undefined;
  return new SparseMoeBlock(block.router, experts, shared, b, { expertsBackend: eb, call: block.call, outputBias: block.outputBias });
}

export function castMlp(b: Backend, mlp: GatedMlp, dtype: DType): GatedMlp {
  return new GatedMlp(castTo(b, mlp.gateUp, dtype)!, castTo(b, mlp.down, dtype)!, mlp.act, mlp.gateUpBias, mlp.downBias);
}
