/**
 * The parts of a CausalLM from a checkpoint: the config validated, the layer count compared with the
 * checkpoint's, every tensor's presence and shape checked from the key plan (all missing keys reported
 * together, nothing read or allocated yet), then the weights read; nothing is returned unless everything
 * loaded. Tensors left unused are named in a warning unless the family leaves them out by design.
 */
import type { Backend } from "../../backends/backend.js";
import type { BackendChoice } from "../../backends/by-name.js";
import { resolvePlacement } from "../../backends/placement.js";
import type { Tensor } from "../../tensor.js";
import type { MatrixRole } from "./quantize.js";
import { expertsInterface, type ExpertsInterface } from "../../experts/registry.js";
import { ExpertCache, expertCacheFor } from "../../experts/residency.js";
import type { Checkpoint } from "../../loading/checkpoint.js";
import { GqaAttention } from "../layers/attention.js";
import { resolveExpertsSetting, type CausalLMParts, type ExpertsImplementationSetting } from "../causal-lm.js";
import { DecoderLayer, type FeedForward, type SublayerNorms } from "../layers/decoder-layer.js";
import { boolField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { familyCheckpoint, unusedOriginalKeys } from "./convert-checkpoint.js";
import { Linear } from "../layers/linear.js";
import { MlaAttention } from "../layers/mla-attention.js";
import type { SequenceMixer } from "../layers/mixers/mixer.js";
import { DsaAttention } from "../layers/dsa-attention.js";
import { loadMoaAttention } from "./moa-attention.js";
import { GatedMlp } from "../layers/mlp.js";
import { normaliseConfig, type ModelConfig } from "../config/model-config.js";
import { loadFusedGatedMlp, loadGatedMlp } from "./gated-mlp.js";
import { loadMoeBlockFromCheckpoint } from "./load-moe-block.js";
import { castMlp, castMoeBlock } from "./cast.js";
import { Norm } from "../layers/norm.js";
import { RotaryEmbedding } from "../layers/rope.js";
import { WeightReader, type WeightDType } from "./weights.js";
import { checkKvCacheDtype, type KvCacheDtype } from "../cache/kv-dtype.js";
import { QUANT_DTYPES } from "./quantize.js";
import { checkpointQuantization, storedLoadDType, storedQuantization } from "./quantization-config.js";
import { checkLayerCount, unexpectedKeys } from "./checkpoint-layers.js";
import { checkPlan, planCausalLM } from "./key-plan.js";

export interface LoadModelOptions {
  /**
   * "auto" (default: cpu in Node when the addon loads, webgpu in a browser, else reference), "cpu", "webgpu",
   * "reference", a Backend, or a placement `{ rest, experts, expertsLayers? }` (routed experts on another backend).
   */
  backend?: BackendChoice;
  /**
   * Storage dtype of the weight matrices; "auto" (default) keeps the checkpoint's. A quantized dtype ("q8_0",
   * "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4", "fp8_e4m3_b128", or llama.cpp's "q4_k_m" mix) quantizes a float
   * checkpoint's matrices at load, tensor by tensor (src/models/build/quantize.ts says which).
   */
  dtype?: WeightDType;
  /**
   * With a quantized dtype: widen every quantized matrix back to float32 (the quantized model's exact float
   * equivalent, to measure quantization error). On an fp8 checkpoint (quant_method "fp8"): widen its fp8 weights
   * at load to `dtype` if a float one, else to the config's dtype (bfloat16 by default), as transformers'
   * `FineGrainedFP8Config(dequantize=True)`; quantization-config.ts says which combinations are refused.
   */
  dequantize?: boolean;
  /** With a quantized dtype: called with each float matrix (as read) and its quantized form (`moekit quantize` records them). */
  onQuantize?: (source: Tensor, quantized: Tensor) => void;
  /** Default: grouped_mm. A name, or a map keyed by sub-model ("" = the text model). */
  expertsImplementation?: ExpertsImplementationSetting;
  /** Threads of a backend that has a thread pool (`setThreads`); ignored by the reference backend. */
  threads?: number;
  registry?: ExpertsInterface;
  /**
   * Bytes of weights to keep resident (CLI --max-memory): dense weights stay, routed experts live in the
   * memory-mapped checkpoint and an expert cache keeps the hot ones within the rest (src/experts/residency.ts).
   */
  maxResidentBytes?: number;
  /** Where load warnings go (checkpoint tensors the model does not use); default console.warn. */
  onWarning?: (message: string) => void;
  /**
   * Format of the model's KV caches on a host backend (each `newCache` / generate call may override it):
   * "float32", "bfloat16", "float16", or "auto" (default): the precision of the backend's products —
   * bfloat16 on a cpu backend computing in bfloat16 (as transformers keeps a bf16 model's cache in bf16),
   * float32 otherwise. Device backends (webgpu) keep a float32 cache.
   */
  kvCacheDtype?: KvCacheDtype | "auto";
}

const DTYPES: readonly WeightDType[] = ["auto", "float32", "bfloat16", "float16", ...QUANT_DTYPES];

export async function loadCausalLMParts(source: Checkpoint, opts: LoadModelOptions = {}): Promise<CausalLMParts> {
  if (opts === null || typeof opts !== "object") throw new Error(`load options must be an object, got ${String(opts)}`);
  const placement = await resolvePlacement(opts.backend, { threads: opts.threads });
  const backend = placement.rest;
  const registry = opts.registry ?? expertsInterface;
  if (opts.dtype !== undefined && !DTYPES.includes(opts.dtype)) throw new Error(`dtype must be one of ${DTYPES.join(", ")}, got ${JSON.stringify(opts.dtype)}`);
  const impl = opts.expertsImplementation === undefined ? undefined : registry.validate(resolveExpertsSetting(opts.expertsImplementation));
  if (opts.threads !== undefined) {
    for (const b of placement.all) (b as Backend & { setThreads?: (n: number) => void }).setThreads?.(opts.threads);
  }
  if (opts.onWarning !== undefined && typeof opts.onWarning !== "function") throw new Error("onWarning must be a function");
  const kvCacheDtype = opts.kvCacheDtype === undefined || opts.kvCacheDtype === "auto" ? autoKvCacheDtype(backend) : checkKvCacheDtype(opts.kvCacheDtype, "load");
  const { fam, ckpt } = familyCheckpoint(storedQuantization(source, { dequantize: opts.dequantize, dtype: opts.dtype }));
  const dtype = opts.dtype ?? storedLoadDType(source.config);
  const cfg = normaliseConfig(ckpt.config, fam);
  checkpointQuantization(ckpt.config, fam);
  checkLayerCount(ckpt, fam, ckpt.config, cfg.numLayers);
  checkPlan(ckpt, planCausalLM(fam, ckpt.config, cfg));
  const firstSparse = Array.from({ length: cfg.numLayers }, (_, l) => l).find((l) => fam.moe.isSparseLayer(ckpt.config, l));
  const numExperts = firstSparse === undefined ? 0 : fam.moe.numExperts(ckpt.config, firstSparse);
  if (opts.dequantize !== undefined && typeof opts.dequantize !== "boolean") throw new Error(`dequantize must be a boolean, got ${String(opts.dequantize)}`);
  if (opts.onQuantize !== undefined && typeof opts.onQuantize !== "function") throw new Error("onQuantize must be a function");
  const w = new WeightReader(ckpt, backend, dtype, { numLayers: cfg.numLayers, numExperts }, opts.dequantize === true, opts.onQuantize);
  const h = cfg.hiddenSize;

  const embedTokens = await w.get("model.embed_tokens.weight", [cfg.vocabSize, h]);
  const shells: Omit<LayerShell, "ffn">[] = [];
  const dense = new Map<number, GatedMlp>();
  for (let l = 0; l < cfg.numLayers; l++) {
    shells.push(await loadLayerShell(w, fam, cfg, l));
    if (!fam.moe.isSparseLayer(ckpt.config, l) || fam.moe.shortcut) {
      dense.set(l, await loadDenseMlp(w, cfg, l));
    }
  }
  const norm = await Norm.load(w, "model.norm", cfg.norm, h, cfg.normEps, cfg.normWeightOffset);
  const lmHeadBias = fam.model.lmHeadBias?.(ckpt.config) ?? false;
  const lmHead = cfg.tieWordEmbeddings
    ? new Linear(embedTokens, await w.maybe("lm_head.bias", [cfg.vocabSize], lmHeadBias))
    : await Linear.load(w, "lm_head", cfg.vocabSize, h, lmHeadBias);

  const m = fam.model.multipliers?.(ckpt.config) ?? { embedding: 1, residual: 1, logitsDivisor: 1 };
  const layers: DecoderLayer[] = [];
  let moeLayers = 0;
  for (let l = 0; l < cfg.numLayers; l++) {
    let ffn: FeedForward;
    if (fam.moe.isSparseLayer(ckpt.config, l)) {
      const expertsBackend = placement.expertsOf(moeLayers++);
      const matrix = (t: Tensor, role: MatrixRole, layer: number, what: string, on: Backend) => w.matrix(t, role, layer, what, on);
      let block = await loadMoeBlockFromCheckpoint(ckpt, fam, l, { backend, expertsBackend, expertsImplementation: impl, registry, matrix });
      if (dtype !== "auto" && !w.quantizes) block = castMoeBlock(block, dtype as "float32");
      ffn = fam.moe.shortcut ? { kind: "moe", block, beside: dense.get(l)!, deferred: true } : { kind: "moe", block, beside: await loadBesideMlp(w, fam, cfg, l) };
    } else {
      ffn = { kind: "dense", mlp: dense.get(l)! };
    }
    const s = shells[l]!;
    const addsDeferred = fam.moe.shortcut === true && l > 0 && fam.moe.isSparseLayer(ckpt.config, l - 1);
    layers.push(new DecoderLayer(l, s.norms, s.mixer, ffn, m.residual, fam.model.layerNorms.parallel ?? false, fam.model.scaledResiduals?.(ckpt.config, l), addsDeferred));
  }
  const unusedKeys = unusedOriginalKeys(ckpt);
  const unexpected = unexpectedKeys(unusedKeys, fam, ckpt.config, cfg.numLayers);
  if (unexpected.length > 0) {
    const shown = unexpected.slice(0, 10).map((k) => `'${k}'`).join(", ");
    const more = unexpected.length > 10 ? ` and ${unexpected.length - 10} more` : "";
    (opts.onWarning ?? console.warn)(`moekit: checkpoint '${source.name}' holds ${unexpected.length} tensor(s) this ${fam.modelType} model does not use: ${shown}${more}`);
  }
  const expertCache = opts.maxResidentBytes === undefined ? undefined : installExpertCache(layers, ckpt, opts.maxResidentBytes);
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
    unusedKeys,
    kvCacheDtype,
    ...(expertCache ? { expertCache } : {}),
  };
}

/** "auto": a bfloat16 cache where the backend's products compute in bfloat16, else float32 (and always on a device). */
function autoKvCacheDtype(b: Backend): KvCacheDtype {
  return b.isHost && (b as Backend & { compute?: unknown }).compute === "bfloat16" ? "bfloat16" : "float32";
}

/** The expert cache of `maxResidentBytes`, hooked into every sparse block; dense bytes are the used tensors' bytes less the experts'. */
function installExpertCache(layers: DecoderLayer[], ckpt: Checkpoint, maxResidentBytes: number): ExpertCache {
  const blocks = layers.flatMap((l) => (l.ffn.kind === "moe" ? [l.ffn.block] : []));
  const unused = new Set(ckpt.unusedKeys());
  const used = ckpt.keys().reduce((a, k) => (unused.has(k) ? a : a + ckpt.info(k).end - ckpt.info(k).begin), 0);
  const weights = blocks.map((b) => b.experts.weights);
  const probe = new ExpertCache(weights, 0);
  const cache = expertCacheFor(weights, maxResidentBytes, Math.max(0, used - probe.expertBytes));
  blocks.forEach((b, i) => (b.residency = cache.layer(i)));
  return cache;
}

interface LayerShell {
  norms: SublayerNorms;
  mixer: SequenceMixer;
}

async function loadLayerShell(w: WeightReader, fam: FamilyDefinition, cfg: ModelConfig, l: number): Promise<LayerShell> {
  const p = `model.layers.${l}`;
  const raw = w.ckpt.config;
  const choice = fam.model.mixer?.(raw, l);
  const def = fam.model.attention(raw, l);
  const bias = boolField(raw, ["attention_bias"], false);
  const mixer: SequenceMixer = choice
    ? await choice.load(w, { raw, cfg, layer: l, prefix: p })
    : def.kind === "moa"
      ? await loadMoaAttention(w, fam, cfg, l)
      : def.kind === "mla"
        ? def.indexer
          ? await DsaAttention.loadDsa(w, cfg, l, bias, def.indexer)
          : await MlaAttention.load(w, cfg, l, bias, { rotate: def.rope !== false, latentScales: def.latentScales })
              : await GqaAttention.load(w, cfg, l, def, fam.model.slidingWindow?.(raw, l));
  const names = fam.model.layerNorms;
  const norms: SublayerNorms = {};
  for (const slot of ["attentionIn", "attentionOut", "ffnIn", "ffnOut"] as const) {
    const name = names[slot];
    if (name) norms[slot] = await Norm.load(w, `${p}.${name}`, cfg.norm, cfg.hiddenSize, cfg.normEps, cfg.normWeightOffset);
  }
  return { norms, mixer };
}

/** The dense MLP beside layer l's sparse block (granitemoeshared), when the family has one and its width is not 0. */
async function loadBesideMlp(w: WeightReader, fam: FamilyDefinition, cfg: ModelConfig, l: number): Promise<GatedMlp | undefined> {
  const beside = fam.moe.besideMlp;
  const width = beside?.width(w.ckpt.config) ?? 0;
  if (!beside || width === 0) return undefined;
  const p = `model.layers.${l}.${beside.name}`;
  const host = await loadFusedGatedMlp(w.ckpt, p, cfg.hiddenSize, width, w.ckpt.config);
  const mlp = new GatedMlp(w.matrix(host.gateUp, "ffn_gate_up", l, `${p}.input_linear`), w.matrix(host.down, "ffn_down", l, `${p}.output_linear`), host.act);
  return w.dtype === "auto" || w.quantizes ? mlp : castMlp(w.backend, mlp, w.dtype as "float32");
}

/** A dense layer's gated MLP (`mlp.{gate,up,down}_proj`, biases as the key plan checked). */
async function loadDenseMlp(w: WeightReader, cfg: ModelConfig, l: number): Promise<GatedMlp> {
  const p = `model.layers.${l}.mlp`;
  const host = await loadGatedMlp(w.ckpt, p, cfg.hiddenSize, cfg.intermediateSize, w.ckpt.config);
  const b = w.backend;
  const adopt = (t: typeof host.gateUpBias) => (t ? b.adopt(t) : undefined);
  const mlp = new GatedMlp(w.matrix(host.gateUp, "ffn_gate_up", l, `${p} gate_up`), w.matrix(host.down, "ffn_down", l, `${p}.down_proj`), cfg.act, adopt(host.gateUpBias), adopt(host.downBias));
  return w.dtype === "auto" || w.quantizes ? mlp : castMlp(b, mlp, w.dtype as "float32");
}
