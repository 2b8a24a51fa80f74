/**
 * The parts of a CausalLM from a checkpoint: every non-MoE tensor is read and shape-checked first (all
 * missing keys reported together), then the MoE blocks; nothing is returned unless everything loaded.
 */
import type { Backend } from "../../backends/backend.js";
import { resolveBackend, type BackendChoice } from "../../backends/by-name.js";
import { expertsInterface, type ExpertsInterface } from "../../experts/registry.js";
import type { Checkpoint } from "../../loading/checkpoint.js";
import { GqaAttention } from "../layers/attention.js";
import { resolveExpertsSetting, type CausalLMParts, type ExpertsImplementationSetting } from "../causal-lm.js";
import { DecoderLayer, type FeedForward, type SublayerNorms } from "../layers/decoder-layer.js";
import { boolField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { familyCheckpoint, unusedOriginalKeys } from "./convert-checkpoint.js";
import { Linear } from "../layers/linear.js";
import { MlaAttention } from "../layers/mla-attention.js";
import { GatedMlp } from "../layers/mlp.js";
import { normaliseConfig, type ModelConfig } from "../config/model-config.js";
import { loadFusedGatedMlp, loadGatedMlp } from "./gated-mlp.js";
import { loadMoeBlockFromCheckpoint } from "./load-moe-block.js";
import { castMlp, castMoeBlock } from "./cast.js";
import { Norm } from "../layers/norm.js";
import { RotaryEmbedding } from "../layers/rope.js";
import { WeightReader, type WeightDType } from "./weights.js";

export interface LoadModelOptions {
  /** "auto" (default: cpu in Node when the addon loads, webgpu in a browser, else reference), "cpu", "webgpu", "reference" or a Backend. */
  backend?: BackendChoice;
  /** Storage dtype of the weight matrices; "auto" (default) keeps the checkpoint's. */
  dtype?: WeightDType;
  /** Default: grouped_mm. A name, or a map keyed by sub-model ("" = the text model). */
  expertsImplementation?: ExpertsImplementationSetting;
  /** Threads of a backend that has a thread pool (`setThreads`); ignored by the reference backend. */
  threads?: number;
  registry?: ExpertsInterface;
}

const DTYPES: readonly WeightDType[] = ["auto", "float32", "bfloat16", "float16"];

export async function loadCausalLMParts(source: Checkpoint, opts: LoadModelOptions = {}): Promise<CausalLMParts> {
  if (opts === null || typeof opts !== "object") throw new Error(`load options must be an object, got ${String(opts)}`);
  const backend = await resolveBackend(opts.backend, { threads: opts.threads });
  const registry = opts.registry ?? expertsInterface;
  const dtype = opts.dtype ?? "auto";
  if (!DTYPES.includes(dtype)) throw new Error(`dtype must be one of ${DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  const impl = opts.expertsImplementation === undefined ? undefined : registry.validate(resolveExpertsSetting(opts.expertsImplementation));
  if (opts.threads !== undefined) {
    const withThreads = backend as Backend & { setThreads?: (n: number) => void };
    withThreads.setThreads?.(opts.threads);
  }
  const { fam, ckpt } = familyCheckpoint(source);
  const cfg = normaliseConfig(ckpt.config, fam);
  const w = new WeightReader(ckpt, backend, dtype);
  const h = cfg.hiddenSize;

  const embedTokens = await w.get("model.embed_tokens.weight", [cfg.vocabSize, h]);
  const shells: Omit<LayerShell, "ffn">[] = [];
  const dense = new Map<number, GatedMlp>();
  for (let l = 0; l < cfg.numLayers; l++) {
    shells.push(await loadLayerShell(w, fam, cfg, l));
    if (!fam.moe.isSparseLayer(ckpt.config, l)) {
      const mlp = await loadDenseMlp(w, fam, cfg, l);
      if (mlp) dense.set(l, mlp);
    }
  }
  const norm = await Norm.load(w, "model.norm", cfg.norm, h, cfg.normEps);
  const lmHeadBias = fam.model.lmHeadBias?.(ckpt.config) ?? false;
  const lmHead = cfg.tieWordEmbeddings
    ? new Linear(embedTokens, await w.maybe("lm_head.bias", [cfg.vocabSize], lmHeadBias))
    : await Linear.load(w, "lm_head", cfg.vocabSize, h, lmHeadBias);
  w.throwIfMissing();

  const m = fam.model.multipliers?.(ckpt.config) ?? { embedding: 1, residual: 1, logitsDivisor: 1 };
  const layers: DecoderLayer[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    let ffn: FeedForward;
    if (fam.moe.isSparseLayer(ckpt.config, l)) {
      let block = await loadMoeBlockFromCheckpoint(ckpt, fam, l, { backend, expertsImplementation: impl, registry });
      if (dtype !== "auto") block = castMoeBlock(block, dtype);
      ffn = { kind: "moe", block, beside: await loadBesideMlp(w, fam, cfg, l) };
    } else {
      ffn = { kind: "dense", mlp: dense.get(l)! };
    }
    const s = shells[l]!;
    layers.push(new DecoderLayer(l, s.norms, s.attention, ffn, m.residual, fam.model.layerNorms.parallel ?? false));
  }
  const rotary = new RotaryEmbedding(cfg.rope, { dim: cfg.rotaryDim, maxPositions: cfg.maxPositions, longropeShortFactorOnly: fam.model.longropeShortFactorOnly });
  return {
    family: fam,
    config: cfg,
    rawConfig: ckpt.config,
    generationConfig: ckpt.generationConfig,
    backend,
    registry,
    embedTokens,
    layers,
    norm,
    lmHead,
    rotary,
    multipliers: m,
    unusedKeys: unusedOriginalKeys(ckpt),
  };
}

interface LayerShell {
  norms: SublayerNorms;
  attention: GqaAttention | MlaAttention;
}

async function loadLayerShell(w: WeightReader, fam: FamilyDefinition, cfg: ModelConfig, l: number): Promise<LayerShell> {
  const p = `model.layers.${l}`;
  const raw = w.ckpt.config;
  const def = fam.model.attention(raw, l);
  const attention =
    def.kind === "mla"
      ? await MlaAttention.load(w, cfg, l, boolField(raw, ["attention_bias"], false))
      : await GqaAttention.load(w, cfg, l, def, fam.model.slidingWindow?.(raw, l));
  const names = fam.model.layerNorms;
  const norms: SublayerNorms = {};
  for (const slot of ["attentionIn", "attentionOut", "ffnIn", "ffnOut"] as const) {
    const name = names[slot];
    if (name) norms[slot] = await Norm.load(w, `${p}.${name}`, cfg.norm, cfg.hiddenSize, cfg.normEps);
  }
  return { norms, attention };
}

/** The dense MLP beside layer l's sparse block (granitemoeshared), when the family has one and its width is not 0. */
async function loadBesideMlp(w: WeightReader, fam: FamilyDefinition, cfg: ModelConfig, l: number): Promise<GatedMlp | undefined> {
  const beside = fam.moe.besideMlp;
  const width = beside?.width(w.ckpt.config) ?? 0;
  if (!beside || width === 0) return undefined;
  const host = await loadFusedGatedMlp(w.ckpt, `model.layers.${l}.${beside.name}`, cfg.hiddenSize, width, w.ckpt.config);
  const b = w.backend;
  const mlp = new GatedMlp(b.adopt(host.gateUp), b.adopt(host.down), host.act);
  return w.dtype === "auto" ? mlp : castMlp(b, mlp, w.dtype);
}

/** A dense layer's gated MLP (`mlp.{gate,up,down}_proj`), or undefined when keys are missing (recorded). */
async function loadDenseMlp(w: WeightReader, fam: FamilyDefinition, cfg: ModelConfig, l: number): Promise<GatedMlp | undefined> {
  const p = `model.layers.${l}.mlp`;
  const bias = fam.model.denseMlpBias?.(w.ckpt.config) ?? false;
  const keys = ["gate_proj", "up_proj", "down_proj"].flatMap((n) => [`${p}.${n}.weight`, ...(bias ? [`${p}.${n}.bias`] : [])]);
  const present = keys.map((k) => w.expect(k)).every(Boolean);
  if (!present) return undefined;
  if (cfg.intermediateSize < 1) throw new Error(`config.json: layer ${l} is dense but intermediate_size is missing`);
  const host = await loadGatedMlp(w.ckpt, p, cfg.hiddenSize, cfg.intermediateSize, w.ckpt.config);
  const b = w.backend;
  const adopt = (t: typeof host.gateUpBias) => (t ? b.adopt(t) : undefined);
  const mlp = new GatedMlp(b.adopt(host.gateUp), b.adopt(host.down), cfg.act, adopt(host.gateUpBias), adopt(host.downBias));
  return w.dtype === "auto" ? mlp : castMlp(b, mlp, w.dtype);
}
