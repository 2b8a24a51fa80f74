/**
 * The synthetic Qwen1.5-MoE-A2.7B of `moekit bench` (src/bench/qwen-synthetic.ts: same dims, same seeded
 * weights but the embeddings, scaled as said below) with routing made skewed the way trained MoEs route:
 * every embedding row gets a shared offset
 * `0.25·u` (u a seeded unit vector; a row's own part has norm ≈ 0.58), and router row e of each layer gets
 * `-skew · ln(rank_e + 1) / m · u`, where rank_e is expert e's place in a seeded per-layer permutation and m is
 * the size of u's component in a normalised hidden state. Router logits then carry a per-expert bias −ln(rank + 1): expert popularity
 * close to Zipf with exponent 1 before top-k, blurred by the token-dependent part of each logit. Both
 * engines (moekit and llama.cpp) read the same weights, so both see this routing.
 */
import { qwen2MoeTensors } from "../../src/bench/qwen-synthetic.js";
import { qwen15MoeConfig } from "../../src/bench/qwen-dims.js";
import { seedOf, uniformF32 } from "../../src/bench/random.js";
import { SyntheticProvider } from "../../src/bench/synthetic.js";
import { narrowFromF32, widenToF32, type DType } from "../../src/dtype.js";
import type { Config } from "../../src/loading/checkpoint.js";
import { Tensor } from "../../src/tensor.js";

/** Size of the shared embedding offset, relative to a row's own part. */
const OFFSET = 0.25;
/**
 * Embedding rows are drawn 30× larger than the plain synthetic model's: with random attention weights every
 * position's attention output is close to one shared vector of norm ≈ √H/3, which would otherwise swamp the
 * token's own part of the hidden state and route every token of a decode to the same few experts.
 */
const EMBED_SCALE = 30;

export interface SkewOptions {
  layers: number;
  /** Vocabulary (default Qwen's 151936; a smaller one keeps the dense part small beside the experts). */
  vocab?: number;
  dtype?: DType;
  seed?: number;
  /** Routing skew: 0 leaves the routing of the plain synthetic model. */
  skew?: number;
}

export function skewedConfig(o: SkewOptions): Config {
  return { ...qwen15MoeConfig(o.layers), ...(o.vocab ? { vocab_size: o.vocab } : {}), dtype: o.dtype ?? "bfloat16" };
}

export class SkewedProvider extends SyntheticProvider {
  private readonly u: Float32Array;

  constructor(
    readonly config: Config,
    readonly skew: number,
    seed: number,
  ) {
    super(qwen2MoeTensors(config), config.dtype as DType, seed);
    const h = config.hidden_size as number;
    const u = uniformF32(h, seedOf("skew direction", seed), 1);
    const norm = Math.hypot(...u);
    this.u = u.map((v) => v / norm);
  }

  override async tensor(name: string): Promise<Tensor> {
    const t = await super.tensor(name);
    const h = this.config.hidden_size as number;
    if (name === "model.embed_tokens.weight") return this.shifted(t, () => OFFSET * EMBED_SCALE, EMBED_SCALE);
    const m = /^model\.layers\.(\d+)\.mlp\.gate\.weight$/.exec(name);
    if (!m) return t;
    const e = t.shape[0]!;
    const rank = permutation(e, seedOf(`ranks ${m[1]}`, 0));
    // a normalised hidden state is √H · (r + OFFSET·u)/|r + OFFSET·u| with |r| ≈ √(1/3)
    const along = (Math.sqrt(h) * OFFSET) / Math.sqrt(1 / 3 + OFFSET * OFFSET);
    return this.shifted(t, (row) => (-this.skew * Math.log(rank[row]! + 1)) / along);
  }

  /** Row r of t times `times`, plus scale(r) · u. */
  private shifted(t: Tensor, scale: (row: number) => number, times = 1): Tensor {
    const h = this.u.length;
    const v = widenToF32(t.hostStorage(), t.dtype);
    for (let r = 0; r < t.shape[0]!; r++) {
      const s = this.skew === 0 ? 0 : scale(r);
      for (let i = 0; i < h; i++) v[r * h + i] = v[r * h + i]! * times + s * this.u[i]!;
    }
    return new Tensor(t.shape, t.dtype, t.dtype === "float32" ? v : narrowFromF32(v, t.dtype), null);
  }
}

function permutation(n: number, seed: number): number[] {
  const r = uniformF32(n, seed, 1);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a]! - r[b]!);
  const rank = new Array<number>(n);
  order.forEach((e, k) => (rank[e] = k));
  return rank;
}
