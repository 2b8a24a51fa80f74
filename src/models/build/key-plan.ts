/**
 * Every tensor a model needs, by name and shape, listed from the family and its config before anything
 * is read or allocated: `checkPlan` reports all missing tensors in one error and every shape the config
 * contradicts, so a config with huge sizes or a truncated checkpoint costs no memory. The loaders read
 * exactly these keys (test/models/key-plan.test.ts compares the plan with what each fixture reads).
 */
import type { Checkpoint, Config } from "../../loading/checkpoint.js";
import { shapeString } from "../../tensor.js";
import { boolField, intField } from "../config/fields.js";
import type { FamilyDefinition, GqaDefinition, NormKind } from "../config/family.js";
import type { ModelConfig } from "../config/model-config.js";
import { gptOssGateUpStacks } from "../families/gpt_oss.js";
import { checkpointQuantization } from "./quantization-config.js";

export interface PlannedTensor {
  key: string;
  /** Accepted shapes (a correction bias may be [E] or [1, E]). */
  shapes: number[][];
  /** Read only when present (biases the loaders take when a checkpoint has them). */
  optional?: boolean;
}

class Plan {
  readonly tensors: PlannedTensor[] = [];
  need(key: string, ...shapes: number[][]): void {
    this.tensors.push({ key, shapes });
  }
  maybe(key: string, shape: number[]): void {
    this.tensors.push({ key, shapes: [shape], optional: true });
  }
  linear(prefix: string, out: number, inFeatures: number, bias: boolean): void {
    this.need(`${prefix}.weight`, [out, inFeatures]);
    if (bias) this.need(`${prefix}.bias`, [out]);
  }
  norm(prefix: string, kind: NormKind, dim: number): void {
    this.need(`${prefix}.weight`, [dim]);
    if (kind === "layer") this.need(`${prefix}.bias`, [dim]);
  }
  /** {gate,up,down}_proj (biases required when `bias`, else read if present). */
  gatedMlp(prefix: string, hidden: number, width: number, bias: boolean): void {
    for (const [n, out, inF] of [["gate_proj", width, hidden], ["up_proj", width, hidden], ["down_proj", hidden, width]] as const) {
      this.need(`${prefix}.${n}.weight`, [out, inF]);
      if (bias) this.need(`${prefix}.${n}.bias`, [out]);
      else this.maybe(`${prefix}.${n}.bias`, [out]);
    }
  }
}

/** The tensors of a whole CausalLM (the checkpoint already converted to the family's names). */
export function planCausalLM(fam: FamilyDefinition, raw: Config, cfg: ModelConfig): PlannedTensor[] {
  const p = new Plan();
  const h = cfg.hiddenSize;
  p.need("model.embed_tokens.weight", [cfg.vocabSize, h]);
  for (let l = 0; l < cfg.numLayers; l++) {
    planAttention(p, fam, raw, cfg, l);
    for (const name of Object.values({ ...fam.model.layerNorms, parallel: undefined })) {
      if (typeof name === "string") p.norm(`model.layers.${l}.${name}`, cfg.norm, h);
    }
    if (fam.moe.isSparseLayer(raw, l)) {
      planMoeBlock(p, fam, raw, l);
      if (fam.moe.shortcut) p.gatedMlp(`model.layers.${l}.mlp`, h, cfg.intermediateSize, fam.model.denseMlpBias?.(raw) ?? false);
      const beside = fam.moe.besideMlp;
      const width = beside?.width(raw) ?? 0;
      if (beside && width > 0) {
        p.need(`model.layers.${l}.${beside.name}.input_linear.weight`, [2 * width, h]);
        p.need(`model.layers.${l}.${beside.name}.output_linear.weight`, [h, width]);
      }
    } else {
      if (cfg.intermediateSize < 1) throw new Error(`config.json (${fam.modelType}): layer ${l} is dense but intermediate_size is missing`);
      p.gatedMlp(`model.layers.${l}.mlp`, h, cfg.intermediateSize, fam.model.denseMlpBias?.(raw) ?? false);
    }
  }
  p.norm("model.norm", cfg.norm, h);
  const lmHeadBias = fam.model.lmHeadBias?.(raw) ?? false;
  if (cfg.tieWordEmbeddings) {
    if (lmHeadBias) p.need("lm_head.bias", [cfg.vocabSize]);
  } else p.linear("lm_head", cfg.vocabSize, h, lmHeadBias);
  return p.tensors;
}

function planAttention(p: Plan, fam: FamilyDefinition, raw: Config, cfg: ModelConfig, l: number): void {
  const mixer = fam.model.mixer?.(raw, l);
  if (mixer) {
    p.tensors.push(...mixer.tensors({ raw, cfg, layer: l, prefix: `model.layers.${l}` }));
    return;
  }
  const a = `model.layers.${l}.self_attn`;
  const { hiddenSize: h, numHeads: heads, numKvHeads: kv, headDim: d } = cfg;
  const def = fam.model.attention(raw, l);
  if (def.kind === "mla") {
    const m = cfg.mla!;
    const bias = boolField(raw, ["attention_bias"], false);
    p.linear(`${a}.kv_a_proj_with_mqa`, m.kvLoraRank + m.qkRopeHeadDim, h, bias);
    p.linear(`${a}.kv_b_proj`, heads * (m.qkNopeHeadDim + m.vHeadDim), m.kvLoraRank, false);
    p.linear(`${a}.o_proj`, h, heads * m.vHeadDim, bias);
    const qk = m.qkNopeHeadDim + m.qkRopeHeadDim;
    if (m.qLoraRank === null) p.linear(`${a}.q_proj`, heads * qk, h, false);
    else {
      p.linear(`${a}.q_a_proj`, m.qLoraRank, h, bias);
      p.linear(`${a}.q_b_proj`, heads * qk, m.qLoraRank, false);
      p.norm(`${a}.q_a_layernorm`, "rms", m.qLoraRank);
    }
    p.norm(`${a}.kv_a_layernorm`, "rms", m.kvLoraRank);
    const ix = def.indexer;
    if (ix) {
      if (m.qLoraRank === null) throw new Error(`config.json (${fam.modelType}): DSA attention needs q_lora_rank (its indexer reads the q latent)`);
      p.linear(`${a}.indexer.wq_b`, ix.heads * ix.headDim, m.qLoraRank, false);
      p.linear(`${a}.indexer.wk`, ix.headDim, h, false);
      p.norm(`${a}.indexer.k_norm`, "layer", ix.headDim);
      p.linear(`${a}.indexer.weights_proj`, ix.heads, h, false);
    }
    return;
  }
  if (def.kind === "moa") {
    const e = fam.moe.numExperts(raw, l);
    p.need(`${a}.experts.input_linear.weight`, [e, kv * d, h]);
    p.need(`${a}.experts.output_linear.weight`, [e, h, kv * d]);
    p.need(`${a}.experts.router.layer.weight`, [e, h]);
    p.need(`${a}.experts.bias`, [h]);
    p.linear(`${a}.kv_proj`, 2 * kv * d, h, false);
    return;
  }
  planGqa(p, a, def, h, heads, kv, d);
}

function planGqa(p: Plan, a: string, def: GqaDefinition, h: number, heads: number, kv: number, d: number): void {
  if (def.fusedQkv) p.linear(`${a}.qkv_proj`, (heads + 2 * kv) * d, h, def.qkvBias);
  else {
    p.linear(`${a}.q_proj`, (def.gatedQuery ? 2 : 1) * heads * d, h, def.qkvBias);
    p.linear(`${a}.k_proj`, kv * d, h, def.qkvBias);
    p.linear(`${a}.v_proj`, kv * d, h, def.qkvBias);
  }
  p.linear(`${a}.o_proj`, h, heads * d, def.oBias);
  if (def.sigmoidOutputGate) p.linear(`${a}.gate_proj`, heads * d, h, false);
  if (def.qkNorm) {
    const full = def.qkNorm.placement === "fullBeforeRope";
    p.norm(`${a}.${def.qkNorm.q}`, "rms", full ? heads * d : d);
    p.norm(`${a}.${def.qkNorm.k}`, "rms", full ? kv * d : d);
  }
  if (def.sinks) p.need(`${a}.sinks`, [heads]);
}

function planMoeBlock(p: Plan, fam: FamilyDefinition, raw: Config, l: number): void {
  const moe = fam.moe;
  const prefix = `model.layers.${l}.${moe.blockName}`;
  const h = intField(raw, ["hidden_size"]);
  const e = moe.numExperts(raw, l);
  const i = moe.intermediateSize(raw);
  const r = moe.router;
  const outs = r.outputs?.(raw) ?? e;
  p.need(`${prefix}.${r.weightKey}`, [outs, h]);
  if (r.biasKey) p.need(`${prefix}.${r.biasKey}`, [outs]);
  if (r.correctionBiasKey && (r.usesCorrectionBias?.(raw) ?? true)) p.need(`${prefix}.${r.correctionBiasKey}`, [outs], [1, outs]);
  if (moe.outputBiasKey) p.need(`${prefix}.${moe.outputBiasKey}`, [h]);
  const layout = moe.experts;
  if (layout.kind === "perExpert") {
    for (let x = 0; x < e; x++) {
      p.need(`${prefix}.experts.${x}.${layout.gate}.weight`, [i, h]);
      p.need(`${prefix}.experts.${x}.${layout.up}.weight`, [i, h]);
      p.need(`${prefix}.experts.${x}.${layout.down}.weight`, [h, i]);
    }
  } else if (layout.kind === "flatStacks") {
    for (const name of [layout.gate, layout.up, layout.down]) p.need(`${prefix}.${name}`, [e * i, h]);
  } else if (layout.kind === "granite") {
    p.need(`${prefix}.input_linear.weight`, [e, 2 * i, h]);
    p.need(`${prefix}.output_linear.weight`, [e, h, i]);
  } else if (gptOssGateUpStacks(raw)) {
    p.need(`${prefix}.experts.gate_up_proj.weight`, [e, 2 * i, h]);
    p.need(`${prefix}.experts.gate_up_proj.bias`, [e, 2 * i]);
    p.need(`${prefix}.experts.down_proj.weight`, [e, h, i]);
    p.need(`${prefix}.experts.down_proj.bias`, [e, h]);
  } else if (checkpointQuantization(raw, fam) === "mxfp4") {
    p.need(`${prefix}.experts.gate_up_proj_blocks`, [e, 2 * i, h / 32, 16]);
    p.need(`${prefix}.experts.gate_up_proj_scales`, [e, 2 * i, h / 32]);
    p.need(`${prefix}.experts.down_proj_blocks`, [e, h, i / 32, 16]);
    p.need(`${prefix}.experts.down_proj_scales`, [e, h, i / 32]);
    p.need(`${prefix}.experts.gate_up_proj_bias`, [e, 2 * i]);
    p.need(`${prefix}.experts.down_proj_bias`, [e, h]);
  } else {
    p.need(`${prefix}.experts.gate_up_proj`, [e, h, 2 * i]);
    p.need(`${prefix}.experts.down_proj`, [e, i, h]);
    if (layout.kind === "stackedInOut") return planShared(p, moe, raw, prefix, h);
    p.need(`${prefix}.experts.gate_up_proj_bias`, [e, 2 * i]);
    p.need(`${prefix}.experts.down_proj_bias`, [e, h]);
  }
  planShared(p, moe, raw, prefix, h);
}

function planShared(p: Plan, moe: FamilyDefinition["moe"], raw: Config, prefix: string, h: number): void {
  const shared = moe.shared;
  const width = shared ? shared.width(raw) : 0;
  if (shared && width > 0) {
    p.gatedMlp(`${prefix}.${shared.name}`, h, width, false);
    if (shared.gateKey) p.need(`${prefix}.${shared.gateKey}`, [1, h]);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Throws unless the checkpoint holds every required tensor with a planned shape (and every optional one
 * it holds with its shape); one error names all missing tensors. Reads headers only.
 */
export function checkPlan(ckpt: Checkpoint, plan: readonly PlannedTensor[]): void {
  const missing = ckpt.missing(plan.filter((t) => !t.optional).map((t) => t.key));
  if (missing.length > 0) {
    const shown = missing.slice(0, 20).map((k) => `'${k}'`).join(", ");
    const more = missing.length > 20 ? ` and ${missing.length - 20} more` : "";
    throw new Error(`checkpoint '${ckpt.name}' is missing ${missing.length} tensor(s) the config requires: ${shown}${more}`);
  }
  for (const t of plan) {
    if (!ckpt.has(t.key)) continue;
    const shape = ckpt.info(t.key).shape;
    if (!t.shapes.some((s) => sameShape(s, shape))) {
      throw new Error(`checkpoint '${ckpt.name}': '${t.key}' has shape ${shapeString(shape)}, config implies ${t.shapes.map(shapeString).join(" or ")}`);
    }
  }
}
