/**
 * Mamba2 (transformers' GraniteMoeHybridMambaLayer, torch path): in_proj → gate z [I], xBC [I + 2·G·N],
 * dt [nh]; a depthwise causal convolution of xBC (SiLU); the selective state-space scan of x (nh heads
 * of hd) with B, C (G groups of N) and dt (softplus(dt + dt_bias), clamped to time_step_limit), A =
 * −exp(A_log), skip D; then RMSNorm(y · silu(z)) (gated, over all of I) and out_proj. Per sequence it
 * keeps the convolution window [d_conv − 1, I + 2·G·N] and the SSM state [nh, hd, N], both fixed in size;
 * padding tokens leave both unchanged.
 */
import type { Backend } from "../../../backends/backend.js";
import type { Tensor } from "../../../tensor.js";
import type { PlannedTensor } from "../../build/key-plan.js";
import type { WeightReader } from "../../build/weights.js";
import type { CacheLayerSpec } from "../../cache/layer-spec.js";
import { Linear } from "../linear.js";
import { type MixerContext, type MixerFactory, type MixerSite, type SequenceMixer, readMixerState, writeMixerState } from "./mixer.js";
import { registerMixer } from "./registry.js";
import { StateParts } from "./state-parts.js";

/** Mamba2 sizes and options, read from the family's config. */
export interface Mamba2Dims {
  heads: number;
  headDim: number;
  groups: number;
  stateSize: number;
  convTaps: number;
  convBias: boolean;
  projBias: boolean;
  /** δ clamp (time_step_limit) */
  dtMin: number;
  dtMax: number;
  normEps: number;
}

export interface Mamba2Definition {
  /** Module name under model.layers.{l} ("mamba"). */
  name: string;
  dims(site: MixerSite): Mamba2Dims;
}

const inner = (d: Mamba2Dims) => d.heads * d.headDim;
const convWidth = (d: Mamba2Dims) => inner(d) + 2 * d.groups * d.stateSize;

class Mamba2 implements SequenceMixer {
  readonly parts: StateParts;

  constructor(
    readonly layer: number,
    readonly d: Mamba2Dims,
    readonly w: {
      inProj: Linear;
      outProj: Linear;
      convWeight: Tensor;
      convBias?: Tensor;
      dtBias: Tensor;
      /** −exp(A_log) [nh] */
      a: Tensor;
      skip: Tensor;
      norm: Tensor;
    },
  ) {
    this.parts = new StateParts([
      [d.convTaps - 1, convWidth(d)],
      [d.heads, d.headDim, d.stateSize],
    ]);
  }

  cacheSpec(): CacheLayerSpec {
    return { kind: "state", shape: this.parts.shape };
  }

  forward(b: Backend, x: Tensor, ctx: MixerContext): Tensor {
    const [batch, seq] = x.shape as [number, number, number];
    const { d, w } = this;
    const i = inner(d);
    const cw = convWidth(d);
    const gn = d.groups * d.stateSize;
    const [convState, ssmState] = this.parts.split(b, readMixerState(b, ctx, this.layer, batch, this.parts.shape));
    const proj = w.inProj.forward(b, x);
    const gate = b.slice(proj, -1, 0, i);
    const conv = b.causalConv1d(b.slice(proj, -1, i, cw), w.convWeight, { bias: w.convBias, act: "silu", state: convState, tokenMask: ctx.tokenMask });
    const xbc = conv.out;
    const scan = b.ssmScan(
      b.slice(xbc, -1, 0, i).reshape([batch, seq, d.heads, d.headDim]),
      b.slice(proj, -1, i + cw, d.heads),
      w.a,
      b.slice(xbc, -1, i, gn).reshape([batch, seq, d.groups, d.stateSize]),
      b.slice(xbc, -1, i + gn, gn).reshape([batch, seq, d.groups, d.stateSize]),
      { dtBias: w.dtBias, dtSoftplus: true, dtMin: d.dtMin, dtMax: d.dtMax, d: w.skip, state: ssmState!, tokenMask: ctx.tokenMask },
    );
    writeMixerState(b, ctx, this.layer, this.parts.join(b, [conv.state, scan.state]));
    const y = b.mul(scan.out.reshape([batch, seq, i]), b.activate(gate, "silu"));
    return w.outProj.forward(b, b.rmsNorm(y, w.norm, d.normEps));
  }
}

export const mamba2: MixerFactory<Mamba2Definition> = registerMixer({
  kind: "mamba2",
  tensors(def, site) {
    const p = `${site.prefix}.${def.name}`;
    const d = def.dims(site);
    const h = site.cfg.hiddenSize;
    const i = inner(d);
    const cw = convWidth(d);
    const projOut = i + cw + d.heads;
    const out: PlannedTensor[] = [
      { key: `${p}.in_proj.weight`, shapes: [[projOut, h]] },
      { key: `${p}.out_proj.weight`, shapes: [[h, i]] },
      { key: `${p}.conv1d.weight`, shapes: [[cw, 1, d.convTaps]] },
      { key: `${p}.dt_bias`, shapes: [[d.heads]] },
      { key: `${p}.A_log`, shapes: [[d.heads]] },
      { key: `${p}.D`, shapes: [[d.heads]] },
      { key: `${p}.norm.weight`, shapes: [[i]] },
    ];
    if (d.projBias) out.push({ key: `${p}.in_proj.bias`, shapes: [[projOut]] }, { key: `${p}.out_proj.bias`, shapes: [[h]] });
    if (d.convBias) out.push({ key: `${p}.conv1d.bias`, shapes: [[cw]] });
    return out;
  },
  async load(w: WeightReader, def, site) {
    const p = `${site.prefix}.${def.name}`;
    const d = def.dims(site);
    const h = site.cfg.hiddenSize;
    const i = inner(d);
    const cw = convWidth(d);
    const aLog = (await w.get(`${p}.A_log`, [d.heads]).then((t) => t.data())) as Float32Array;
    const a = w.backend.fromHost(Float32Array.from(aLog, (v) => -Math.exp(v)), [d.heads], "float32");
    return new Mamba2(site.layer, d, {
      inProj: await Linear.load(w, `${p}.in_proj`, i + cw + d.heads, h, d.projBias),
      outProj: await Linear.load(w, `${p}.out_proj`, h, i, d.projBias),
      convWeight: (await w.get(`${p}.conv1d.weight`, [cw, 1, d.convTaps])).reshape([cw, d.convTaps]),
      convBias: await w.maybe(`${p}.conv1d.bias`, [cw], d.convBias),
      dtBias: await w.get(`${p}.dt_bias`, [d.heads]),
      a,
      skip: await w.get(`${p}.D`, [d.heads]),
      norm: await w.get(`${p}.norm.weight`, [i]),
    });
  },
});
