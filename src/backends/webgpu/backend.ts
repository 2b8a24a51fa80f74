/// <reference types="@webgpu/types" />
/**
 * The webgpu backend: the backend contract (../backend.ts) on one GPUDevice. Tensors keep a
 * GpuStorage (a labelled device buffer, its physical element type and length); every op validates
 * shapes on the host, records its dispatches into the pending command encoder and returns at once;
 * `read` is the only way back to the host. Weights are float32 or float16 (f16 buffers when the device
 * has shader-f16, else widened to f32 at upload); bfloat16 is widened to f32 at upload (exact).
 * Activations and results are float32. Float tensors of rank ≥ 2 larger than one bindable buffer
 * (`chunkBytes`: maxStorageBufferBindingSize, or the `maxChunkBytes` option) are uploaded as chunks of
 * whole experts or of rows (runtime.ts ChunkedLayout); the products, embedding and cast read the chunks
 * in place with a constant number of dispatches per chunk, other ops get a joined copy.
 *
 * Implemented: the whole contract — the experts-level ops and the model layers (embedding, norms, RoPE,
 * attention, shape ops, clamp, argmax). Contract ops added later and not yet written here exist as
 * stubs that throw "not implemented on webgpu yet" (installed below from the reference backend's
 * method list).
 */
import { attentionDims } from "../attention-dims.js";
import type { Activation, AttentionSpec, Backend, GateSpec, RopeSpec, Routing, RoutingSpec, SortedSlots } from "../backend.js";
import { ReferenceBackend } from "../reference/index.js";
import { productDims } from "../reference/products.js";
import { routeDims } from "../reference/routing.js";
import { concatAxis, normAxis, split as around } from "../reference/shape-ops.js";
import { type DType, type HostStorage, widenToF32 } from "../../dtype.js";
import { numel, shapeString, Tensor } from "../../tensor.js";
import { acquireDevice, type WebGpuBackendOptions } from "./device.js";
import { activationCode } from "../activation-codes.js";
import type { WeightType } from "./kernels/common.wgsl.js";
import { castWgsl, ROUNDING } from "./kernels/cast.wgsl.js";
import { BROADCAST, ELEMENTWISE_WGSL, GATE_KINDS, GATE_WGSL, OPS, SOFTMAX_WGSL } from "./kernels/elementwise.wgsl.js";
import { gatheredWgsl, matvecKey, MV_ROWS, type MatvecVariant } from "./kernels/gathered-linear.wgsl.js";
import { gemmKey, gemmWgsl, TILE_N, tileM, TILES_WGSL, type GemmVariant } from "./kernels/grouped-linear.wgsl.js";
import { routeKey, routeWgsl, type RouteVariant } from "./kernels/route.wgsl.js";
import { ACCUMULATE_ROWS_WGSL, combineWgsl, GATHER_ROWS_WGSL } from "./kernels/slots.wgsl.js";
import { CHUNK_SCAN_WGSL, EXPERT_SCAN_WGSL, HISTOGRAM_WGSL, SCATTER_WGSL, SORT_CHUNK } from "./kernels/sort-by-expert.wgsl.js";
import { attentionWgsl, MAX_HEAD_DIM } from "./kernels/attention.wgsl.js";
import { embeddingWgsl, normWgsl, ROPE_STYLES, ROPE_WGSL } from "./kernels/layers.wgsl.js";
import { ARGMAX_WGSL, blockCopyWgsl, CLAMP_WGSL, type CopyElem } from "./kernels/shape-ops.wgsl.js";
import { BufferUsage, type ChunkedLayout, type Elem, GpuRuntime, GpuStorage, Params, planChunks, type WeightChunk } from "./runtime.js";

/** `linear` with at most this many rows, and `groupedLinear` with at most this many rows per expert on average, run as matrix-vector products. */
const MATVEC_MAX_ROWS = 4;
/** GEMM row tiles of 16 (else 64) when the rows per segment (dense: M; grouped: S / min(E, S)) are below this. */
const SMALL_TILE_ROWS = 24;

/** The contract ops this backend implements; the rest throw until they are written. */
type ImplementedOps =
  | "name"
  | "isHost"
  | "fromHost"
  | "adopt"
  | "read"
  | "zeros"
  | "dispose"
  | "linear"
  | "groupedLinear"
  | "gatheredLinear"
  | "gate"
  | "route"
  | "sortByExpert"
  | "combineSlots"
  | "gatherRows"
  | "accumulateRows"
  | "add"
  | "mul"
  | "scale"
  | "activate"
  | "softmax"
  | "cast"
  | "embedding"
  | "rmsNorm"
  | "layerNorm"
  | "rope"
  | "attention"
  | "slice"
  | "concat"
  | "repeat"
  | "clamp"
  | "argmax";

export const IMPLEMENTED_OPS: readonly ImplementedOps[] = [
  "fromHost",
  "adopt",
  "read",
  "zeros",
  "dispose",
  "linear",
  "groupedLinear",
  "gatheredLinear",
  "gate",
  "route",
  "sortByExpert",
  "combineSlots",
  "gatherRows",
  "accumulateRows",
  "add",
  "mul",
  "scale",
  "activate",
  "softmax",
  "cast",
  "embedding",
  "rmsNorm",
  "layerNorm",
  "rope",
  "attention",
  "slice",
  "concat",
  "repeat",
  "clamp",
  "argmax",
];

function expectRank(t: Tensor, rank: number, op: string, what: string): void {
  if (t.rank !== rank) throw new Error(`${op}: ${what} must have rank ${rank}, got shape ${shapeString(t.shape)}`);
}

function expectShape(t: Tensor, shape: readonly number[], op: string, what: string): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: ${what} must have shape ${shapeString(shape)}, got ${shapeString(t.shape)}`);
  }
}

function expectInt(t: Tensor, op: string, what: string): void {
  if (t.dtype !== "int32") throw new Error(`${op}: ${what} must be int32, got ${t.dtype}`);
}

function expectFloat(t: Tensor, op: string, what: string): void {
  if (t.dtype === "int32") throw new Error(`${op}: ${what} must be a float tensor, got int32`);
}

const ceil = (a: number, b: number) => Math.ceil(a / b);

// The class carries the whole Backend interface (declaration merging): the ops in ImplementedOps are
// type-checked by `implements`, the others are the throwing stubs installed at the end of this file.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface WebGpuBackend extends Backend {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WebGpuBackend implements Pick<Backend, ImplementedOps> {
  readonly name: string = "webgpu";
  readonly isHost = false;
  /** Device-side machinery (pipelines, pending commands); exposed for tests and benchmarks. */
  readonly runtime: GpuRuntime;
  /** float16 weights are kept as f16 on the device (shader-f16 present and enabled). */
  readonly f16: boolean;
  /** Largest buffer a weight is stored in (bytes); larger weights are split (see runtime.ts ChunkedLayout). */
  readonly chunkBytes: number;
  private readonly keepAlive: unknown[];
  private readonly owned: boolean;
  private seq = 0;

  constructor(
    readonly device: GPUDevice,
    opts: { f16?: boolean; keepAlive?: unknown[]; owned?: boolean; maxChunkBytes?: number } = {},
  ) {
    this.runtime = new GpuRuntime(device);
    const l = device.limits;
    this.chunkBytes = Math.min(opts.maxChunkBytes ?? Infinity, l.maxStorageBufferBindingSize, l.maxBufferSize);
    this.f16 = (opts.f16 ?? true) && device.features.has("shader-f16");
    this.keepAlive = opts.keepAlive ?? [];
    this.owned = opts.owned ?? false;
  }

  /** A short description of the adapter/device, for logs. */
  get description(): string {
    const info = (this.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const what = info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" ") : "unknown adapter";
    return `${what}${this.f16 ? " (shader-f16)" : ""}`;
  }

  private label(op: string): string {
    return `moekit.${op}#${this.seq++}`;
  }

  private tensor(buffer: GPUBuffer, elem: Elem, shape: readonly number[], dtype: DType): Tensor {
    return new Tensor([...shape], dtype, new GpuStorage(buffer, elem, numel(shape)), this);
  }

  /** A fresh float32 result of the given shape. */
  private output(op: string, shape: readonly number[]): { t: Tensor; buf: GPUBuffer } {
    const buf = this.runtime.buffer(this.label(op), numel(shape) * 4);
    return { t: this.tensor(buf, "f32", shape, "float32"), buf };
  }

  // ---- host boundary ---------------------------------------------------------------------------

  fromHost(storage: HostStorage, shape: readonly number[], dtype: DType): Tensor {
    const n = numel(shape);
    if (storage.length !== n) throw new Error(`fromHost: ${storage.length} values for shape ${shapeString(shape)}`);
    const label = this.label(`upload.${dtype}`);
    if (dtype === "int32") {
      if (!(storage instanceof Int32Array)) throw new Error("fromHost: int32 values must be an Int32Array");
      return this.tensor(this.runtime.buffer(label, n * 4, storage), "i32", shape, dtype);
    }
    if (dtype === "float32") {
      if (!(storage instanceof Float32Array)) throw new Error("fromHost: float32 values must be a Float32Array");
      if (shape.length >= 2 && n * 4 > this.chunkBytes) return this.uploadChunked(storage, shape, dtype);
      return this.tensor(this.runtime.buffer(label, n * 4, storage), "f32", shape, dtype);
    }
    if (!(storage instanceof Uint16Array)) throw new Error(`fromHost: ${dtype} values must be a Uint16Array of raw 16-bit words`);
    if (shape.length >= 2 && n * 4 > this.chunkBytes) return this.uploadChunked(storage, shape, dtype);
    if (dtype === "float16" && this.f16) return this.tensor(this.runtime.buffer(label, n * 2, storage), "f16", shape, dtype);
    return this.tensor(this.runtime.buffer(label, n * 4, widenToF32(storage, dtype)), "f32", shape, dtype);
  }

  /** A float weight larger than `chunkBytes` (at 4 bytes per element), uploaded as chunks (see ChunkedLayout). */
  private uploadChunked(storage: Float32Array | Uint16Array, shape: readonly number[], dtype: DType): Tensor {
    const k = shape[shape.length - 1]!;
    const n = shape[shape.length - 2]!;
    const e = numel(shape.slice(0, -2));
    const half = dtype === "float16" && this.f16;
    const elem: Elem = half ? "f16" : "f32";
    const chunks: WeightChunk[] = planChunks(e, n, k, this.chunkBytes).map((c) => {
      const start = (c.e0 * n + c.n0) * k;
      const end = ((c.e1 - 1) * n + c.n1) * k;
      const part = storage.subarray(start, end);
      const label = this.label(`upload.${dtype}.chunk[${c.e0}:${c.e1},${c.n0}:${c.n1}]`);
      const host = storage instanceof Float32Array || half ? part : widenToF32(part as Uint16Array, dtype);
      return { ...c, buffer: this.runtime.buffer(label, (end - start) * (half ? 2 : 4), host) };
    });
    const layout: ChunkedLayout = { e, n, k, chunks };
    return new Tensor([...shape], dtype, new GpuStorage(chunks[0]!.buffer, elem, numel(shape), layout), this);
  }

  adopt(t: Tensor): Tensor {
    if (t.backend === this) return t;
    if (t.isHost) return this.fromHost(t.storage as HostStorage, t.shape, t.dtype);
    throw new Error(`${this.name}: cannot adopt a tensor of backend '${t.backend!.name}' synchronously; read it first`);
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    if (t.backend !== this) return t.data();
    const s = t.storage as GpuStorage;
    const esize = s.elem === "f16" ? 2 : 4;
    let data: ArrayBuffer;
    if (s.chunked) {
      const { n, k } = s.chunked;
      const all = new Uint8Array(s.length * esize);
      for (const c of s.chunked.chunks) {
        const start = (c.e0 * n + c.n0) * k;
        const count = ((c.e1 - 1) * n + c.n1) * k - start;
        all.set(new Uint8Array(await this.runtime.read(c.buffer, count * esize, "moekit.read.chunk")), start * esize);
      }
      data = all.buffer;
    } else data = await this.runtime.read(s.buffer, s.length * esize, `moekit.read`);
    if (s.elem === "i32") return new Int32Array(data);
    if (s.elem === "f32") return new Float32Array(data);
    return widenToF32(new Uint16Array(data), "float16");
  }

  zeros(shape: readonly number[], dtype: DType = "float32"): Tensor {
    const elem: Elem = dtype === "int32" ? "i32" : dtype === "float16" && this.f16 ? "f16" : "f32";
    const buf = this.runtime.buffer(this.label(`zeros.${dtype}`), numel(shape) * (elem === "f16" ? 2 : 4));
    return this.tensor(buf, elem, shape, dtype);
  }

  dispose(t: Tensor): void {
    if (t.backend === this) for (const b of (t.storage as GpuStorage).buffers) this.runtime.release(b);
  }

  /** Submit recorded work now (it is otherwise submitted by `read` or after many dispatches). */
  flush(): void {
    this.runtime.flush();
  }

  /** Wait for all submitted work; throws a captured device error, if any. */
  async sync(): Promise<void> {
    await this.runtime.sync();
  }

  /** Release the device if this backend created it. */
  destroy(): void {
    this.runtime.flush();
    if (this.owned) this.device.destroy();
    this.keepAlive.length = 0;
  }

  // ---- operand access ----------------------------------------------------------------------------

  private storageOf(t: Tensor, op: string, what: string): GpuStorage {
    const s = this.rawStorage(t, op, what);
    return s.chunked ? this.contiguous(s, op, what) : s;
  }

  /** The storage of a tensor as it is (chunked weights stay chunked), for ops that read chunks. */
  private rawStorage(t: Tensor, op: string, what: string): GpuStorage {
    if (t.backend === this) return t.storage as GpuStorage;
    if (t.isHost) return this.adopt(t).storage as GpuStorage;
    throw new Error(`${op}: ${what} belongs to backend '${t.backend!.name}', not to this webgpu backend`);
  }

  /**
   * One buffer holding a chunked weight (a temporary, for ops that do not read chunks), where the
   * device can bind it; chunks are copied in order (they are consecutive pieces of the flattened tensor).
   */
  private contiguous(s: GpuStorage, op: string, what: string): GpuStorage {
    const esize = s.elem === "f16" ? 2 : 4;
    const bytes = s.length * esize;
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    const { n, k, chunks } = s.chunked!;
    const starts = chunks.map((c) => (c.e0 * n + c.n0) * k * esize);
    if (bytes > limit || starts.some((b) => b % 4 !== 0)) {
      throw new Error(
        `${op}: ${what} is a weight split into ${chunks.length} chunks (${(bytes / 2 ** 20).toFixed(1)} MiB) and this op reads one buffer ` +
          `(only linear, groupedLinear, gatheredLinear, embedding, cast and read take split weights)`,
      );
    }
    const out = this.runtime.buffer(this.label(`${op}.${what}.joined`), bytes);
    chunks.forEach((c, i) => {
      const next = i + 1 < chunks.length ? starts[i + 1]! : bytes;
      this.runtime.copy(c.buffer, out, next - starts[i]!, starts[i]!);
    });
    this.runtime.release(out);
    return new GpuStorage(out, s.elem, s.length);
  }

  /** A float32 buffer holding t's values (f16 storage is widened by a kernel into a temporary). */
  private floats(t: Tensor, op: string, what: string): GPUBuffer {
    expectFloat(t, op, what);
    const s = this.storageOf(t, op, what);
    if (s.elem === "f32") return s.buffer;
    const out = this.runtime.buffer(this.label(`${op}.${what}.widen`), s.length * 4);
    this.castInto(s, out, "none", false);
    this.runtime.release(out);
    return out;
  }

  private ints(t: Tensor, op: string, what: string): GPUBuffer {
    expectInt(t, op, what);
    return this.storageOf(t, op, what).buffer;
  }

  private weight(t: Tensor, op: string, what: string): { buffer: GPUBuffer; type: WeightType } {
    expectFloat(t, op, what);
    const s = this.storageOf(t, op, what);
    return { buffer: s.buffer, type: s.elem === "f16" ? "f16" : "f32" };
  }

  /**
   * A weight as chunks over its [E, N, K] view (`e` experts of `n` rows; an unsplit weight is one
   * chunk of all of it): the products dispatch once per chunk.
   */
  private weightChunks(t: Tensor, e: number, n: number, op: string, what: string): { chunks: readonly WeightChunk[]; type: WeightType } {
    expectFloat(t, op, what);
    const s = this.rawStorage(t, op, what);
    const type: WeightType = s.elem === "f16" ? "f16" : "f32";
    if (!s.chunked) return { chunks: [{ buffer: s.buffer, e0: 0, e1: e, n0: 0, n1: n }], type };
    if (s.chunked.e !== e || s.chunked.n !== n) {
      throw new Error(`${op}: ${what} was split as [${s.chunked.e}, ${s.chunked.n}, ${s.chunked.k}] chunks and cannot be read as [${e}, ${n}, …]`);
    }
    return { chunks: s.chunked.chunks, type };
  }

  private castInto(src: GpuStorage, dst: GPUBuffer, rounding: keyof typeof ROUNDING, packedHalf: boolean): void {
    const input: WeightType = src.elem === "f16" ? "f16" : "f32";
    const k = this.runtime.kernel(`cast.${input}.${packedHalf ? "half" : "f32"}`, ["r", "rw"], () => castWgsl(input, packedHalf));
    const params = new Params().u32(src.length).u32(ROUNDING[rounding]);
    this.runtime.dispatch(this.label("cast"), k, params, [src.buffer, dst], ceil(ceil(src.length, 2), 256));
  }

  // ---- products ----------------------------------------------------------------------------------

  private gemmKernel(v: GemmVariant) {
    return this.runtime.kernel(gemmKey(v), ["r", "r", "r", "r", "r", "rw"], () => gemmWgsl(v));
  }

  /** GEMM uniforms (the order of the WGSL struct P in grouped-linear.wgsl.ts). */
  private gemmParams(m: number, n: number, k: number, expert: number, rpi: number, c: WeightChunk): Params {
    return new Params().u32(m).u32(n).u32(k).u32(expert).u32(rpi).u32(c.e0).u32(c.n0).u32(c.n1);
  }

  /** One matrix-vector dispatch per chunk (see gathered-linear.wgsl.ts). */
  private matvec(
    op: string,
    v: MatvecVariant,
    dims: { s: number; n: number; k: number; e: number; expert: number; rpi: number },
    chunks: readonly WeightChunk[],
    bufs: { x: GPUBuffer; ids: GPUBuffer; bias: GPUBuffer; rowIndex: GPUBuffer; y: GPUBuffer },
  ): void {
    const kern = this.runtime.kernel(matvecKey(v), ["r", "r", "r", "r", "r", "rw"], () => gatheredWgsl(v));
    const { s, n, k, e, expert, rpi } = dims;
    for (const c of chunks) {
      if (v.mode === "dense" && (expert < c.e0 || expert >= c.e1)) continue;
      const blocks = ceil(c.n1 - c.n0, MV_ROWS);
      const params = new Params().u32(s).u32(n).u32(k).u32(expert).u32(rpi).u32(blocks).u32(c.e0).u32(c.e1).u32(c.n0).u32(c.n1).u32(e);
      this.runtime.dispatch(this.label(op), kern, params, [bufs.x, c.buffer, bufs.ids, bufs.bias, bufs.rowIndex, bufs.y], s * blocks);
    }
  }

  linear(x: Tensor, w: Tensor, opts: { bias?: Tensor; expert?: number } = {}): Tensor {
    const op = "linear";
    const stacked = opts.expert !== undefined;
    const [m, n, k] = productDims(op, x, w, stacked);
    const e = stacked ? w.shape[0]! : 1;
    const expert = opts.expert ?? 0;
    if (stacked && (!Number.isInteger(expert) || expert < 0 || expert >= e)) throw new Error(`${op}: expert ${expert} outside [0, ${e})`);
    if (opts.bias) expectShape(opts.bias, stacked ? [e, n] : [n], op, "bias");
    const { t, buf } = this.output(op, [...x.shape.slice(0, -1), n]);
    if (m === 0 || n === 0) return t;
    if (k === 0) {
      // An empty product: zeros (a fresh buffer) plus the bias.
      if (!opts.bias) return t;
      return this.add(t, stacked ? this.slice(opts.bias, 0, expert, 1).reshape([n]) : opts.bias);
    }
    const xb = this.floats(x, op, "input");
    const wc = this.weightChunks(w, e, n, op, "weight");
    const bb = opts.bias ? this.floats(opts.bias, op, "bias") : xb;
    if (m <= MATVEC_MAX_ROWS) {
      const v: MatvecVariant = { w: wc.type, mode: "dense", bias: !!opts.bias, vec4: k % 4 === 0 };
      this.matvec(op, v, { s: m, n, k, e, expert, rpi: 1 }, wc.chunks, { x: xb, ids: xb, bias: bb, rowIndex: xb, y: buf });
      return t;
    }
    const v: GemmVariant = { w: wc.type, grouped: false, gather: false, bias: !!opts.bias, tm: m < SMALL_TILE_ROWS ? 1 : 4, vec4: k % 4 === 0 };
    const kern = this.gemmKernel(v);
    for (const c of wc.chunks) {
      if (expert < c.e0 || expert >= c.e1) continue;
      const params = this.gemmParams(m, n, k, expert, 1, c);
      this.runtime.dispatch(this.label(op), kern, params, [xb, c.buffer, xb, xb, bb, buf], [ceil(m, tileM(v)), ceil(c.n1 - c.n0, TILE_N)]);
    }
    return t;
  }

  groupedLinear(x: Tensor, w: Tensor, offsets: Tensor, opts: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const op = "groupedLinear";
    expectRank(x, 2, op, "input");
    expectRank(w, 3, op, "weight");
    const [rows, k] = x.shape as [number, number];
    const [e, n] = w.shape as [number, number, number];
    if (w.shape[2] !== k) throw new Error(`${op}: input ${shapeString(x.shape)} has ${k} features but weight ${shapeString(w.shape)} expects ${w.shape[2]}`);
    expectInt(offsets, op, "offsets");
    if (offsets.size !== e + 1) throw new Error(`${op}: offsets must have ${e + 1} entries for ${e} experts, got ${offsets.size}`);
    const rpi = opts.rowsPerInput ?? 1;
    if (!Number.isInteger(rpi) || rpi < 1) throw new Error(`${op}: rowsPerInput must be a positive integer`);
    if (opts.rowIndex) expectInt(opts.rowIndex, op, "rowIndex");
    if (opts.bias) expectShape(opts.bias, [e, n], op, "bias");
    const s = opts.rowIndex ? opts.rowIndex.size : rows;
    const { t, buf } = this.output(op, [s, n]);
    if (s === 0 || n === 0) return t;
    const rt = this.runtime;
    const xb = this.floats(x, op, "input");
    const wc = this.weightChunks(w, e, n, op, "weight");
    const ob = this.ints(offsets, op, "offsets");
    const rb = opts.rowIndex ? this.ints(opts.rowIndex, op, "rowIndex") : xb;
    const bb = opts.bias ? this.floats(opts.bias, op, "bias") : xb;
    // Segments of a few rows (decode): matrix-vector products, each slot finding its segment on the GPU.
    const perExpert = s / Math.min(e, s);
    if (perExpert <= MATVEC_MAX_ROWS) {
      const mv: MatvecVariant = { w: wc.type, mode: "segments", gather: !!opts.rowIndex, bias: !!opts.bias, vec4: k % 4 === 0 };
      this.matvec(op, mv, { s, n, k, e, expert: 0, rpi }, wc.chunks, { x: xb, ids: ob, bias: bb, rowIndex: rb, y: buf });
      return t;
    }
    // Short segments (small batches) take 16-row tiles; the host knows S and E, not the counts.
    const v: GemmVariant = { w: wc.type, grouped: true, gather: !!opts.rowIndex, bias: !!opts.bias, tm: perExpert < SMALL_TILE_ROWS ? 1 : 4, vec4: k % 4 === 0 };
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
    const tiles = rt.buffer(this.label("groupedLinear.tiles"), total * 16);
    const args = rt.buffer(this.label("groupedLinear.args"), chunks.length * 12, undefined, BufferUsage.INDIRECT);
    const tk = rt.kernel("gemm.tiles", ["r", "rw", "rw"], () => TILES_WGSL);
    const gk = this.gemmKernel(v);
    chunks.forEach((c, i) => {
      const colTiles = ceil(c.n1 - c.n0, TILE_N);
      const tp = new Params().u32(c.e0).u32(c.e1).u32(bm).u32(colTiles).u32(maxTiles(c)).u32(bases[i]!).u32(i);
      rt.dispatch(this.label("groupedLinear.tiles"), tk, tp, [ob, tiles, args], 1);
      const params = this.gemmParams(s, n, k, bases[i]!, rpi, c);
      rt.dispatchIndirect(this.label(op), gk, params, [xb, c.buffer, tiles, rb, bb, buf], args, 12 * i);
    });
    rt.release(tiles);
    rt.release(args);
    return t;
  }

  gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, opts: { bias?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const op = "gatheredLinear";
    expectRank(x, 2, op, "input");
    expectRank(w, 3, op, "weight");
    const [rows, k] = x.shape as [number, number];
    const [e, n] = w.shape as [number, number, number];
    if (w.shape[2] !== k) throw new Error(`${op}: input ${shapeString(x.shape)} has ${k} features but weight ${shapeString(w.shape)} expects ${w.shape[2]}`);
    expectInt(ids, op, "ids");
    const rpi = opts.rowsPerInput ?? 1;
    if (!Number.isInteger(rpi) || rpi < 1) throw new Error(`${op}: rowsPerInput must be a positive integer`);
    if (ids.size !== rows * rpi) throw new Error(`${op}: ${ids.size} ids for ${rows} input rows × ${rpi} slots (expected ${rows * rpi})`);
    if (opts.bias) expectShape(opts.bias, [e, n], op, "bias");
    const s = ids.size;
    const { t, buf } = this.output(op, [s, n]);
    if (s === 0 || n === 0) return t;
    const xb = this.floats(x, op, "input");
    const wc = this.weightChunks(w, e, n, op, "weight");
    const ib = this.ints(ids, op, "ids");
    const bb = opts.bias ? this.floats(opts.bias, op, "bias") : xb;
    const v: MatvecVariant = { w: wc.type, mode: "gathered", bias: !!opts.bias, vec4: k % 4 === 0 };
    this.matvec(op, v, { s, n, k, e, expert: 0, rpi }, wc.chunks, { x: xb, ids: ib, bias: bb, rowIndex: xb, y: buf });
    return t;
  }

  gate(p: Tensor, spec: GateSpec): Tensor {
    const op = "gate";
    expectRank(p, 2, op, "projection");
    const [s, width] = p.shape as [number, number];
    if (spec.kind !== "none" && width % 2 !== 0) throw new Error(`${op}: a gated projection needs an even width, got ${shapeString(p.shape)}`);
    const inter = spec.kind === "none" ? width : width / 2;
    const { t, buf } = this.output(op, [s, inter]);
    if (s * inter === 0) return t;
    const pb = this.floats(p, op, "projection");
    const clamp = spec.kind === "interleaved" ? spec.clampedSwiglu : undefined;
    const params = new Params()
      .u32(s * inter)
      .u32(inter)
      .u32(width)
      .u32(GATE_KINDS[spec.kind])
      .u32(activationCode(spec.act, "webgpu gate"))
      .u32(clamp ? 1 : 0)
      .f32(clamp?.alpha ?? 0)
      .f32(clamp?.limit ?? 0);
    const k = this.runtime.kernel("gate", ["r", "rw"], () => GATE_WGSL);
    this.runtime.dispatch(this.label(op), k, params, [pb, buf], ceil(s * inter, 256));
    return t;
  }

  // ---- routing and slot bookkeeping ------------------------------------------------------------

  route(logits: Tensor, spec: RoutingSpec): Routing {
    const op = "route";
    const [t, e, k] = routeDims(op, logits, spec);
    if (spec.selectionBias && spec.selectionBias.size !== e) throw new Error(`${op}: selectionBias has ${spec.selectionBias.size} entries for ${e} experts`);
    const g = spec.groups;
    if (g && (!Number.isInteger(g.count) || g.count < 1 || e % g.count !== 0 || g.keep < 1 || g.keep > g.count)) {
      throw new Error(`${op}: ${e} experts cannot form ${g.count} groups keeping ${g.keep}`);
    }
    const sparse = spec.scoring === "sparsemixer";
    const v: RouteVariant = {
      e,
      k,
      scoring: spec.scoring,
      bias: !sparse && !!spec.selectionBias,
      groups: !sparse && g ? { count: g.count, keep: g.keep, score: g.score, fillNegInf: g.fill === -Infinity } : undefined,
      softmaxTopK: !sparse && spec.weights === "softmaxTopK",
      normalize: !sparse && !!spec.normalize,
      scale: !sparse && spec.scale !== undefined,
    };
    const indexBuf = this.runtime.buffer(this.label("route.index"), t * k * 4);
    const index = this.tensor(indexBuf, "i32", [t, k], "int32");
    const { t: weights, buf: weightsBuf } = this.output("route.weights", [t, k]);
    if (t === 0) return { index, weights };
    const lb = this.floats(logits, op, "logits");
    const bb = v.bias ? this.floats(spec.selectionBias!, op, "selectionBias") : lb;
    const fill = g && g.fill !== -Infinity ? g.fill : 0;
    const params = new Params()
      .u32(t)
      .f32(fill)
      .f32(spec.normalize?.eps ?? 0)
      .f32(spec.normalize?.min ?? 0)
      .f32(spec.scale ?? 1)
      .f32(spec.jitterEps ?? 0.01);
    const kern = this.runtime.kernel(routeKey(v), ["r", "r", "rw", "rw"], () => routeWgsl(v));
    this.runtime.dispatch(this.label(op), kern, params, [lb, bb, indexBuf, weightsBuf], ceil(t, 64));
    return { index, weights };
  }

  sortByExpert(ids: Tensor, numExperts: number): SortedSlots {
    const op = "sortByExpert";
    expectInt(ids, op, "ids");
    if (!Number.isInteger(numExperts) || numExperts < 1) throw new Error(`${op}: numExperts must be a positive integer`);
    const s = ids.size;
    const e = numExperts;
    const chunks = ceil(s, SORT_CHUNK);
    const rt = this.runtime;
    const orderBuf = rt.buffer(this.label("sort.order"), s * 4);
    const positionBuf = rt.buffer(this.label("sort.position"), s * 4);
    const offsetsBuf = rt.buffer(this.label("sort.offsets"), (e + 1) * 4);
    const result: SortedSlots = {
      order: this.tensor(orderBuf, "i32", [s], "int32"),
      position: this.tensor(positionBuf, "i32", [s], "int32"),
      offsets: this.tensor(offsetsBuf, "i32", [e + 1], "int32"),
    };
    if (s === 0) return result;
    const ib = this.ints(ids, op, "ids");
    const counts = rt.buffer(this.label("sort.counts"), chunks * e * 4);
    const base = rt.buffer(this.label("sort.base"), chunks * e * 4);
    const totals = rt.buffer(this.label("sort.totals"), e * 4);
    const params = () => new Params().u32(s).u32(e).u32(chunks);
    rt.dispatch(this.label("sort.histogram"), rt.kernel("sort.histogram", ["r", "rw"], () => HISTOGRAM_WGSL), params(), [ib, counts], chunks);
    rt.dispatch(this.label("sort.chunkScan"), rt.kernel("sort.chunkScan", ["r", "rw", "rw"], () => CHUNK_SCAN_WGSL), params(), [counts, base, totals], ceil(e, 64));
    rt.dispatch(this.label("sort.expertScan"), rt.kernel("sort.expertScan", ["r", "rw"], () => EXPERT_SCAN_WGSL), params(), [totals, offsetsBuf], 1);
    rt.dispatch(
      this.label("sort.scatter"),
      rt.kernel("sort.scatter", ["r", "r", "r", "rw", "rw"], () => SCATTER_WGSL),
      params(),
      [ib, base, offsetsBuf, orderBuf, positionBuf],
      chunks,
    );
    rt.release(counts);
    rt.release(base);
    rt.release(totals);
    return result;
  }

  combineSlots(y: Tensor, weights: Tensor, slotRow?: Tensor): Tensor {
    const op = "combineSlots";
    expectRank(y, 2, op, "y");
    expectRank(weights, 2, op, "weights");
    const [rows, h] = y.shape as [number, number];
    const [t, k] = weights.shape as [number, number];
    if (slotRow) {
      expectInt(slotRow, op, "slotRow");
      if (slotRow.size !== t * k) throw new Error(`${op}: slotRow has ${slotRow.size} entries for ${t}×${k} slots`);
    } else if (rows !== t * k) throw new Error(`${op}: y has ${rows} rows for ${t}×${k} slots`);
    const { t: out, buf } = this.output(op, [t, h]);
    if (t * h === 0) return out;
    const yb = this.floats(y, op, "y");
    const wb = this.floats(weights, op, "weights");
    const mb = slotRow ? this.ints(slotRow, op, "slotRow") : yb;
    const kern = this.runtime.kernel(`combine${slotRow ? ".mapped" : ""}`, ["r", "r", "r", "rw"], () => combineWgsl(!!slotRow));
    this.runtime.dispatch(this.label(op), kern, new Params().u32(t).u32(h).u32(k).u32(rows), [yb, wb, mb, buf], ceil(t * h, 256));
    return out;
  }

  gatherRows(x: Tensor, rows: Tensor): Tensor {
    const op = "gatherRows";
    expectRank(x, 2, op, "x");
    expectInt(rows, op, "rows");
    const [r, h] = x.shape as [number, number];
    const n = rows.size;
    const { t, buf } = this.output(op, [n, h]);
    if (n * h === 0) return t;
    const xb = this.floats(x, op, "x");
    const rb = this.ints(rows, op, "rows");
    const kern = this.runtime.kernel("gatherRows", ["r", "r", "rw"], () => GATHER_ROWS_WGSL);
    this.runtime.dispatch(this.label(op), kern, new Params().u32(n).u32(h).u32(r), [xb, rb, buf], ceil(n * h, 256));
    return t;
  }

  accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
    const op = "accumulateRows";
    if (out.dtype !== "float32") throw new Error(`${op}: out must be float32, got ${out.dtype}`);
    if (out.backend !== this) throw new Error(`${op}: out must be a tensor of this webgpu backend (it is updated in place)`);
    expectRank(out, 2, op, "out");
    expectRank(y, 2, op, "y");
    expectInt(rows, op, "rows");
    const [t, h] = out.shape as [number, number];
    if (y.shape[1] !== h) throw new Error(`${op}: y ${shapeString(y.shape)} does not match out ${shapeString(out.shape)}`);
    const n = y.shape[0]!;
    if (rows.size !== n || weights.size !== n) throw new Error(`${op}: rows and weights need ${n} entries`);
    if (n * h === 0) return;
    const ob = (out.storage as GpuStorage).buffer;
    const yb = this.floats(y, op, "y");
    const rb = this.ints(rows, op, "rows");
    const wb = this.floats(weights, op, "weights");
    const kern = this.runtime.kernel("accumulateRows", ["r", "r", "r", "rw"], () => ACCUMULATE_ROWS_WGSL);
    this.runtime.dispatch(this.label(op), kern, new Params().u32(n).u32(h).u32(t), [yb, rb, wb, ob], ceil(h, 256));
  }

  // ---- elementwise -------------------------------------------------------------------------------

  private elementwise(op: keyof typeof OPS, a: Tensor, b: Tensor | undefined, mode: number, bn: number, factor: number, act: number): Tensor {
    const { t, buf } = this.output(op, a.shape);
    if (a.size === 0) return t;
    const ab = this.floats(a, op, "a");
    const bb = b ? this.floats(b, op, "b") : ab;
    const kern = this.runtime.kernel("elementwise", ["r", "r", "rw"], () => ELEMENTWISE_WGSL);
    const params = new Params().u32(a.size).u32(OPS[op]).u32(mode).u32(bn).f32(factor).u32(act);
    this.runtime.dispatch(this.label(op), kern, params, [ab, bb, buf], ceil(a.size, 256));
    return t;
  }

  /** Broadcast of b over a, as the reference: same shape, b a suffix of a, or b [.., 1] per row. */
  private broadcast(op: string, a: Tensor, b: Tensor): [number, number] {
    const as = a.shape;
    const bs = b.shape;
    if (bs.length === as.length && bs.every((d, i) => d === as[i])) return [BROADCAST.same, 1];
    if (bs.length <= as.length && bs.every((d, i) => d === as[as.length - bs.length + i])) return [BROADCAST.suffix, Math.max(b.size, 1)];
    const last = as[as.length - 1] ?? 1;
    if (bs[bs.length - 1] === 1 && b.size * last === a.size) return [BROADCAST.row, Math.max(last, 1)];
    throw new Error(`${op}: cannot broadcast ${shapeString(bs)} to ${shapeString(as)}`);
  }

  add(a: Tensor, b: Tensor): Tensor {
    const [mode, bn] = this.broadcast("add", a, b);
    return this.elementwise("add", a, b, mode, bn, 1, 0);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    const [mode, bn] = this.broadcast("mul", a, b);
    return this.elementwise("mul", a, b, mode, bn, 1, 0);
  }

  scale(x: Tensor, factor: number): Tensor {
    return this.elementwise("scale", x, undefined, 0, 1, factor, 0);
  }

  activate(x: Tensor, act: Activation): Tensor {
    return this.elementwise("activate", x, undefined, 0, 1, 1, activationCode(act, "webgpu activate"));
  }

  softmax(x: Tensor): Tensor {
    const op = "softmax";
    const n = x.shape[x.rank - 1] ?? 1;
    const rows = n === 0 ? 0 : x.size / n;
    const { t, buf } = this.output(op, x.shape);
    if (x.size === 0) return t;
    const xb = this.floats(x, op, "x");
    const kern = this.runtime.kernel("softmax", ["r", "rw"], () => SOFTMAX_WGSL);
    this.runtime.dispatch(this.label(op), kern, new Params().u32(rows).u32(n), [xb, buf], rows);
    return t;
  }

  cast(x: Tensor, dtype: DType): Tensor {
    if (x.dtype === "int32" || dtype === "int32") throw new Error(`cast: only float dtypes can be cast, got ${x.dtype} → ${dtype}`);
    if (dtype !== "float32" && dtype !== "bfloat16" && dtype !== "float16") throw new Error(`cast: ${dtype} is a block format; weights are quantized, not cast`);
    const half = dtype === "float16" && this.f16;
    const rounding = dtype === "float32" ? "none" : dtype;
    const raw = this.rawStorage(x, "cast", "x");
    if (raw.chunked) {
      // A split weight casts chunk by chunk into the same layout (planned for 4-byte elements, so it fits).
      const { n, k } = raw.chunked;
      const chunks = raw.chunked.chunks.map((c) => {
        const count = ((c.e1 - c.e0) * (c.n1 - c.n0)) * k;
        const buffer = this.runtime.buffer(this.label(`cast.${dtype}.chunk`), count * (half ? 2 : 4));
        this.castInto(new GpuStorage(c.buffer, raw.elem, count), buffer, rounding, half);
        return { ...c, buffer };
      });
      const layout: ChunkedLayout = { ...raw.chunked, n, k, chunks };
      return new Tensor([...x.shape], dtype, new GpuStorage(chunks[0]!.buffer, half ? "f16" : "f32", x.size, layout), this);
    }
    const src = this.storageOf(x, "cast", "x");
    const buf = this.runtime.buffer(this.label(`cast.${dtype}`), x.size * (half ? 2 : 4));
    const t = this.tensor(buf, half ? "f16" : "f32", x.shape, dtype);
    if (x.size > 0) this.castInto(src, buf, rounding, half);
    return t;
  }

  // ---- model layers ------------------------------------------------------------------------------

  /** A result with x's physical element type and dtype (shape ops keep dtype). */
  private like(op: string, x: GpuStorage, dtype: DType, shape: readonly number[]): { t: Tensor; buf: GPUBuffer } {
    const buf = this.runtime.buffer(this.label(op), numel(shape) * (x.elem === "f16" ? 2 : 4));
    return { t: this.tensor(buf, x.elem, shape, dtype), buf };
  }

  /** dst[o, dstStart + l, c] = src[o, srcStart + ⌊l / div⌋, c] over a block [outer, len, inner]. */
  private blockCopy(
    op: string,
    src: GpuStorage,
    dst: GPUBuffer,
    block: { outer: number; len: number; inner: number; srcAxis: number; srcStart: number; dstAxis: number; dstStart: number; div: number },
  ): void {
    const n = block.outer * block.len * block.inner;
    if (n === 0) return;
    const elem: CopyElem = src.elem === "f16" ? "f16" : "u32";
    const k = this.runtime.kernel(`blockCopy.${elem}`, ["r", "rw"], () => blockCopyWgsl(elem));
    const params = new Params().u32(n).u32(block.len).u32(block.inner).u32(block.srcAxis).u32(block.srcStart).u32(block.dstAxis).u32(block.dstStart).u32(block.div);
    this.runtime.dispatch(this.label(op), k, params, [src.buffer, dst], ceil(n, 256));
  }

  embedding(table: Tensor, ids: Tensor): Tensor {
    const op = "embedding";
    expectRank(table, 2, op, "table");
    expectInt(ids, op, "ids");
    const [v, h] = table.shape as [number, number];
    if (ids.isHost) {
      // Host ids are checked here; ids already on the device cannot be (out-of-range rows read zeros).
      const host = ids.hostStorage() as Int32Array;
      host.forEach((id, i) => {
        if (id < 0 || id >= v) throw new Error(`${op}: token id ${id} at position ${i} is outside the vocabulary [0, ${v})`);
      });
    }
    const { t, buf } = this.output(op, [...ids.shape, h]);
    if (t.size === 0) return t;
    const tw = this.weightChunks(table, 1, v, op, "table");
    const ib = this.ints(ids, op, "ids");
    const k = this.runtime.kernel(`embedding.${tw.type}`, ["r", "r", "rw"], () => embeddingWgsl(tw.type));
    for (const c of tw.chunks) this.runtime.dispatch(this.label(op), k, new Params().u32(t.size).u32(h).u32(c.n0).u32(c.n1), [c.buffer, ib, buf], ceil(t.size, 256));
    return t;
  }

  private norm(op: "rmsNorm" | "layerNorm", x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, eps: number): Tensor {
    if (x.rank < 1) throw new Error(`${op}: x must have at least one dim`);
    const d = x.shape[x.rank - 1]!;
    for (const [what, v] of [["weight", weight], ["bias", bias]] as const) {
      if (v && v.size !== d) throw new Error(`${op}: ${what} ${shapeString(v.shape)} must have ${d} entries (the last dim of x)`);
    }
    const { t, buf } = this.output(op, x.shape);
    if (x.size === 0) return t;
    const rows = x.size / d;
    const xb = this.floats(x, op, "x");
    const wb = weight ? this.weight(weight, op, "weight") : undefined;
    const bb = bias ? this.floats(bias, op, "bias") : xb;
    const kind = op === "rmsNorm" ? "rms" : "layer";
    const wt = wb?.type ?? "none";
    const k = this.runtime.kernel(`norm.${kind}.${wt}${bias ? ".bias" : ""}`, ["r", "r", "r", "rw"], () => normWgsl(kind, wt, !!bias));
    const params = new Params().u32(rows).u32(d).f32(eps);
    this.runtime.dispatch(this.label(op), k, params, [xb, wb?.buffer ?? xb, bb, buf], rows);
    return t;
  }

  rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
    return this.norm("rmsNorm", x, weight, undefined, eps);
  }

  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor {
    return this.norm("layerNorm", x, weight, bias, eps);
  }

  rope(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Tensor {
    const op = "rope";
    if (x.rank < 3) throw new Error(`${op}: x must be [..., T, heads, D], got ${shapeString(x.shape)}`);
    const d = x.shape[x.rank - 1]!;
    const heads = x.shape[x.rank - 2]!;
    const tokens = heads * d === 0 ? 0 : x.size / (heads * d);
    const r = spec.rotaryDim ?? d;
    if (!Number.isInteger(r) || r < 2 || r % 2 !== 0 || r > d) throw new Error(`${op}: rotaryDim ${r} must be even and in [2, ${d}]`);
    const half = r / 2;
    if (cos.size !== tokens * half || sin.size !== tokens * half) {
      throw new Error(`${op}: cos ${shapeString(cos.shape)} / sin ${shapeString(sin.shape)} must hold [${tokens}, ${half}] values for x ${shapeString(x.shape)}`);
    }
    if (!(spec.style in ROPE_STYLES)) throw new Error(`${op}: unknown style '${spec.style as string}'`);
    const { t, buf } = this.output(op, x.shape);
    if (x.size === 0) return t;
    const xb = this.floats(x, op, "x");
    const cb = this.floats(cos, op, "cos");
    const sb = this.floats(sin, op, "sin");
    const k = this.runtime.kernel("rope", ["r", "r", "r", "rw"], () => ROPE_WGSL);
    const params = new Params().u32(x.size).u32(heads).u32(d).u32(half).u32(ROPE_STYLES[spec.style]);
    this.runtime.dispatch(this.label(op), k, params, [xb, cb, sb, buf], ceil(x.size, 256));
    return t;
  }

  attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): Tensor {
    const op = "attention";
    const { b, sq, hq, dk, skv, hkv, dv, offset, causal, slidingWindow: window } = attentionDims(q, k, v, spec);
    if (dk > MAX_HEAD_DIM || dv > MAX_HEAD_DIM) throw new Error(`${op}: head dims ${dk} / ${dv} exceed the webgpu kernel's ${MAX_HEAD_DIM}`);
    if (spec.keyMask) expectInt(spec.keyMask, op, "keyMask");
    const { t, buf } = this.output(op, [b, sq, hq, dv]);
    if (t.size === 0) return t;
    const qb = this.floats(q, op, "q");
    const kbuf = this.floats(k, op, "k");
    const vbuf = this.floats(v, op, "v");
    const mb = spec.keyMask ? this.ints(spec.keyMask, op, "keyMask") : qb;
    const sb = spec.sinks ? this.floats(spec.sinks, op, "sinks") : qb;
    const variant = { mask: !!spec.keyMask, sinks: !!spec.sinks };
    const kern = this.runtime.kernel(`attention${variant.mask ? ".mask" : ""}${variant.sinks ? ".sinks" : ""}`, ["r", "r", "r", "r", "r", "rw"], () => attentionWgsl(variant));
    const params = new Params()
      .u32(b)
      .u32(sq)
      .u32(skv)
      .u32(hq)
      .u32(hkv)
      .u32(dk)
      .u32(dv)
      .u32(offset)
      .u32(causal ? 1 : 0)
      .u32(window === undefined ? 0 : Math.min(Math.floor(window), 0xffffffff))
      .f32(spec.scale);
    this.runtime.dispatch(this.label(op), kern, params, [qb, kbuf, vbuf, mb, sb, buf], b * sq * hq);
    return t;
  }

  slice(x: Tensor, axis: number, start: number, length: number): Tensor {
    const op = "slice";
    const a = normAxis(op, x.rank, axis);
    const n = x.shape[a]!;
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
      throw new Error(`${op}: [${start}, ${start + length}) is outside [0, ${n}) on axis ${a} of ${shapeString(x.shape)}`);
    }
    const src = this.storageOf(x, op, "x");
    const shape = [...x.shape];
    shape[a] = length;
    const { t, buf } = this.like(op, src, x.dtype, shape);
    const [outer, inner] = around(x.shape, a);
    this.blockCopy(op, src, buf, { outer, len: length, inner, srcAxis: n, srcStart: start, dstAxis: length, dstStart: 0, div: 1 });
    return t;
  }

  concat(parts: readonly Tensor[], axis: number): Tensor {
    const op = "concat";
    const a = concatAxis(op, parts, axis);
    const first = parts[0]!;
    const stores = parts.map((p) => this.storageOf(p, op, "part"));
    if (stores.some((s) => s.elem !== stores[0]!.elem)) throw new Error(`${op}: parts are stored with different element types`);
    const total = parts.reduce((s, p) => s + p.shape[a]!, 0);
    const shape = [...first.shape];
    shape[a] = total;
    const { t, buf } = this.like(op, stores[0]!, first.dtype, shape);
    const [outer, inner] = around(first.shape, a);
    let at = 0;
    parts.forEach((p, i) => {
      const len = p.shape[a]!;
      this.blockCopy(op, stores[i]!, buf, { outer, len, inner, srcAxis: len, srcStart: 0, dstAxis: total, dstStart: at, div: 1 });
      at += len;
    });
    return t;
  }

  repeat(x: Tensor, axis: number, times: number): Tensor {
    const op = "repeat";
    const a = normAxis(op, x.rank, axis);
    if (!Number.isInteger(times) || times < 1) throw new Error(`${op}: times must be a positive integer, got ${times}`);
    const src = this.storageOf(x, op, "x");
    const n = x.shape[a]!;
    const shape = [...x.shape];
    shape[a] = n * times;
    const { t, buf } = this.like(op, src, x.dtype, shape);
    const [outer, inner] = around(x.shape, a);
    this.blockCopy(op, src, buf, { outer, len: n * times, inner, srcAxis: n, srcStart: 0, dstAxis: n * times, dstStart: 0, div: times });
    return t;
  }

  clamp(x: Tensor, min: number, max: number): Tensor {
    const op = "clamp";
    if (!(min <= max)) throw new Error(`${op}: min ${min} exceeds max ${max}`);
    const { t, buf } = this.output(op, x.shape);
    if (x.size === 0) return t;
    const xb = this.floats(x, op, "x");
    const k = this.runtime.kernel("clamp", ["r", "rw"], () => CLAMP_WGSL);
    this.runtime.dispatch(this.label(op), k, new Params().u32(x.size).f32(min).f32(max), [xb, buf], ceil(x.size, 256));
    return t;
  }

  argmax(x: Tensor): Tensor {
    const op = "argmax";
    if (x.rank < 1) throw new Error(`${op}: x must have at least one dim`);
    const n = x.shape[x.rank - 1]!;
    if (n < 1) throw new Error(`${op}: the last dim is empty`);
    const rows = x.size / n;
    const shape = x.shape.slice(0, -1);
    const buf = this.runtime.buffer(this.label(op), rows * 4);
    const t = this.tensor(buf, "i32", shape, "int32");
    if (rows === 0) return t;
    const xb = this.floats(x, op, "x");
    const k = this.runtime.kernel("argmax", ["r", "rw"], () => ARGMAX_WGSL);
    this.runtime.dispatch(this.label(op), k, new Params().u32(rows).u32(n), [xb, buf], rows);
    return t;
  }
}

// Contract ops not written for webgpu yet (the model layers): stubs that say so. The list comes from
// the reference backend, which implements the whole contract, so newly added ops are covered too.
for (const name of Object.getOwnPropertyNames(ReferenceBackend.prototype)) {
  if (name === "constructor" || name in WebGpuBackend.prototype) continue;
  Object.defineProperty(WebGpuBackend.prototype, name, {
    configurable: true,
    writable: true,
    value: function notImplemented(): never {
      throw new Error(`webgpu backend: '${name}' is not implemented on webgpu yet (implemented: ${IMPLEMENTED_OPS.join(", ")})`);
    },
  });
}

/**
 * A webgpu backend on the given device, adapter or GPU entry point; with none, on navigator.gpu in a
 * browser or on Dawn through the `webgpu` npm package in Node (imported only then).
 */
export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const acquired = await acquireDevice(opts);
  return new WebGpuBackend(acquired.device, { f16: opts.useF16 !== false, keepAlive: acquired.keepAlive, owned: acquired.owned, maxChunkBytes: opts.maxChunkBytes });
}
