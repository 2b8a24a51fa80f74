/// <reference types="@webgpu/types" />
/** The webgpu products (linear, groupedLinear, gatheredLinear) and the gate: matrix-vector kernels for few rows, tiled GEMMs (sized on the GPU for grouped segments) for many. */
import type { GateSpec } from "../backend.js";
import * as args from "../op-args/index.js";
import type { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import { add } from "./elementwise.js";
import { GATE_KINDS, GATE_WGSL } from "./kernels/elementwise.wgsl.js";
import { gatheredWgsl, matvecKey, MV_ROWS, type MatvecVariant } from "./kernels/gathered-linear.wgsl.js";
import { gemmKey, gemmWgsl, TILE_N, tileM, TILES_WGSL, type GemmVariant } from "./kernels/grouped-linear.wgsl.js";
import { inputBlock, inputRowWords, isInt8DotWeight, QUANT_INPUT_SPAN, quantInputWgsl, type Int8DotWeight } from "./kernels/int8-dot.wgsl.js";
import { isQuantWeight } from "./kernels/quant-weights.wgsl.js";
import { slice } from "./layers.js";
import { BufferUsage, Params, type WeightChunk } from "./runtime.js";

/** `linear` with at most this many rows, and `groupedLinear` with at most this many rows per expert on average, run as matrix-vector products. */
const MATVEC_MAX_ROWS = 4;
/** GEMM row tiles of 16 (else 64) when the rows per segment (dense: M; grouped: S / min(E, S)) are below this. */
const SMALL_TILE_ROWS = 24;

const ceil = (a: number, b: number) => Math.ceil(a / b);

function gemmKernel(g: GpuContext, v: GemmVariant) {
  return g.runtime.kernel(gemmKey(v), ["r", "r", "r", "r", "r", "rw"], () => gemmWgsl(v));
}

/** GEMM uniforms (the order of the WGSL struct P in grouped-linear.wgsl.ts). */
function gemmParams(m: number, n: number, k: number, expert: number, rpi: number, c: WeightChunk): Params {
  return new Params().u32(m).u32(n).u32(k).u32(expert).u32(rpi).u32(c.e0).u32(c.n0).u32(c.n1);
}

/** The `rows` float32 input rows of `xb` quantized to int8 per block for `f`'s int8 GEMV (int8-dot.wgsl.ts), in a temporary. */
function int8Inputs(g: GpuContext, xb: GPUBuffer, rows: number, k: number, f: Int8DotWeight): GPUBuffer {
  const block = inputBlock(f);
  const label = g.label("int8Inputs");
  const q = g.runtime.buffer(label, rows * inputRowWords(k, block) * 4);
  const kern = g.runtime.kernel(`int8Inputs.${block}`, ["r", "rw"], () => quantInputWgsl(block));
  const groups = ceil(k, QUANT_INPUT_SPAN);
  g.runtime.dispatch(label, kern, new Params().u32(rows).u32(k).u32(groups), [xb, q], rows * groups);
  return q;
}

/**
 * One matrix-vector dispatch per chunk (see gathered-linear.wgsl.ts); on integer-code block weights with
 * the context's int8Dot, the x rows (`xRows` of them) are first quantized to int8 and the lanes use packed dot products.
 */
function matvec(
  g: GpuContext,
  op: string,
  float: MatvecVariant,
  dims: { s: number; n: number; k: number; e: number; expert: number; rpi: number; xRows: number },
  chunks: readonly WeightChunk[],
  bufs: { x: GPUBuffer; ids: GPUBuffer; bias: GPUBuffer; rowIndex: GPUBuffer; y: GPUBuffer },
): void {
  const { s, n, k, e, expert, rpi, xRows } = dims;
  const int8 = g.int8Dot && isInt8DotWeight(float.w);
  const v: MatvecVariant = int8 ? { ...float, int8 } : float;
  const xq = int8 ? int8Inputs(g, bufs.x, xRows, k, float.w as Int8DotWeight) : undefined;
  const x = xq ?? bufs.x;
  const kern = g.runtime.kernel(matvecKey(v), ["r", "r", "r", "r", "r", "rw"], () => gatheredWgsl(v));
  for (const c of chunks) {
    if (v.mode === "dense" && (expert < c.e0 || expert >= c.e1)) continue;
    const blocks = ceil(c.n1 - c.n0, MV_ROWS);
    const params = new Params().u32(s).u32(n).u32(k).u32(expert).u32(rpi).u32(blocks).u32(c.e0).u32(c.e1).u32(c.n0).u32(c.n1).u32(e);
    g.runtime.dispatch(g.label(op), kern, params, [x, c.buffer, bufs.ids, bufs.bias, bufs.rowIndex, bufs.y], s * blocks);
  }
  if (xq) g.runtime.release(xq);
}

export function linear(g: GpuContext, x: Tensor, w: Tensor, opts: { bias?: Tensor; expert?: number } = {}): Tensor {
  const op = "linear";
  const { m, n, k, e, expert, stacked, outShape } = args.linearArgs(x, w, opts);
  const { t, buf } = g.output(op, outShape);
  if (m === 0 || n === 0) return t;
  if (k === 0) {
    // An empty product: zeros (a fresh buffer) plus the bias.
    if (!opts.bias) return t;
    return add(g, t, stacked ? slice(g, opts.bias, 0, expert, 1).reshape([n]) : opts.bias);
  }
  const xb = g.floats(x, op, "input");
  const wc = g.weightChunks(w, e, n, op, "weight", true);
  const bb = opts.bias ? g.floats(opts.bias, op, "bias") : xb;
  if (m <= MATVEC_MAX_ROWS) {
    const v: MatvecVariant = { w: wc.type, mode: "dense", bias: !!opts.bias, vec4: k % 4 === 0 && !isQuantWeight(wc.type) };
    matvec(g, op, v, { s: m, n, k, e, expert, rpi: 1, xRows: m }, wc.chunks, { x: xb, ids: xb, bias: bb, rowIndex: xb, y: buf });
    return t;
  }
  const v: GemmVariant = { w: wc.type, grouped: false, gather: false, bias: !!opts.bias, tm: m < SMALL_TILE_ROWS ? 1 : 4, vec4: k % 4 === 0 && !isQuantWeight(wc.type) };
  const kern = gemmKernel(g, v);
  for (const c of wc.chunks) {
    if (expert < c.e0 || expert >= c.e1) continue;
    const params = gemmParams(m, n, k, expert, 1, c);
    g.runtime.dispatch(g.label(op), kern, params, [xb, c.buffer, xb, xb, bb, buf], [ceil(m, tileM(v)), ceil(c.n1 - c.n0, TILE_N)]);
  }
  return t;
}

export function groupedLinear(g: GpuContext, x: Tensor, w: Tensor, offsets: Tensor, opts: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number } = {}): Tensor {
  const op = "groupedLinear";
  const { n, k, e, s, rpi } = args.groupedLinearArgs(x, w, offsets, opts);
  const { t, buf } = g.output(op, [s, n]);
  if (s === 0 || n === 0) return t;
  const rt = g.runtime;
  const xb = g.floats(x, op, "input");
  const wc = g.weightChunks(w, e, n, op, "weight", true);
  const ob = g.ints(offsets, op, "offsets");
  const rb = opts.rowIndex ? g.ints(opts.rowIndex, op, "rowIndex") : xb;
  const bb = opts.bias ? g.floats(opts.bias, op, "bias") : xb;
  // Segments of a few rows (decode): matrix-vector products, each slot finding its segment on the GPU.
  const perExpert = s / Math.min(e, s);
  if (perExpert <= MATVEC_MAX_ROWS) {
    const mv: MatvecVariant = { w: wc.type, mode: "segments", gather: !!opts.rowIndex, bias: !!opts.bias, vec4: k % 4 === 0 && !isQuantWeight(wc.type) };
    matvec(g, op, mv, { s, n, k, e, expert: 0, rpi, xRows: x.size / k }, wc.chunks, { x: xb, ids: ob, bias: bb, rowIndex: rb, y: buf });
    return t;
  }
  // Short segments (small batches) take 16-row tiles; the host knows S and E, not the counts.
  const v: GemmVariant = { w: wc.type, grouped: true, gather: !!opts.rowIndex, bias: !!opts.bias, tm: perExpert < SMALL_TILE_ROWS ? 1 : 4, vec4: k % 4 === 0 && !isQuantWeight(wc.type) };
  const bm = tileM(v);
  const chunks = wc.chunks;
  // Per chunk: the tile table and indirect arguments (TILES_WGSL) built on the GPU from the offsets,
  // then the GEMM over exactly those tiles. Every non-empty expert adds at most one partial tile.
  const maxTiles = (c: WeightChunk) => ceil(s, bm) + Math.min(c.e1 - c.e0, s);
  const bases: number[] = [];
  let total = 0;
  for (const c of chunks) {
    bases.push(total);
    total += maxTiles(c);
  }
  const tiles = rt.buffer(g.label("groupedLinear.tiles"), total * 16);
  const indirect = rt.buffer(g.label("groupedLinear.args"), chunks.length * 12, undefined, BufferUsage.INDIRECT);
  const tk = rt.kernel("gemm.tiles", ["r", "rw", "rw"], () => TILES_WGSL);
  const gk = gemmKernel(g, v);
  chunks.forEach((c, i) => {
    const colTiles = ceil(c.n1 - c.n0, TILE_N);
    const tp = new Params().u32(c.e0).u32(c.e1).u32(bm).u32(colTiles).u32(maxTiles(c)).u32(bases[i]!).u32(i);
    rt.dispatch(g.label("groupedLinear.tiles"), tk, tp, [ob, tiles, indirect], 1);
    const params = gemmParams(s, n, k, bases[i]!, rpi, c);
    rt.dispatchIndirect(g.label(op), gk, params, [xb, c.buffer, tiles, rb, bb, buf], indirect, 12 * i);
  });
  rt.release(tiles);
  rt.release(indirect);
  return t;
}

export function gatheredLinear(g: GpuContext, x: Tensor, w: Tensor, ids: Tensor, opts: { bias?: Tensor; rowsPerInput?: number } = {}): Tensor {
  const op = "gatheredLinear";
  const { n, k, e, s, rpi } = args.gatheredLinearArgs(x, w, ids, opts);
  const { t, buf } = g.output(op, [s, n]);
  if (s === 0 || n === 0) return t;
  const xb = g.floats(x, op, "input");
  const wc = g.weightChunks(w, e, n, op, "weight", true);
  const ib = g.ints(ids, op, "ids");
  const bb = opts.bias ? g.floats(opts.bias, op, "bias") : xb;
  const v: MatvecVariant = { w: wc.type, mode: "gathered", bias: !!opts.bias, vec4: k % 4 === 0 && !isQuantWeight(wc.type) };
  matvec(g, op, v, { s, n, k, e, expert: 0, rpi, xRows: x.size / k }, wc.chunks, { x: xb, ids: ib, bias: bb, rowIndex: xb, y: buf });
  return t;
}

export function gate(g: GpuContext, p: Tensor, spec: GateSpec): Tensor {
  const op = "gate";
  const { s, width, inter, kind, act, clamp } = args.gateArgs(p, spec);
  const { t, buf } = g.output(op, [s, inter]);
  if (s * inter === 0) return t;
  const pb = g.floats(p, op, "projection");
  const params = new Params()
    .u32(s * inter)
    .u32(inter)
    .u32(width)
    .u32(GATE_KINDS[kind])
    .u32(act)
    .u32(clamp ? 1 : 0)
    .f32(clamp?.alpha ?? 0)
    .f32(clamp?.limit ?? 0);
  const k = g.runtime.kernel("gate", ["r", "rw"], () => GATE_WGSL);
  g.runtime.dispatch(g.label(op), k, params, [pb, buf], ceil(s * inter, 256));
  return t;
}
