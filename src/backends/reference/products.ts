/**
 * Reference products, float64 accumulation. Weights are read in place (16-bit weights are widened
 * one expert slice at a time, never per token).
 */
import type { Tensor } from "../../tensor.js";
import { shapeString } from "../../tensor.js";
import { expectRank, floatRows, floatsOf, intsOf } from "./host.js";

function dotRow(x: Float32Array, xOff: number, w: Float32Array, wOff: number, k: number): number {
  let acc = 0;
  for (let i = 0; i < k; i++) acc += x[xOff + i]! * w[wOff + i]!;
  return acc;
}

/** x's last dim against w's in-dim (w [N, K], or [E, N, K] when stacked): returns [rows, N, K], rows the
 * product of x's leading dims (so K = 0 still has its rows). Shared by the backends. */
export function productDims(op: string, x: Tensor, w: Tensor, stacked: boolean): [number, number, number] {
  expectRank(w, stacked ? 3 : 2, op, "weight");
  if (x.rank < 1) throw new Error(`${op}: input must have at least one dim`);
  const k = x.shape[x.rank - 1]!;
  const n = w.shape[w.rank - 2]!;
  if (w.shape[w.rank - 1] !== k) {
    throw new Error(`${op}: input ${shapeString(x.shape)} has ${k} features but weight ${shapeString(w.shape)} expects ${w.shape[w.rank - 1]}`);
  }
  let rows = 1;
  for (let i = 0; i < x.rank - 1; i++) rows *= x.shape[i]!;
  return [rows, n, k];
}

export function linear(x: Tensor, w: Tensor, bias: Tensor | undefined, expert: number | undefined): Float32Array {
  const op = "linear";
  const stacked = expert !== undefined;
  const [m, n, k] = productDims(op, x, w, stacked);
  if (stacked) {
    const e = w.shape[0]!;
    if (!Number.isInteger(expert) || expert! < 0 || expert! >= e) throw new Error(`${op}: expert ${expert} outside [0, ${e})`);
    if (bias) expectRankedBias(op, bias, [e, n]);
  } else if (bias) expectRankedBias(op, bias, [n]);
  const xs = floatsOf(x, op, "input");
  const ws = floatRows(w, stacked ? expert! * n : 0, n, k);
  const bs = bias ? floatRows(bias, stacked ? expert! : 0, 1, n) : undefined;
  const out = new Float32Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < n; j++) out[r * n + j] = dotRow(xs, r * k, ws, j * k, k) + (bs ? bs[j]! : 0);
  }
  return out;
}

function expectRankedBias(op: string, bias: Tensor, shape: number[]): void {
  if (bias.rank !== shape.length || bias.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: bias must have shape ${shapeString(shape)}, got ${shapeString(bias.shape)}`);
  }
}

export function groupedLinear(
  x: Tensor,
  w: Tensor,
  offsets: Tensor,
  bias: Tensor | undefined,
  rowIndex: Tensor | undefined,
  rowsPerInput: number,
): Float32Array {
  const op = "groupedLinear";
  expectRank(x, 2, op, "input");
  const [rows, n, k] = productDims(op, x, w, true);
  const e = w.shape[0]!;
  const offs = intsOf(offsets, op, "offsets");
  if (offs.length !== e + 1) throw new Error(`${op}: offsets must have ${e + 1} entries for ${e} experts, got ${offs.length}`);
  const idx = rowIndex ? intsOf(rowIndex, op, "rowIndex") : undefined;
  const s = idx ? idx.length : rows;
  if (offs[0] !== 0 || offs[e] !== s) throw new Error(`${op}: offsets must run from 0 to ${s}, got ${offs[0]}..${offs[e]}`);
  for (let i = 0; i < e; i++) if (offs[i + 1]! < offs[i]!) throw new Error(`${op}: offsets must be non-decreasing (offsets[${i + 1}] < offsets[${i}])`);
  if (!Number.isInteger(rowsPerInput) || rowsPerInput < 1) throw new Error(`${op}: rowsPerInput must be a positive integer`);
  if (idx) for (const r of idx) if (r < 0 || r >= rows * rowsPerInput) throw new Error(`${op}: rowIndex ${r} outside [0, ${rows * rowsPerInput})`);
  if (bias) expectRankedBias(op, bias, [e, n]);
  const xs = floatsOf(x, op, "input");
  const out = new Float32Array(s * n);
  for (let ex = 0; ex < e; ex++) {
    const lo = offs[ex]!;
    const hi = offs[ex + 1]!;
    if (lo === hi) continue;
    const ws = floatRows(w, ex * n, n, k);
    const bs = bias ? floatRows(bias, ex, 1, n) : undefined;
    for (let sr = lo; sr < hi; sr++) {
      const xr = idx ? Math.floor(idx[sr]! / rowsPerInput) : sr;
      for (let j = 0; j < n; j++) out[sr * n + j] = dotRow(xs, xr * k, ws, j * k, k) + (bs ? bs[j]! : 0);
    }
  }
  return out;
}

export function gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, bias: Tensor | undefined, rowsPerInput: number): Float32Array {
  const op = "gatheredLinear";
  expectRank(x, 2, op, "input");
  const [rows, n, k] = productDims(op, x, w, true);
  const e = w.shape[0]!;
  const id = intsOf(ids, op, "ids");
  if (!Number.isInteger(rowsPerInput) || rowsPerInput < 1) throw new Error(`${op}: rowsPerInput must be a positive integer`);
  if (id.length !== rows * rowsPerInput) {
    throw new Error(`${op}: ${id.length} ids for ${rows} input rows × ${rowsPerInput} slots (expected ${rows * rowsPerInput})`);
  }
  if (bias) expectRankedBias(op, bias, [e, n]);
  const xs = floatsOf(x, op, "input");
  const out = new Float32Array(id.length * n);
  // One expert slice at a time: slots are visited grouped by expert so 16-bit weights widen once.
  const byExpert: number[][] = Array.from({ length: e }, () => []);
  id.forEach((ex, s) => {
    if (ex < 0 || ex >= e) throw new Error(`${op}: expert id ${ex} at slot ${s} outside [0, ${e})`);
    byExpert[ex]!.push(s);
  });
  byExpert.forEach((slots, ex) => {
    if (slots.length === 0) return;
    const ws = floatRows(w, ex * n, n, k);
    const bs = bias ? floatRows(bias, ex, 1, n) : undefined;
    for (const s of slots) {
      const xr = Math.floor(s / rowsPerInput);
      for (let j = 0; j < n; j++) out[s * n + j] = dotRow(xs, xr * k, ws, j * k, k) + (bs ? bs[j]! : 0);
    }
  });
  return out;
}
