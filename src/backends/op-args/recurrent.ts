/** Argument checks of the recurrent-layer ops: causalConv1d and gatedDeltaRule. */
import { shapeString, type Tensor } from "../../tensor.js";
import type { CausalConvSpec, DeltaRuleSpec } from "../backend.js";
import { activationCode } from "../activation.js";
import { expectFloat, expectRank, expectShape, hostInts } from "./tensors.js";

function tokenMaskArgs(op: string, mask: Tensor | undefined, b: number, s: number): void {
  if (!mask) return;
  const m = hostInts(mask, op, "tokenMask");
  expectShape(mask, [b, s], op, "tokenMask");
  if (m && m.some((x) => x !== 0 && x !== 1)) throw new Error(`${op}: tokenMask values must be 0 or 1`);
}

export interface CausalConvArgs {
  b: number;
  s: number;
  c: number;
  /** kernel width */
  kw: number;
  act: number;
}

/** x float [B, S, C], weight [C, Kw] (Kw ≥ 1), bias [C], state [B, Kw − 1, C], tokenMask int32 [B, S]. */
export function causalConv1dArgs(x: Tensor, weight: Tensor, spec: CausalConvSpec = {}): CausalConvArgs {
  const op = "causalConv1d";
  if (spec === null || typeof spec !== "object") throw new Error(`${op}: spec must be an object`);
  expectRank(x, 3, op, "x");
  expectFloat(x, op, "x");
  expectRank(weight, 2, op, "weight");
  expectFloat(weight, op, "weight");
  const [b, s, c] = x.shape as [number, number, number];
  const [wc, kw] = weight.shape as [number, number];
  if (wc !== c) throw new Error(`${op}: weight ${shapeString(weight.shape)} must have one row per channel of x ${shapeString(x.shape)}`);
  if (kw < 1) throw new Error(`${op}: the kernel width must be ≥ 1, got weight ${shapeString(weight.shape)}`);
  if (spec.bias) {
    expectFloat(spec.bias, op, "bias");
    if (spec.bias.size !== c) throw new Error(`${op}: bias ${shapeString(spec.bias.shape)} must have ${c} entries`);
  }
  if (spec.state) {
    expectFloat(spec.state, op, "state");
    expectShape(spec.state, [b, kw - 1, c], op, "state");
  }
  tokenMaskArgs(op, spec.tokenMask, b, s);
  return { b, s, c, kw, act: activationCode(spec.act ?? "identity", op) };
}

export interface DeltaRuleArgs {
  b: number;
  s: number;
  h: number;
  dk: number;
  dv: number;
  /** the gate has one value per key channel (KDA) rather than per head */
  perChannel: boolean;
}

/** q, k [B, S, H, Dk], v [B, S, H, Dv], beta [B, S, H]; gate.a [B, S, H] or [B, S, H, Dk], gate.scale [H], gate.bias [H] or [H·Dk]. */
export function gatedDeltaRuleArgs(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec): DeltaRuleArgs {
  const op = "gatedDeltaRule";
  if (spec === null || typeof spec !== "object" || !spec.gate) throw new Error(`${op}: spec must be an object with a gate { a, scale, bias }`);
  for (const [t, what] of [[q, "q"], [k, "k"], [v, "v"]] as const) {
    expectRank(t, 4, op, what);
    expectFloat(t, op, what);
  }
  const [b, s, h, dk] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  expectShape(k, [b, s, h, dk], op, "k");
  expectShape(v, [b, s, h, dv], op, "v");
  expectFloat(beta, op, "beta");
  expectShape(beta, [b, s, h], op, "beta");
  const { a, scale, bias } = spec.gate;
  for (const [t, what] of [[a, "gate.a"], [scale, "gate.scale"], [bias, "gate.bias"]] as const) {
    if (!t) throw new Error(`${op}: ${what} is required`);
    expectFloat(t, op, what);
  }
  const perChannel = a.rank === 4;
  expectShape(a, perChannel ? [b, s, h, dk] : [b, s, h], op, "gate.a");
  if (scale.size !== h) throw new Error(`${op}: gate.scale ${shapeString(scale.shape)} must have ${h} entries (one per head)`);
  const nb = perChannel ? h * dk : h;
  if (bias.size !== nb) throw new Error(`${op}: gate.bias ${shapeString(bias.shape)} must have ${nb} entries (as gate.a's trailing dims)`);
  if (spec.state) {
    expectFloat(spec.state, op, "state");
    expectShape(spec.state, [b, h, dk, dv], op, "state");
  }
  tokenMaskArgs(op, spec.tokenMask, b, s);
  return { b, s, h, dk, dv, perChannel };
}
