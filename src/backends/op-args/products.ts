/** Argument checks and derived dims of the products (linear, groupedLinear, gatheredLinear) and the gate. */
import { shapeString, type Tensor } from "../../tensor.js";
import { activationCode } from "../activation.js";
import type { GateSpec } from "../backend.js";
import { expectFloat, expectIndices, expectPositiveInt, expectRank, expectShape, hostInts } from "./tensors.js";

/**
 * x's last dim against w's in-dim (w [N, K], or [E, N, K] when stacked), both float: returns
 * [rows, N, K], rows the product of x's leading dims (so K = 0 still has its rows).
 */
export function productDims(op: string, x: Tensor, w: Tensor, stacked: boolean): [number, number, number] {
  expectRank(w, stacked ? 3 : 2, op, "weight");
  if (x.rank < 1) throw new Error(`${op}: input must have at least one dim`);
  const k = x.shape[x.rank - 1]!;
  const n = w.shape[w.rank - 2]!;
  if (w.shape[w.rank - 1] !== k) {
    throw new Error(`${op}: input ${shapeString(x.shape)} has ${k} features but weight ${shapeString(w.shape)} expects ${w.shape[w.rank - 1]}`);
  }
  expectFloat(x, op, "input");
  expectFloat(w, op, "weight");
  let rows = 1;
  for (let i = 0; i < x.rank - 1; i++) rows *= x.shape[i]!;
  return [rows, n, k];
}

/** An optional bias of the given shape (float). */
export function expectBias(op: string, bias: Tensor | undefined, shape: readonly number[]): void {
  if (!bias) return;
  expectShape(bias, shape, op, "bias");
  expectFloat(bias, op, "bias");
}

export interface LinearArgs {
  /** rows (x's leading dims flattened), output and input features */
  m: number;
  n: number;
  k: number;
  /** experts in w (1 for a plain [N, K] weight) and the one used */
  e: number;
  expert: number;
  stacked: boolean;
  /** x's leading dims and N */
  outShape: number[];
}

export function linearArgs(x: Tensor, w: Tensor, opts: { bias?: Tensor; expert?: number }): LinearArgs {
  const op = "linear";
  const stacked = opts.expert !== undefined;
  const [m, n, k] = productDims(op, x, w, stacked);
  const e = stacked ? w.shape[0]! : 1;
  const expert = opts.expert ?? 0;
  if (stacked && (!Number.isInteger(expert) || expert < 0 || expert >= e)) throw new Error(`${op}: expert ${expert} outside [0, ${e})`);
  expectBias(op, opts.bias, stacked ? [e, n] : [n]);
  return { m, n, k, e, expert, stacked, outShape: [...x.shape.slice(0, -1), n] };
}

/** The dims of a product over an expert stack w [E, N, K]. */
export interface ExpertProductDims {
  /** input rows, output and input features, experts */
  rows: number;
  n: number;
  k: number;
  e: number;
  /** output rows (slots) */
  s: number;
  /** slots per input row */
  rpi: number;
}

export interface GroupedLinearArgs extends ExpertProductDims {
  /** host values of offsets and rowIndex (undefined when they live on a device); s is rowIndex's length, else rows */
  offsets?: Int32Array;
  rowIndex?: Int32Array;
}

export function groupedLinearArgs(
  x: Tensor,
  w: Tensor,
  offsets: Tensor,
  opts: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number },
): GroupedLinearArgs {
  const op = "groupedLinear";
  expectRank(x, 2, op, "input");
  const [rows, n, k] = productDims(op, x, w, true);
  const e = w.shape[0]!;
  const offs = hostInts(offsets, op, "offsets");
  if (offsets.size !== e + 1) throw new Error(`${op}: offsets must have ${e + 1} entries for ${e} experts, got ${offsets.size}`);
  const rpi = opts.rowsPerInput ?? 1;
  expectPositiveInt(rpi, op, "rowsPerInput");
  const rowIndex = opts.rowIndex ? hostInts(opts.rowIndex, op, "rowIndex") : undefined;
  const s = opts.rowIndex ? opts.rowIndex.size : rows;
  if (offs) {
    if (offs[0] !== 0 || offs[e] !== s) throw new Error(`${op}: offsets must run from 0 to ${s}, got ${offs[0]}..${offs[e]}`);
    for (let i = 0; i < e; i++) if (offs[i + 1]! < offs[i]!) throw new Error(`${op}: offsets must be non-decreasing (offsets[${i + 1}] < offsets[${i}])`);
  }
  const limit = rows * rpi;
  expectIndices(rowIndex, limit, (v) => `${op}: rowIndex ${v} outside [0, ${limit})`);
  expectBias(op, opts.bias, [e, n]);
  return { rows, n, k, e, s, rpi, offsets: offs, rowIndex };
}

export interface GatheredLinearArgs extends ExpertProductDims {
  /** host values of ids (undefined on a device); s is ids' length */
  ids?: Int32Array;
}

export function gatheredLinearArgs(x: Tensor, w: Tensor, ids: Tensor, opts: { bias?: Tensor; rowsPerInput?: number }): GatheredLinearArgs {
  const op = "gatheredLinear";
  expectRank(x, 2, op, "input");
  const [rows, n, k] = productDims(op, x, w, true);
  const e = w.shape[0]!;
  const id = hostInts(ids, op, "ids");
  const rpi = opts.rowsPerInput ?? 1;
  expectPositiveInt(rpi, op, "rowsPerInput");
  if (ids.size !== rows * rpi) throw new Error(`${op}: ${ids.size} ids for ${rows} input rows × ${rpi} slots (expected ${rows * rpi})`);
  expectBias(op, opts.bias, [e, n]);
  expectIndices(id, e, (v, s) => `${op}: expert id ${v} at slot ${s} outside [0, ${e})`);
  return { rows, n, k, e, s: ids.size, rpi, ids: id };
}

export interface GateSpecArgs {
  kind: GateSpec["kind"];
  /** the activation's kernel code */
  act: number;
  clamp?: { alpha: number; limit: number };
}

/** A gate spec: known kind and activation, a finite clampedSwiglu alpha and a limit. */
export function gateSpecArgs(op: string, spec: GateSpec): GateSpecArgs {
  const kind = spec.kind;
  if (kind !== "concatenated" && kind !== "interleaved" && kind !== "none") throw new Error(`${op}: unknown gate kind '${kind as string}'`);
  const act = activationCode(spec.act, op);
  if (kind === "none" && (spec as { clampedSwiglu?: unknown }).clampedSwiglu !== undefined) throw new Error(`${op}: clampedSwiglu needs a gated projection (kind concatenated or interleaved), not 'none'`);
  const clamp = spec.kind === "none" ? undefined : spec.clampedSwiglu;
  if (clamp && (!Number.isFinite(clamp.alpha) || Number.isNaN(clamp.limit))) throw new Error(`${op}: clampedSwiglu needs a finite alpha and a limit`);
  return { kind, act, clamp };
}

export interface GateArgs extends GateSpecArgs {
  /** rows, projection width, output width */
  s: number;
  width: number;
  inter: number;
}

export function gateArgs(p: Tensor, spec: GateSpec): GateArgs {
  const op = "gate";
  expectRank(p, 2, op, "projection");
  expectFloat(p, op, "projection");
  const g = gateSpecArgs(op, spec);
  const [s, width] = p.shape as [number, number];
  if (g.kind !== "none" && width % 2 !== 0) throw new Error(`${op}: a gated projection needs an even width, got ${shapeString(p.shape)}`);
  return { ...g, s, width, inter: g.kind === "none" ? width : width / 2 };
}
