/**
 * The sparse MoE block shared by every family: router → experts implementation, plus shared experts
 * (ungated, or gated by σ(x·w) as in qwen2_moe) added to the routed output.
 */
import type { Backend, Routing } from "../backends/backend.js";
import { Experts } from "../experts/experts.js";
import type { ExpertsInterface } from "../experts/registry.js";
import { Router } from "../experts/routers.js";
import type { ExpertsWeights } from "../experts/types.js";
import type { Checkpoint, Config } from "../loading/checkpoint.js";
import { concatRows, loadOptional, loadTensor, stackParts, transposeLast2 } from "../loading/fuse.js";
import { shapeString, type Tensor } from "../tensor.js";
import { field, intField } from "./config.js";
import type { FamilyDefinition } from "./family.js";
import { GatedMlp } from "./mlp.js";
import { parseActivation } from "../backends/activation.js";

export interface SharedExperts {
  mlp: GatedMlp;
  /** [1, H]: σ(x·gateᵀ) scales the shared output per token */
  gate?: Tensor;
}

export class SparseMoeBlock {
  constructor(
    readonly router: Router,
    readonly experts: Experts,
    readonly shared: SharedExperts | undefined,
    readonly backend: Backend,
  ) {}

  /** Routing of hidden [T, H]: { index int32 [T, K], weights float32 [T, K] }. */
  route(hidden: Tensor): Routing {
    return this.router.route(this.backend.adopt(hidden));
  }

  /** The block's forward: hidden [T, H] (or [B, S, H]) → same shape. */
  async forward(hidden: Tensor): Promise<Tensor> {
    const b = this.backend;
    const h = hidden.shape[hidden.rank - 1]!;
    if (h !== this.experts.weights.hiddenSize) {
      throw new Error(`MoE block: hidden ${shapeString(hidden.shape)} must end in ${this.experts.weights.hiddenSize}`);
    }
    const x = b.adopt(hidden).reshape([-1, h]);
    const { index, weights } = this.router.route(x);
    let out = await this.experts.forward(x, index, weights);
    if (this.shared) {
      let s = this.shared.mlp.forward(x, b);
      if (this.shared.gate) s = b.mul(s, b.activate(b.linear(x, this.shared.gate), "sigmoid"));
      out = b.add(out, s);
    }
    return out.reshape(hidden.shape);
  }
}

export interface MoeBlockOptions {
  backend: Backend;
  expertsImplementation?: string;
  registry?: ExpertsInterface;
  /** Load the block's shared experts (default true); false leaves them out (router and experts only). */
  sharedExperts?: boolean;
}

async function loadExpertsWeights(ckpt: Checkpoint, fam: FamilyDefinition, prefix: string, layer: number): Promise<ExpertsWeights> {
  const cfg = ckpt.config;
  const moe = fam.moe;
  const e = moe.numExperts(cfg, layer);
  const i = moe.intermediateSize(cfg);
  const h = intField(cfg, ["hidden_size"]);
  const gate = moe.gate(cfg);
  const layout = moe.experts;
  if (layout.kind === "perExpert") {
    const ex = (n: number, proj: string) => `${prefix}.experts.${n}.${proj}.weight`;
    const ids = Array.from({ length: e }, (_, n) => n);
    const gateUp = await stackParts(ckpt, ids.map((n) => [ex(n, layout.gate), ex(n, layout.up)]), [[i, h], [i, h]]);
    const down = await stackParts(ckpt, ids.map((n) => [ex(n, layout.down)]), [[h, i]]);
    return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gate };
  }
  if (layout.kind === "granite") {
    const gateUp = await loadTensor(ckpt, `${prefix}.input_linear.weight`, [e, 2 * i, h]);
    const down = await loadTensor(ckpt, `${prefix}.output_linear.weight`, [e, h, i]);
    return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gate };
  }
  // gpt_oss: stored in × out; moekit keeps out × in, so transpose once at load.
  const gateUp = transposeLast2(await loadTensor(ckpt, `${prefix}.experts.gate_up_proj`, [e, h, 2 * i]));
  const down = transposeLast2(await loadTensor(ckpt, `${prefix}.experts.down_proj`, [e, i, h]));
  const gateUpBias = await loadTensor(ckpt, `${prefix}.experts.gate_up_proj_bias`, [e, 2 * i]);
  const downBias = await loadTensor(ckpt, `${prefix}.experts.down_proj_bias`, [e, h]);
  return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gateUpBias, downBias, gate };
}

/** A dense gated MLP stored as {gate,up,down}_proj (optionally with biases) under `prefix`. */
export async function loadGatedMlp(ckpt: Checkpoint, prefix: string, hidden: number, width: number, cfg: Config): Promise<GatedMlp> {
  const g = await loadTensor(ckpt, `${prefix}.gate_proj.weight`, [width, hidden]);
  const u = await loadTensor(ckpt, `${prefix}.up_proj.weight`, [width, hidden]);
  const d = await loadTensor(ckpt, `${prefix}.down_proj.weight`, [hidden, width]);
  const gb = await loadOptional(ckpt, `${prefix}.gate_proj.bias`, [width]);
  const ub = await loadOptional(ckpt, `${prefix}.up_proj.bias`, [width]);
  const db = await loadOptional(ckpt, `${prefix}.down_proj.bias`, [hidden]);
  if (!!gb !== !!ub) throw new Error(`checkpoint '${ckpt.name}': '${prefix}' has a bias on only one of gate_proj / up_proj`);
  const act = parseActivation(field<string>(cfg, ["hidden_act"], "silu"));
  return new GatedMlp(concatRows([g, u]), d, act, gb && ub ? concatRows([gb, ub]) : undefined, db);
}

/** A length-n vector stored as [n] or [1, n] (ernie keeps its correction bias as [1, E]). */
async function loadVector(ckpt: Checkpoint, key: string, n: number): Promise<Tensor> {
  const shape = ckpt.has(key) ? ckpt.info(key).shape : [n];
  return (await loadTensor(ckpt, key, shape.length === 2 ? [1, n] : [n])).reshape([n]);
}

/** Build layer `layer`'s sparse MoE block from a checkpoint, on `opts.backend`. */
export async function loadMoeBlockFromCheckpoint(ckpt: Checkpoint, fam: FamilyDefinition, layer: number, opts: MoeBlockOptions): Promise<SparseMoeBlock> {
  const cfg = ckpt.config;
  const layers = intField(cfg, ["num_hidden_layers"]);
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers) throw new Error(`layer ${layer} is outside [0, ${layers})`);
  const moe = fam.moe;
  if (!moe.isSparseLayer(cfg, layer)) {
    throw new Error(`layer ${layer} of this ${fam.modelType} model has no sparse MoE block (it is a dense MLP layer)`);
  }
  const b = opts.backend;
  const prefix = `model.layers.${layer}.${moe.blockName}`;
  const h = intField(cfg, ["hidden_size"]);
  const e = moe.numExperts(cfg, layer);
  const r = moe.router;
  const up = (t: Tensor | undefined) => (t ? b.adopt(t) : undefined);
  const correction = r.correctionBiasKey ? await loadVector(ckpt, `${prefix}.${r.correctionBiasKey}`, e) : undefined;
  const router = new Router(
    r.rule(cfg, layer),
    {
      weight: b.adopt(await loadTensor(ckpt, `${prefix}.${r.weightKey}`, [e, h])),
      bias: up(r.biasKey ? await loadTensor(ckpt, `${prefix}.${r.biasKey}`, [e]) : undefined),
      correctionBias: up(correction),
    },
    b,
  );
  const w = await loadExpertsWeights(ckpt, fam, prefix, layer);
  const onBackend: ExpertsWeights = {
    ...w,
    gateUp: up(w.gateUp),
    up: up(w.up),
    down: b.adopt(w.down),
    gateUpBias: up(w.gateUpBias),
    downBias: up(w.downBias),
  };
  const experts = new Experts(onBackend, { backend: b, implementation: opts.expertsImplementation, registry: opts.registry });
  let shared: SharedExperts | undefined;
  if (moe.shared && moe.shared.width(cfg) > 0 && opts.sharedExperts !== false) {
    const mlp = await loadGatedMlp(ckpt, `${prefix}.${moe.shared.name}`, h, moe.shared.width(cfg), cfg);
    const onB = new GatedMlp(b.adopt(mlp.gateUp), b.adopt(mlp.down), mlp.act, up(mlp.gateUpBias), up(mlp.downBias));
    const gate = moe.shared.gateKey ? b.adopt(await loadTensor(ckpt, `${prefix}.${moe.shared.gateKey}`, [1, h])) : undefined;
    shared = { mlp: onB, gate };
  }
  return new SparseMoeBlock(router, experts, shared, b);
}
