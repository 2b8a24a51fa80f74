/**
 * The backend contract: the few ops the experts system and the models need. A backend owns its tensors
 * (host typed arrays for `reference` and `cpu`, GPU buffers for `webgpu`); ops are synchronous to
 * enqueue and return new tensors, and the only way back to the host is the async `read`.
 *
 * Shapes in the doc comments: S = token-slots (T·K), E = experts, N = output features, K = input
 * features (the "in" dim of nn.Linear weights, stored out × in). Weights may be float32, bfloat16 or
 * float16; activations and outputs are float32 unless an op says otherwise.
 */
import type { DType, HostStorage } from "../dtype.js";
import type { Tensor } from "../tensor.js";
import type { Activation } from "./activation.js";

export type { Activation } from "./activation.js";

/**
 * How a [S, 2I] gate|up projection becomes [S, I]:
 * - `concatenated`: gate = p[:, :I], up = p[:, I:], out = act(gate) · up (transformers' default)
 * - `interleaved`: gate = p[:, 0::2], up = p[:, 1::2] (gpt_oss's checkpoints)
 * - either gated kind with `clampedSwiglu` (gpt_oss; concatenated for llama.cpp's separate gate and up
 *   stacks): gate = min(gate, limit), up = clamp(up, -limit, limit), out = (up + 1) · gate · σ(alpha · gate)
 * - `none`: non-gated experts, out = act(p) on a [S, I] projection.
 */
export type GateSpec =
  | { kind: "concatenated"; act: Activation; clampedSwiglu?: { alpha: number; limit: number } }
  | { kind: "interleaved"; act: Activation; clampedSwiglu?: { alpha: number; limit: number } }
  | { kind: "none"; act: Activation };

/**
 * A top-k routing rule, in generic terms (backends know nothing of model families). Given router
 * logits [T, E]:
 * 1. scores = softmax(logits) | sigmoid(logits) | logits (`scoring`), in float32.
 * 2. choice = scores + selectionBias (the bias only chooses; weights never include it).
 * 3. groups: split E into `count` groups, score each by the max or the sum of the top-2 choice values,
 *    keep the best `keep` groups and set the others' choice to `fill` (0 or -Infinity).
 * 4. index = top-k of choice (descending; ties toward the lower expert id).
 * 5. weights = scores[index] (`weights: "scores"`), or softmax over the k chosen scores ("softmaxTopK").
 * 6. normalize: weights /= max(Σ weights + eps, min).
 * 7. weights *= scale.
 * `gapMaskedSoftmax` (k = 2; phimoe's sparsemixer at inference) replaces steps 1–6: twice, pick the best
 * remaining logit m, mask every expert e whose relative gap (m − logits[e]) / max(|logits[e]|, m) exceeds
 * 2·jitterEps, take the pick's softmax probability among the unmasked as its weight, then drop the pick.
 */
export interface RoutingSpec {
  k: number;
  scoring: "softmax" | "sigmoid" | "none" | "gapMaskedSoftmax";
  selectionBias?: Tensor;
  groups?: { count: number; keep: number; score: "max" | "top2sum"; fill: number };
  weights: "scores" | "softmaxTopK";
  normalize?: { eps: number; min: number };
  scale?: number;
  /** gapMaskedSoftmax's ε (phimoe's router_jitter_noise; default 0.01). */
  jitterEps?: number;
}

export interface Routing {
  /** int32 [T, k] */
  index: Tensor;
  /** float32 [T, k] */
  weights: Tensor;
}

export interface SortedSlots {
  /** int32 [S]: slot ids ordered by expert (stable within an expert). */
  order: Tensor;
  /** int32 [S]: position of each slot in `order` (the inverse permutation). */
  position: Tensor;
  /** int32 [E + 1]: start of each expert's segment in `order`; offsets[E] = S. */
  offsets: Tensor;
}

export interface Backend {
  readonly name: string;
  /** Tensors of this backend keep their values in host memory as typed arrays. */
  readonly isHost: boolean;

  /** A tensor of this backend holding the given host values (no copy where the backend can share them). */
  fromHost(storage: HostStorage, shape: readonly number[], dtype: DType): Tensor;
  /** A tensor of this backend equal to `t`, which may belong to any backend or to none. */
  adopt(t: Tensor): Tensor;
  /** Host values: Float32Array for float dtypes, Int32Array for int32. */
  read(t: Tensor): Promise<Float32Array | Int32Array>;
  /** Zeros of the given shape (float32 unless given). */
  zeros(shape: readonly number[], dtype?: DType): Tensor;
  /** Release device memory early (a no-op for host backends). */
  dispose?(t: Tensor): void;
  /**
   * Optional: runs one model forward so that the memory of its intermediate results serves the next forward
   * once it settles — all of it but the tensors `kept(result)` returns and those `retain` marks meanwhile.
   */
  forwardScope?<T>(fn: () => Promise<T>, kept: (result: T) => readonly Tensor[]): Promise<T>;
  /** Optional: `t`, made by the forward running, outlives it (a cache keeps it); see forwardScope. */
  retain?(t: Tensor): void;
  /**
   * Host backends, optional: dst[at + i] = the bfloat16 bits of src[i] (round to nearest even, NaN kept quiet), as
   * a host KV cache stores keys and values; where absent, the cache rounds them itself.
   */
  writeBf16?(src: Float32Array, dst: Uint16Array, at: number): void;

  // ---- dense and expert products -------------------------------------------------------------

  /**
   * y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]). With `expert`, w is a stack [E, N, K] and the product
   * uses w[expert] in place (no copy); bias is then [E, N] and bias[expert] is added.
   * x may have more than two dims: leading dims are flattened and kept in the result.
   * `into` (host backends may use it, others ignore it): M·N floats the result is written into and returned as a
   * view of, every value overwritten — a caller that reuses one buffer per step saves an allocation.
   */
  linear(x: Tensor, w: Tensor, opts?: { bias?: Tensor; expert?: number; into?: Float32Array }): Tensor;

  /**
   * Grouped product over contiguous segments: rows [offsets[e], offsets[e+1]) multiply w[e].
   * x[R, K]; with `rowIndex` int32 [S] row s reads x[⌊rowIndex[s] / rowsPerInput⌋] (the gather is
   * fused; rowsPerInput defaults to 1), without it R = S. w[E, N, K], offsets int32 [E + 1],
   * bias [E, N]. Returns y[S, N].
   */
  groupedLinear(x: Tensor, w: Tensor, offsets: Tensor, opts?: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number }): Tensor;

  /**
   * Gathered product: y[s] = w[ids[s]] · x[⌊s / rowsPerInput⌋] (+ bias[ids[s]]), reading each slot's
   * expert weights in place. x[S / rowsPerInput, K], w[E, N, K], ids int32 [S]. Returns y[S, N].
   */
  gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, opts?: { bias?: Tensor; rowsPerInput?: number }): Tensor;

  /** Gated activation of a projection: p[S, 2I] → [S, I] (p[S, I] → [S, I] for kind "none"). */
  gate(p: Tensor, spec: GateSpec): Tensor;

  // ---- routing and slot bookkeeping ----------------------------------------------------------

  /** Top-k routing of router logits [T, E] by a generic rule. */
  route(logits: Tensor, spec: RoutingSpec): Routing;

  /** Counting sort of slot expert ids int32 [S] into expert segments, for E experts. */
  sortByExpert(ids: Tensor, numExperts: number): SortedSlots;

  /**
   * Weighted sum over slots: out[t] = Σ_{k < K} y[row(t, k)] · weights[t, k], summed in slot order
   * k = 0..K-1 in float32. row(t, k) = slotRow[t·K + k] when given, else t·K + k.
   * y[R, H], weights float32 [T, K], slotRow int32 [T·K]. Returns out[T, H].
   */
  combineSlots(y: Tensor, weights: Tensor, slotRow?: Tensor): Tensor;

  /** Rows of x[R, H] picked by rows int32 [n]: returns [n, H]. */
  gatherRows(x: Tensor, rows: Tensor): Tensor;

  /** In place: out[rows[i]] += y[i] · weights[i], i in order. out[T, H], y[n, H], rows int32 [n], weights float32 [n]. */
  accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void;

  // ---- elementwise ---------------------------------------------------------------------------

  /** a + b, with b broadcast over a's leading dims (b's shape a suffix of a's, or [.., 1] per row). */
  add(a: Tensor, b: Tensor): Tensor;
  /** a · b, broadcasting as `add`; b may also be [rows, 1] to scale each row. */
  mul(a: Tensor, b: Tensor): Tensor;
  /** x · factor. */
  scale(x: Tensor, factor: number): Tensor;
  /** An activation applied elementwise. */
  activate(x: Tensor, act: Activation): Tensor;
  /** Softmax over the last dim, in float32. */
  softmax(x: Tensor): Tensor;
  /** A float copy of x in another storage dtype (float32 ↔ bfloat16 ↔ float16), rounded to nearest even. */
  cast(x: Tensor, dtype: DType): Tensor;
}

// ---- model layers ----------------------------------------------------------------------------
//
// Ops that whole models need around the experts. Shapes: B = batch, S = sequence (query) length,
// T = tokens (any flattening of leading dims), Hq / Hkv = query / key-value heads, D = a head dim,
// V = vocabulary. Every op computes in float32 (float64 accumulation in the reference backend) and
// returns float32 unless it says otherwise; weights may be float32, bfloat16 or float16.

/**
 * How rotary embeddings pair the first R = rotaryDim features of each head (the rest pass through):
 * - `halfSplit`: pairs (x_i, x_{i+R/2}), i < R/2 (rotate_half; most families).
 * - `interleaved`: pairs (x_{2i}, x_{2i+1}), rotated in place (ernie4_5_moe, deepseek_v2/v3; DeepSeek-V3's
 *   de-interleaved output layout only permutes features identically in q and k, so scores are equal).
 * Pair i is rotated by the angle whose cos/sin are cos[t, i], sin[t, i]: (a, b) → (a·c − b·s, b·c + a·s).
 * RoPE scaling variants (linear, dynamic NTK, yarn, longrope, attention factors) are all expressed by
 * the cos/sin tables the caller precomputes.
 */
export interface RopeSpec {
  style: "halfSplit" | "interleaved";
  /** R: rotated features per head (even, ≤ D); defaults to D (partial rotary when smaller). */
  rotaryDim?: number;
}

/**
 * Scaled dot-product attention over a key/value sequence that may include cached entries.
 * Query row i sits at key index `queryOffset + i`. Key j is visible to query row i iff
 * - `causal` (default true): j ≤ queryOffset + i;
 * - `slidingWindow` W: (queryOffset + i) − j < W (transformers' sliding_window semantics);
 * - `keyMask` (int32 [B, Skv]): keyMask[b, j] ≠ 0 (padding = 0).
 * scores = q·kᵀ · scale; with `sinks` (float [Hq]) a per-head logit joins each row's softmax as an
 * extra column (it enlarges the denominator and is then dropped). A row with no visible key yields
 * zeros. GQA: query head h reads key-value head ⌊h / (Hq / Hkv)⌋.
 */
export interface AttentionSpec {
  scale: number;
  causal?: boolean;
  /** Index of the first query row within the key sequence; defaults to Skv − Sq. */
  queryOffset?: number;
  slidingWindow?: number;
  keyMask?: Tensor;
  sinks?: Tensor;
}

export interface Backend {
  /** Rows of an embedding table: table [V, H], ids int32 [...] → [..., H]. Ids outside [0, V) throw. */
  embedding(table: Tensor, ids: Tensor): Tensor;

  /**
   * RMSNorm over the last dim: x [..., D], weight [D] (or none) → [..., D]:
   * y = x / sqrt(mean(x²) + eps) · weight, normalised in float32. (transformers casts the normalised
   * value to the input dtype before the weight multiply, gpt_oss after; with float32 activations the
   * two agree.)
   */
  rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor;

  /** LayerNorm over the last dim: x [..., D], weight [D], bias [D] (optional) → [..., D]; biased variance. */
  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor;

  /** Rotary embedding: x [..., T, Hn, D] (T·Hn·D elements in all), cos/sin [T, R/2] → same shape as x. */
  rope(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Tensor;

  /** q [B, Sq, Hq, Dk], k [B, Skv, Hkv, Dk], v [B, Skv, Hkv, Dv] → [B, Sq, Hq, Dv]; see AttentionSpec. */
  attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): Tensor;

  /** x[..., start : start + length, ...] along `axis` (negative counts from the end); keeps x's dtype. */
  slice(x: Tensor, axis: number, start: number, length: number): Tensor;

  /** Concatenation along `axis` (negative counts from the end); other dims must match; same dtype. */
  concat(parts: readonly Tensor[], axis: number): Tensor;

  /** repeat_interleave along `axis`: each index repeated `times` times ([.., n, ..] → [.., n·times, ..]); keeps dtype. */
  repeat(x: Tensor, axis: number, times: number): Tensor;

  /** Elementwise clamp to [min, max]. */
  clamp(x: Tensor, min: number, max: number): Tensor;

  /** Index of the largest value over the last dim (ties → lowest index): x [..., V] → int32 [...]. */
  argmax(x: Tensor): Tensor;

  // ---- recurrent layers (hybrid models' state mixers) ------------------------------------------

  /**
   * Depthwise causal convolution along the sequence with a carried window; see CausalConvSpec.
   * x [B, S, C], weight [C, Kw] → out [B, S, C] and the window after the call, state [B, Kw − 1, C].
   */
  causalConv1d(x: Tensor, weight: Tensor, spec?: CausalConvSpec): { out: Tensor; state: Tensor };

  /**
   * The gated delta rule (Gated DeltaNet; KDA with a per-channel gate), token by token; see DeltaRuleSpec.
   * q, k [B, S, H, Dk], v [B, S, H, Dv], beta [B, S, H] → out [B, S, H, Dv] and state [B, H, Dk, Dv].
   */
  gatedDeltaRule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec): { out: Tensor; state: Tensor };
}

/**
 * causalConv1d: out[b, t, c] = act(bias[c] + Σ_{j < Kw} weight[c, j] · w_t[j]), where w_t is the last Kw
 * inputs of channel c up to and including token t, the first Kw − 1 of them from the carried window
 * (`state` [B, Kw − 1, C], oldest first; zeros when absent). The returned state is the window after the
 * last token. Tokens with tokenMask 0 are skipped: they neither enter the window nor update it, and
 * their output is 0.
 */
export interface CausalConvSpec {
  bias?: Tensor;
  state?: Tensor;
  /** Applied to each output (default identity). */
  act?: Activation;
  /** int32 [B, S], 0 = padding. */
  tokenMask?: Tensor;
}

/**
 * gatedDeltaRule, per batch row and head, with state S [Dk, Dv] (zeros when `state` is absent), for each
 * token t with tokenMask ≠ 0 (others leave S alone and output 0):
 *   g_i = gate.scale[h] · softplus(gate.a[b, t, h(, i)] + gate.bias[h(, i)])      (log decay ≤ 0 for scale ≤ 0)
 *   S[i, :] *= exp(g_i);  u = (v_t − Σ_i k_t[i] · S[i, :]) · beta_t;  S[i, :] += k_t[i] · u;  out_t = Σ_i q_t[i] · S[i, :]
 * `gate.a` is [B, S, H] (one decay per head, Gated DeltaNet) or [B, S, H, Dk] (per key channel, KDA), and
 * `gate.bias` then [H] or [H·Dk]; softplus(x) = log(1 + eˣ) (x above 20 passes through, as torch's).
 * q and k are used as given (normalise and scale them first).
 */
export interface DeltaRuleSpec {
  gate: { a: Tensor; scale: Tensor; bias: Tensor };
  /** [B, H, Dk, Dv] */
  state?: Tensor;
  /** int32 [B, S], 0 = padding. */
  tokenMask?: Tensor;
}

// ---- selective scan (Mamba2; lightning attention) --------------------------------------------

/**
 * Selective state-space scan (Mamba2's SSM in its recurrent form; lightning attention is the case
 * dt ≡ 1, a = −slope, bIn = keys, c = queries, x = values). It takes the state before the call (zeros
 * when omitted) and returns the state after it, so a call split in pieces gives the outputs of one call.
 * Heads h < H, with g = ⌊h / (H / G)⌋ its group, for each token t:
 *   δ = clamp(softplus?(dt[b, t, h] + dtBias[h]), dtMin, dtMax)       (0 where tokenMask is 0)
 *   S[b, h] ← exp(δ · a[h]) · S[b, h] + δ · x[b, t, h, :] ⊗ bIn[b, t, g, :]        (S: [P, N])
 *   out[b, t, h, :] = S[b, h] · c[b, t, g, :] + d[h] · x[b, t, h, :]
 */
export interface SsmScanSpec {
  /** float [H], added to dt before softplus */
  dtBias?: Tensor;
  /** softplus(dt + dtBias) (torch's, threshold 20) */
  dtSoftplus?: boolean;
  /** δ clamped to [dtMin, dtMax] (defaults −∞ and +∞: no clamp) */
  dtMin?: number;
  dtMax?: number;
  /** float [H]: the skip connection d[h] · x */
  d?: Tensor;
  /** float32 [B, H, P, N]: S before the call (zeros when omitted) */
  state?: Tensor;
  /** int32 [B, S], 0 = padding: a padding token leaves S unchanged (δ = 0); its output is meaningless */
  tokenMask?: Tensor;
}

export interface Backend {
  /**
   * x [B, S, H, P], dt [B, S, H], a float [H], bIn / c [B, S, G, N] (G divides H) → out [B, S, H, P] and
   * state [B, H, P, N]; see SsmScanSpec.
   */
  ssmScan(x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec?: SsmScanSpec): { out: Tensor; state: Tensor };
}
