/**
 * Rotary embedding tables: inverse frequencies and attention factor per RoPE type, as transformers 5.18
 * computes them (float32 frequencies), and cos/sin [T, R/2] for given positions.
 */
import type { RopeParameters } from "../config/rope-parameters.js";

export interface RotaryOptions {
  /** Features rotated per head (R). */
  dim: number;
  maxPositions: number;
  /**
   * phimoe (v5.18): longrope always uses short_factor, while cos/sin scale by short_mscale or
   * long_mscale depending on the call's largest position.
   */
  longropeShortFactorOnly?: boolean;
}

const f32 = Math.fround;

function num(p: RopeParameters, key: string, fallback?: number): number {
  const v = p.extra[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new Error(`rope_parameters (${p.type}) lacks '${key}'`);
  }
  if (typeof v !== "number") throw new Error(`rope_parameters.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function baseInvFreq(theta: number, dim: number): Float64Array {
  const half = dim / 2;
  return Float64Array.from({ length: half }, (_, i) => f32(1 / f32(theta ** f32((2 * i) / dim))));
}

function yarnMscale(scale: number, mscale = 1): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

function yarn(p: RopeParameters, dim: number, maxPositions: number): { invFreq: Float64Array; factor: number } {
  const base = p.theta;
  const factor = num(p, "factor", maxPositions / num(p, "original_max_position_embeddings"));
  const orig = num(p, "original_max_position_embeddings");
  const mscale = p.extra.mscale as number | undefined;
  const mscaleAll = p.extra.mscale_all_dim as number | undefined;
  let attn = p.extra.attention_factor as number | undefined;
  if (attn === undefined || attn === null) attn = mscale && mscaleAll ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAll) : yarnMscale(factor);
  const betaFast = (p.extra.beta_fast as number | undefined) || 32;
  const betaSlow = (p.extra.beta_slow as number | undefined) || 1;
  const truncate = p.extra.truncate === undefined ? true : Boolean(p.extra.truncate);
  const corrDim = (rot: number) => (dim * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(base));
  let low = corrDim(betaFast);
  let high = corrDim(betaSlow);
  if (truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const half = dim / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const posFreq = f32(base ** f32((2 * i) / dim));
    const extrap = f32(1 / posFreq);
    const interp = f32(1 / f32(factor * posFreq));
    const ramp = f32(Math.min(Math.max(f32((i - low) / (high - low)), 0), 1));
    const extrapFactor = f32(1 - ramp);
    invFreq[i] = f32(f32(interp * f32(1 - extrapFactor)) + f32(extrap * extrapFactor));
  }
  return { invFreq, factor: attn };
}

/** Llama 3.1's frequency-dependent scaling (llama4 too): low frequencies / factor, a smooth ramp between. */
function llama3(p: RopeParameters, dim: number): Float64Array {
  const factor = num(p, "factor");
  const low = num(p, "low_freq_factor");
  const high = num(p, "high_freq_factor");
  const context = num(p, "original_max_position_embeddings");
  const lowWavelen = context / low;
  const highWavelen = context / high;
  return baseInvFreq(p.theta, dim).map((inv) => {
    const wavelen = f32((2 * Math.PI) / inv);
    if (wavelen > lowWavelen) return f32(inv / factor);
    if (wavelen < highWavelen) return inv;
    const smooth = f32(f32(f32(context / wavelen) - low) / (high - low));
    return f32(f32(f32(f32(1 - smooth) * inv) / factor) + f32(smooth * inv));
  });
}

export class RotaryEmbedding {
  private readonly invFreq: Float64Array;
  private readonly attentionFactor: number;
  private readonly longInvFreq?: Float64Array;
  private readonly mscales?: { short: number; long: number; original: number };

  constructor(
    readonly params: RopeParameters,
    readonly opts: RotaryOptions,
  ) {
    const { dim, maxPositions } = opts;
    if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new Error(`rotary dim must be a positive even integer, got ${dim}`);
    const p = params;
    this.attentionFactor = 1;
    switch (p.type) {
      case "default":
        this.invFreq = baseInvFreq(p.theta, dim);
        break;
      case "linear":
        this.invFreq = baseInvFreq(p.theta, dim).map((v) => f32(v / num(p, "factor")));
        break;
      case "dynamic": {
        // Prompts never exceed max_position_embeddings (checked), so NTK scaling stays at its base; the
        // NTK-alpha variant (hunyuan) raises the base once: θ·alpha^{d/(d−2)}.
        const alpha = p.extra.alpha as number | undefined;
        this.invFreq = baseInvFreq(alpha ? p.theta * alpha ** (dim / (dim - 2)) : p.theta, dim);
        break;
      }
      case "yarn": {
        const y = yarn(p, dim, maxPositions);
        this.invFreq = y.invFreq;
        this.attentionFactor = y.factor;
        break;
      }
      case "llama3":
        this.invFreq = llama3(p, dim);
        break;
      case "longrope": {
        const orig = num(p, "original_max_position_embeddings");
        const factor = num(p, "factor", maxPositions / orig);
        const attn = (p.extra.attention_factor as number | undefined) ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(orig)));
        const freqs = (key: string) => {
          const f = p.extra[key];
          if (!Array.isArray(f) || f.length !== dim / 2) throw new Error(`rope_parameters.${key} must list ${dim / 2} numbers`);
          return Float64Array.from({ length: dim / 2 }, (_, i) => f32(1 / f32(f32(f[i] as number) * f32(p.theta ** f32((2 * i) / dim)))));
        };
        this.invFreq = freqs("short_factor");
        if (opts.longropeShortFactorOnly) {
          this.mscales = { short: num(p, "short_mscale", attn), long: num(p, "long_mscale", attn), original: orig };
        } else {
          this.longInvFreq = freqs("long_factor");
          this.mscales = { short: attn, long: attn, original: orig };
        }
        this.attentionFactor = attn;
        break;
      }
      default:
        throw new Error(`unsupported rope type '${p.type}'`);
    }
  }

  get dim(): number {
    return this.opts.dim;
  }

  /** cos/sin [T, R/2] for positions [T]; the call's largest position picks longrope's factors. */
  tables(positions: Int32Array): { cos: Float32Array; sin: Float32Array } {
    const half = this.opts.dim / 2;
    let maxPos = 0;
    for (const p of positions) maxPos = Math.max(maxPos, p);
    let inv = this.invFreq;
    let scale = this.attentionFactor;
    if (this.mscales) {
      const long = maxPos + 1 > this.mscales.original;
      scale = long ? this.mscales.long : this.mscales.short;
      if (long && this.longInvFreq) inv = this.longInvFreq;
    }
    const cos = new Float32Array(positions.length * half);
    const sin = new Float32Array(positions.length * half);
    positions.forEach((pos, t) => {
      for (let i = 0; i < half; i++) {
        const angle = f32(inv[i]! * pos);
        cos[t * half + i] = Math.cos(angle) * scale;
        sin[t * half + i] = Math.sin(angle) * scale;
      }
    });
    return { cos, sin };
  }
}
