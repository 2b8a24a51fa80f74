/** Argument checks of ssmScan (the selective state-space scan). */
import { shapeString, type Tensor } from "../../tensor.js";
import type { SsmScanSpec } from "../backend.js";
import { expectFloat, expectRank, expectShape, hostInts } from "./tensors.js";

export interface SsmScanDims {
  b: number;
  s: number;
  /** heads, head dim, groups, state size */
  h: number;
  p: number;
  g: number;
  n: number;
  dtMin: number;
  dtMax: number;
  softplus: boolean;
}

/** x [B, S, H, P], dt [B, S, H], a [H], bIn / c [B, S, G, N] with G dividing H, dtBias / d [H], state [B, H, P, N], tokenMask int32 [B, S]. */
export function ssmScanArgs(x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec = {}): SsmScanDims {
  const op = "ssmScan";
  expectRank(x, 4, op, "x");
  const [b, s, h, p] = x.shape as [number, number, number, number];
  expectRank(bIn, 4, op, "bIn");
  const [, , g, n] = bIn.shape as [number, number, number, number];
  for (const [t, what] of [[x, "x"], [dt, "dt"], [a, "a"], [bIn, "bIn"], [c, "c"]] as const) expectFloat(t, op, what);
  expectShape(dt, [b, s, h], op, "dt");
  expectShape(bIn, [b, s, g, n], op, "bIn");
  expectShape(c, [b, s, g, n], op, "c");
  if (g < 1 || h % g !== 0) throw new Error(`${op}: ${h} heads cannot share ${g} groups of bIn / c`);
  const perHead = (t: Tensor | undefined, what: string) => {
    if (!t) return;
    expectFloat(t, op, what);
    if (t.size !== h) throw new Error(`${op}: ${what} ${shapeString(t.shape)} must have ${h} entries (one per head)`);
  };
  perHead(a, "a");
  perHead(spec.dtBias, "dtBias");
  perHead(spec.d, "d");
  if (spec.state) {
    expectFloat(spec.state, op, "state");
    expectShape(spec.state, [b, h, p, n], op, "state");
  }
  if (spec.tokenMask) {
    hostInts(spec.tokenMask, op, "tokenMask");
    expectShape(spec.tokenMask, [b, s], op, "tokenMask");
  }
  const dtMin = spec.dtMin ?? -Infinity;
  const dtMax = spec.dtMax ?? Infinity;
  if (typeof dtMin !== "number" || typeof dtMax !== "number" || Number.isNaN(dtMin) || Number.isNaN(dtMax) || dtMin > dtMax) {
    throw new Error(`${op}: dtMin ${String(dtMin)} and dtMax ${String(dtMax)} must be numbers with dtMin ≤ dtMax`);
  }
  return { b, s, h, p, g, n, dtMin, dtMax, softplus: spec.dtSoftplus === true };
}
