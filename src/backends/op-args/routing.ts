/** Argument checks of routing and slot bookkeeping: route, sortByExpert, combineSlots, gatherRows, accumulateRows. */
import { shapeString, type Tensor } from "../../tensor.js";
import type { RoutingSpec } from "../backend.js";
import { expectFloat, expectIndices, expectPositiveInt, expectRank, hostInts } from "./tensors.js";

const SCORINGS: readonly string[] = ["softmax", "sigmoid", "none", "gapMaskedSoftmax"];

export interface RouteArgs {
  /** tokens, experts, experts per token */
  t: number;
  e: number;
  k: number;
}

/** logits float [T, E]; k in [1, E] (exactly 2 for gapMaskedSoftmax); selectionBias [E]; groups that tile E. */
export function routeArgs(logits: Tensor, spec: RoutingSpec): RouteArgs {
  const op = "route";
  expectRank(logits, 2, op, "logits");
  expectFloat(logits, op, "logits");
  const [t, e] = logits.shape as [number, number];
  const k = spec.k;
  if (!Number.isInteger(k) || k < 1 || k > e) throw new Error(`${op}: k = ${k} must be in [1, ${e}]`);
  if (!SCORINGS.includes(spec.scoring)) throw new Error(`${op}: unknown scoring '${spec.scoring as string}' (known: ${SCORINGS.join(", ")})`);
  if (spec.scoring === "gapMaskedSoftmax" && k !== 2) throw new Error(`${op}: gapMaskedSoftmax routes exactly 2 experts, got k = ${k}`);
  if (spec.selectionBias) {
    expectFloat(spec.selectionBias, op, "selectionBias");
    if (spec.selectionBias.size !== e) throw new Error(`${op}: selectionBias has ${spec.selectionBias.size} entries for ${e} experts`);
  }
  const g = spec.groups;
  if (g && (!Number.isInteger(g.count) || g.count < 1 || e % g.count !== 0 || !Number.isInteger(g.keep) || g.keep < 1 || g.keep > g.count)) {
    throw new Error(`${op}: ${e} experts cannot form ${g.count} groups keeping ${g.keep}`);
  }
  return { t, e, k };
}

/** ids int32 [S] in [0, numExperts); returns their host values (undefined on a device). */
export function sortByExpertArgs(ids: Tensor, numExperts: number): { s: number; ids?: Int32Array } {
  const op = "sortByExpert";
  const id = hostInts(ids, op, "ids");
  expectPositiveInt(numExperts, op, "numExperts");
  expectIndices(id, numExperts, (v, s) => `${op}: expert id ${v} at slot ${s} outside [0, ${numExperts})`);
  return { s: ids.size, ids: id };
}

export interface CombineSlotsArgs {
  /** rows of y, features, tokens, slots per token */
  rows: number;
  h: number;
  t: number;
  k: number;
  /** host values of slotRow (undefined when absent or on a device) */
  slotRow?: Int32Array;
}

export function combineSlotsArgs(y: Tensor, weights: Tensor, slotRow: Tensor | undefined): CombineSlotsArgs {
  const op = "combineSlots";
  expectRank(y, 2, op, "y");
  expectRank(weights, 2, op, "weights");
  expectFloat(y, op, "y");
  expectFloat(weights, op, "weights");
  const [rows, h] = y.shape as [number, number];
  const [t, k] = weights.shape as [number, number];
  const map = slotRow ? hostInts(slotRow, op, "slotRow") : undefined;
  if (slotRow && slotRow.size !== t * k) throw new Error(`${op}: slotRow has ${slotRow.size} entries for ${t}×${k} slots`);
  if (!slotRow && rows !== t * k) throw new Error(`${op}: y has ${rows} rows for ${t}×${k} slots`);
  expectIndices(map, rows, (v) => `${op}: slotRow ${v} outside [0, ${rows})`);
  return { rows, h, t, k, slotRow: map };
}

/** x float [R, H], rows int32 [n] in [0, R). */
export function gatherRowsArgs(x: Tensor, rows: Tensor): { r: number; h: number; n: number; rows?: Int32Array } {
  const op = "gatherRows";
  expectRank(x, 2, op, "x");
  expectFloat(x, op, "x");
  const [r, h] = x.shape as [number, number];
  const idx = hostInts(rows, op, "rows");
  expectIndices(idx, r, (v) => `${op}: row ${v} outside [0, ${r})`);
  return { r, h, n: rows.size, rows: idx };
}

/** out float32 [T, H], y [n, H], rows int32 [n] in [0, T), weights [n]. */
export function accumulateRowsArgs(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): { t: number; h: number; n: number; rows?: Int32Array } {
  const op = "accumulateRows";
  if (out.dtype !== "float32") throw new Error(`${op}: out must be float32, got ${out.dtype}`);
  expectRank(out, 2, op, "out");
  expectRank(y, 2, op, "y");
  expectFloat(y, op, "y");
  expectFloat(weights, op, "weights");
  const [t, h] = out.shape as [number, number];
  if (y.shape[1] !== h) throw new Error(`${op}: y ${shapeString(y.shape)} does not match out ${shapeString(out.shape)}`);
  const n = y.shape[0]!;
  const idx = hostInts(rows, op, "rows");
  if (rows.size !== n || weights.size !== n) throw new Error(`${op}: rows and weights need ${n} entries`);
  expectIndices(idx, t, (v) => `${op}: row ${v} outside [0, ${t})`);
  return { t, h, n, rows: idx };
}
