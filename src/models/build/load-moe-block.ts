import type { Backend } from "../../backends/backend.js";
import { referenceBackend } from "../../backends/reference/index.js";
import type { ExpertsInterface } from "../../experts/registry.js";
import { Checkpoint } from "../../loading/checkpoint.js";
import { familyFor } from "../families/index.js";
import { loadMoeBlockFromCheckpoint, type SparseMoeBlock } from "../layers/moe-block.js";

export interface LoadMoeBlockOptions {
  expertsImplementation?: string;
  backend?: Backend;
  registry?: ExpertsInterface;
  /** Load the shared experts too (default true). */
  sharedExperts?: boolean;
}

/**
 * One sparse MoE block (router, experts, shared experts) of a local Hugging Face checkpoint, for
 * layer-level work and benchmarks. Throws if the layer has no MoE block.
 */
export async function loadMoeBlock(source: string | Checkpoint, layerIndex: number, opts: LoadMoeBlockOptions = {}): Promise<SparseMoeBlock> {
  const ckpt = typeof source === "string" ? await Checkpoint.open(source) : source;
  const fam = familyFor(ckpt.config.model_type);
  return loadMoeBlockFromCheckpoint(ckpt, fam, layerIndex, {
    backend: opts.backend ?? referenceBackend,
    expertsImplementation: opts.expertsImplementation,
    registry: opts.registry,
    sharedExperts: opts.sharedExperts,
  });
}
