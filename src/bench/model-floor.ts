/**
 * The floor of each `--scope model` row: the least time the machine could take for that case given the
 * ceilings measured right before it (src/bench/probes.ts: the GEMM probe's GFLOP/s and the read probe's
 * GB/s). A latency floor is max(FLOPs / GEMM ceiling, bytes / read ceiling); a decode rate's floor is
 * its inverse for one token. Counted from the checkpoint's tensors in their load format (a quantized
 * dtype: the block format moekit's quantize-at-load gives each matrix, src/models/build/quantize.ts):
 *
 * - bytes per decode token: every non-expert matrix and vector of every layer, top-k experts per layer,
 *   the lm head, one embedding row, and the KV cache read at that context (2 bytes per value, the f16 /
 *   bf16 cache llama.cpp keeps);
 * - prefill of B sequences of S tokens: 2 FLOPs per weight per token (the routed experts: top-k of them),
 *   the lm head once per sequence (logits of the last position only), causal attention
 *   (4·head_dim FLOPs per query-key pair and head); bytes: the weights once, routed experts as the
 *   expected distinct experts of B·S tokens under uniform routing (work-model.ts), the embedding rows.
 *   The last layer's feed-forward (router, MLP / shared expert, routed experts) counts for the B last
 *   positions only: no other position of its output is read (moekit and llama.cpp both skip them).
 *
 * Activations are not counted (they stay in cache at these sizes), so a floor is a bound, not a forecast.
 */
import { bytesPerElement, type DType } from "../dtype.js";
import { formatInfo } from "../formats/table.js";
import type { Checkpoint } from "../loading/checkpoint.js";
import { formatFor, isQuantDType, layerOfKey, roleOfKey, type MatrixRole, type QuantDType } from "../models/build/quantize.js";
import { intField } from "../models/config/fields.js";
import { numel } from "../tensor.js";
import type { Ceilings } from "./case-spec.js";
import type { ModelCase, RowMetric } from "./model-cases.js";
import { expectedActiveExperts } from "./work-model.js";

/** A checkpoint's weights as the floors need them. */
export interface ModelBytes {
  layers: number;
  experts: number;
  topK: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  hidden: number;
  /** every tensor of the layers except the routed experts, bytes */
  denseBytes: number;
  /** weights of the layers' matrices except the routed experts (multiply-adds per token) */
  denseMacs: number;
  /** one routed expert of each layer (the mean over experts), summed over the layers */
  expertBytes: number;
  expertMacs: number;
  lmHeadBytes: number;
  lmHeadMacs: number;
  embedRowBytes: number;
  /** final norm and other tensors outside the layers */
  otherBytes: number;
  /** the last layer's feed-forward matrices but its routed experts (router, MLP / shared expert), multiply-adds per token */
  lastFfnMacs: number;
  /** one routed expert of the last layer (the mean over experts): bytes and multiply-adds */
  lastExpertBytes: number;
  lastExpertMacs: number;
}

/** A layer's feed-forward tensors (the checkpoint names of the MoE block, its MLP and shared expert). */
const FFN_KEY = /\.(mlp|block_sparse_moe|feed_forward|moe)\.|shared_expert/;

const EXPERT_KEY = /\.experts\.(\d+)\.(\w+)\.weight$/;
const ROUTER_KEY = /(\.mlp\.gate|shared_expert_gate|\.router)\.weight$/;

function roleOf(key: string): MatrixRole {
  const r = roleOfKey(key);
  if (r !== "other") return r;
  if (EXPERT_KEY.test(key)) return /down/.test(key) ? "exps_down" : "exps_gate_up";
  if (/\.(mlp|shared_expert)\.|shared_expert/.test(key)) return /down/.test(key) ? "ffn_down" : "ffn_gate_up";
  return "other";
}

/** The bytes of tensor `key` (shape, stored as `stored`) when loaded with `dtype`. */
function loadedBytes(key: string, shape: number[], stored: DType, dtype: DType | QuantDType, info: { numLayers: number; numExperts: number }): number {
  const n = numel(shape);
  const floatBytes = (d: DType) => n * bytesPerElement(d);
  const isMatrix = shape.length >= 2 && !ROUTER_KEY.test(key) && !/embed_tokens/.test(key);
  if (!isQuantDType(dtype)) return floatBytes(isMatrix ? dtype : stored);
  if (!isMatrix) return floatBytes(stored);
  const f = formatFor(dtype, roleOf(key), layerOfKey(key), shape[shape.length - 1]!, info);
  if (!f) return floatBytes(stored);
  const fi = formatInfo(f);
  return (n / fi.blockElems) * fi.blockBytes;
}

const STORED: Record<string, DType> = { BF16: "bfloat16", F16: "float16", F32: "float32" };

/** The weights of `ckpt` (its first `layers` layers) loaded in `dtype`, grouped for the floors. */
export function modelBytes(ckpt: Checkpoint, dtype: DType | QuantDType): ModelBytes {
  const cfg = ckpt.config;
  const layers = intField(cfg, ["num_hidden_layers"]);
  const experts = intField(cfg, ["num_experts", "num_local_experts", "n_routed_experts"], 0);
  const heads = intField(cfg, ["num_attention_heads"]);
  const hidden = intField(cfg, ["hidden_size"]);
  const vocab = intField(cfg, ["vocab_size"]);
  const info = { numLayers: layers, numExperts: experts };
  const m: ModelBytes = {
    layers, experts, topK: intField(cfg, ["num_experts_per_tok"], 1), heads, kvHeads: intField(cfg, ["num_key_value_heads"], heads),
    headDim: intField(cfg, ["head_dim"], hidden / heads), vocab, hidden,
    denseBytes: 0, denseMacs: 0, expertBytes: 0, expertMacs: 0, lmHeadBytes: 0, lmHeadMacs: 0, embedRowBytes: 0, otherBytes: 0,
    lastFfnMacs: 0, lastExpertBytes: 0, lastExpertMacs: 0,
  };
  for (const key of ckpt.keys()) {
    const layer = layerOfKey(key);
    if (layer >= layers) continue;
    const t = ckpt.info(key);
    const stored = STORED[t.stored] ?? "float32";
    const bytes = loadedBytes(key, t.shape, stored, dtype, info);
    const macs = t.shape.length >= 2 ? numel(t.shape) : 0;
    if (key === "lm_head.weight") {
      m.lmHeadBytes += bytes;
      m.lmHeadMacs += macs;
    } else if (/embed_tokens\.weight$/.test(key)) {
      m.embedRowBytes += bytes / t.shape[0]!;
      if (cfg.tie_word_embeddings === true && !ckpt.keys().includes("lm_head.weight")) {
        m.lmHeadBytes += bytes;
        m.lmHeadMacs += macs;
      }
    } else if (EXPERT_KEY.test(key)) {
      m.expertBytes += bytes;
      m.expertMacs += macs;
      if (layer === layers - 1) {
        m.lastExpertBytes += bytes;
        m.lastExpertMacs += macs;
      }
    } else if (layer >= 0) {
      m.denseBytes += bytes;
      m.denseMacs += macs;
      if (layer === layers - 1 && FFN_KEY.test(key)) m.lastFfnMacs += macs;
    } else {
      m.otherBytes += bytes;
    }
  }
  // summed over every expert first, then one division: exact for whole bytes
  m.expertBytes /= Math.max(1, experts);
  m.expertMacs /= Math.max(1, experts);
  m.lastExpertBytes /= Math.max(1, experts);
  m.lastExpertMacs /= Math.max(1, experts);
  return m;
}

/** FLOPs and bytes of one decode token at `context` cached tokens (one sequence). */
export function decodeWork(m: ModelBytes, context: number): { flops: number; bytes: number } {
  const kv = 2 * m.layers * m.kvHeads * m.headDim * context * 2;
  const macs = m.denseMacs + m.topK * m.expertMacs + m.lmHeadMacs;
  return {
    flops: 2 * macs + 4 * m.layers * m.heads * m.headDim * context,
    bytes: m.denseBytes + m.topK * m.expertBytes + m.lmHeadBytes + m.embedRowBytes + m.otherBytes + kv,
  };
}

/** FLOPs and bytes of the prefill of `batch` sequences of `seq` tokens from an empty cache (last-position logits). */
export function prefillWork(m: ModelBytes, batch: number, seq: number): { flops: number; bytes: number } {
  const t = batch * seq;
  const pairs = (batch * seq * (seq + 1)) / 2;
  const active = (n: number) => (m.experts > 0 ? expectedActiveExperts(n, m.topK, m.experts) : 0);
  // the last layer's feed-forward runs on `batch` tokens, not t: its share of the per-token sums comes off
  const lastFfn = m.lastFfnMacs + m.topK * m.lastExpertMacs;
  return {
    flops: 2 * t * (m.denseMacs + m.topK * m.expertMacs) - 2 * (t - batch) * lastFfn + 2 * batch * m.lmHeadMacs + 4 * m.layers * m.heads * m.headDim * pairs,
    bytes: m.denseBytes + active(t) * (m.expertBytes - m.lastExpertBytes) + active(batch) * m.lastExpertBytes + m.lmHeadBytes + t * m.embedRowBytes + m.otherBytes,
  };
}

export interface Floor {
  /** ms for a prefill row, tok/s for a decode row */
  value: number;
  flops: number;
  bytes: number;
  /** which ceiling binds */
  bound: "compute" | "bandwidth";
}

function boundMs(w: { flops: number; bytes: number }, c: Ceilings): { ms: number; bound: Floor["bound"] } {
  const compute = w.flops / (c.gemmGflops * 1e6);
  const memory = w.bytes / (c.bandwidthGBs * 1e6);
  return compute >= memory ? { ms: compute, bound: "compute" } : { ms: memory, bound: "bandwidth" };
}

/** The floor of the row `metric` of case `c` under ceilings `ceil`. */
export function rowFloor(m: ModelBytes, c: ModelCase, metric: RowMetric, ceil: Ceilings): Floor {
  if (metric === "prefill_ms") {
    const w = c.kind === "prefill" ? prefillWork(m, c.batch, c.seq) : prefillWork(m, 1, c.kind === "context" ? c.context : c.prompt);
    const b = boundMs(w, ceil);
    return { value: b.ms, ...w, bound: b.bound };
  }
  // decode steps run at contexts prompt+1 … prompt+new: the mean context is what each step reads on average
  const context = c.kind === "decode" ? c.prompt + c.newTokens / 2 : c.kind === "context" ? c.context + c.newTokens / 2 : c.seq;
  const w = decodeWork(m, context);
  const b = boundMs(w, ceil);
  return { value: 1000 / b.ms, ...w, bound: b.bound };
}

/** How much of the floor a measured row reaches (1 = at the floor): floor/ms for latencies, rate/floor for rates. */
export function shareOfFloor(metric: RowMetric, measured: number, floor: number): number {
  return metric === "prefill_ms" ? floor / measured : measured / floor;
}
