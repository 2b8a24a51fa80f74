/// <reference types="@webgpu/types" />
/**
 * What every webgpu op works with: the device, its runtime, result tensors owned by the backend, and
 * operand access — host tensors uploaded on use (views of row segments copied segment by segment into
 * the mapped buffer; weights larger than `chunkBytes` as chunks), chunked weights read in place or joined,
 * f16 storage widened where an op needs float32. The op families (products.ts, slots.ts, elementwise.ts,
 * layers.ts) are functions of a GpuContext; the backend class only delegates.
 */
import type { Backend } from "../backend.js";
import { expectFloat, expectInt } from "../op-args/index.js";
import type { DType } from "../../dtype.js";
import { formatInfo, rowBytes } from "../../formats/table.js";
import { isQuantWeight, type QuantWeight } from "./kernels/quant-weights.wgsl.js";
import { numel, Tensor } from "../../tensor.js";
import type { WeightType } from "./kernels/common.wgsl.js";
import { castWgsl, ROUNDING } from "./kernels/cast.wgsl.js";
import { blockCopyWgsl, type CopyElem } from "./kernels/shape-ops.wgsl.js";
import { type ChunkedLayout, type Elem, type GpuRuntime, GpuStorage, Params, planChunks, type WeightChunk } from "./runtime.js";
import { rowsOf, writeBlockRows, writeRows } from "./upload.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

export class GpuContext {
  private seq = 0;

  constructor(
    /** The backend whose tensors the ops return. */
    readonly owner: Backend,
    readonly device: GPUDevice,
    readonly runtime: GpuRuntime,
    /** float16 weights are kept as f16 on the device. */
    readonly f16: boolean,
    /** Largest buffer a weight is stored in (bytes). */
    readonly chunkBytes: number,
    /** Quantized GEMVs on integer-code block weights quantize their inputs to int8 and use packed dot products. */
    readonly int8Dot = false,
  ) {}

  label(op: string): string {
    return `moekit.${op}#${this.seq++}`;
  }

  tensor(buffer: GPUBuffer, elem: Elem, shape: readonly number[], dtype: DType): Tensor {
    return new Tensor([...shape], dtype, new GpuStorage(buffer, elem, numel(shape)), this.owner);
  }

  /** A fresh float32 result of the given shape. */
  output(op: string, shape: readonly number[]): { t: Tensor; buf: GPUBuffer } {
    const buf = this.runtime.buffer(this.label(op), numel(shape) * 4);
    return { t: this.tensor(buf, "f32", shape, "float32"), buf };
  }

  /**
   * A host tensor (contiguous, or a view of row segments) on the device: int32 as is; float32, and float16
   * with shader-f16, as stored; other float formats widened to f32 (bfloat16 exactly). Float tensors of rank
   * ≥ 2 larger than `chunkBytes` at 4 bytes per element become chunks (see ChunkedLayout).
   */
  upload(t: Tensor): Tensor {
    const { shape, dtype } = t;
    const n = t.size;
    const label = this.label(`upload.${dtype}`);
    if (dtype === "int32") return this.tensor(this.runtime.buffer(label, n * 4, t.hostStorage()), "i32", shape, dtype);
    if (formatInfo(dtype).kind !== "element") {
      if (!isQuantWeight(dtype) || shape.length < 2) throw new Error(`webgpu: no kernels read ${dtype} tensors of shape [${shape.join(", ")}]`);
      return this.uploadBlocks(t);
    }
    const elem: Elem = dtype === "float16" && this.f16 ? "f16" : "f32";
    if (shape.length >= 2 && n * 4 > this.chunkBytes) return this.uploadChunked(t, elem);
    const { rows } = rowsOf(t);
    const buffer = this.runtime.buffer(label, n * (elem === "f16" ? 2 : 4), (dst) => writeRows(t, 0, rows, dst, elem));
    return this.tensor(buffer, elem, shape, dtype);
  }

  /** A float weight larger than `chunkBytes` (at 4 bytes per element), uploaded as chunks (see ChunkedLayout), each written from the host rows it holds. */
  uploadChunked(t: Tensor, elem: Elem): Tensor {
    const { shape, dtype } = t;
    const k = shape[shape.length - 1]!;
    const n = shape[shape.length - 2]!;
    const e = numel(shape.slice(0, -2));
    const chunks: WeightChunk[] = planChunks(e, n, k, this.chunkBytes).map((c) => {
      const r0 = c.e0 * n + c.n0;
      const rows = (c.e1 - 1) * n + c.n1 - r0;
      const label = this.label(`upload.${dtype}.chunk[${c.e0}:${c.e1},${c.n0}:${c.n1}]`);
      const buffer = this.runtime.buffer(label, rows * k * (elem === "f16" ? 2 : 4), (dst) => writeRows(t, r0, rows, dst, elem as "f32" | "f16"));
      return { ...c, buffer };
    });
    const layout: ChunkedLayout = { e, n, k, chunks };
    return new Tensor([...shape], dtype, new GpuStorage(chunks[0]!.buffer, elem, numel(shape), layout), this.owner);
  }

  /**
   * A block-format weight as its stored bytes (never widened): one buffer, or chunks of whole experts or rows
   * when it exceeds `chunkBytes` (the cut of ChunkedLayout with the limit scaled to the format's row bytes).
   */
  uploadBlocks(t: Tensor): Tensor {
    const { shape, dtype } = t;
    const k = shape[shape.length - 1]!;
    const n = shape[shape.length - 2]!;
    const e = numel(shape.slice(0, -2));
    const rb = rowBytes(dtype, k);
    const limit = Math.floor((this.chunkBytes * Math.max(k, 1) * 4) / Math.max(rb, 1));
    const chunks: WeightChunk[] = planChunks(e, n, k, limit).map((c) => {
      const r0 = c.e0 * n + c.n0;
      const rows = (c.e1 - 1) * n + c.n1 - r0;
      const label = this.label(`upload.${dtype}${c.e1 - c.e0 === e && c.n1 - c.n0 === n ? "" : `.chunk[${c.e0}:${c.e1},${c.n0}:${c.n1}]`}`);
      const buffer = this.runtime.buffer(label, ceil(Math.max(rows * rb, 4), 4) * 4, (dst) => writeBlockRows(t, r0, rows, rb, dst));
      return { ...c, buffer };
    });
    const layout: ChunkedLayout | undefined = chunks.length > 1 ? { e, n, k, chunks } : undefined;
    return new Tensor([...shape], dtype, new GpuStorage(chunks[0]!.buffer, "blocks", numel(shape), layout), this.owner);
  }

  storageOf(t: Tensor, op: string, what: string): GpuStorage {
    const s = this.rawStorage(t, op, what);
    return s.chunked ? this.contiguous(s, op, what) : s;
  }

  /** The storage of a tensor as it is (chunked weights stay chunked), for ops that read chunks. */
  rawStorage(t: Tensor, op: string, what: string, blocks = false): GpuStorage {
    let s: GpuStorage;
    if (t.backend === this.owner) s = t.storage as GpuStorage;
    else if (t.isHost) s = this.upload(t).storage as GpuStorage;
    else throw new Error(`${op}: ${what} belongs to backend '${t.backend!.name}', not to this webgpu backend`);
    if (s.elem === "blocks" && !blocks) throw new Error(`${op}: ${what} is a ${t.dtype} weight; webgpu reads block formats only in linear, groupedLinear, gatheredLinear and embedding`);
    return s;
  }

  /**
   * One buffer holding a chunked weight (a temporary, for ops that do not read chunks), where the
   * device can bind it; chunks are copied in order (they are consecutive pieces of the flattened tensor).
   */
  contiguous(s: GpuStorage, op: string, what: string): GpuStorage {
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
  floats(t: Tensor, op: string, what: string): GPUBuffer {
    expectFloat(t, op, what);
    const s = this.storageOf(t, op, what);
    if (s.elem === "f32") return s.buffer;
    const out = this.runtime.buffer(this.label(`${op}.${what}.widen`), s.length * 4);
    this.castInto(s, out, "none", false);
    this.runtime.release(out);
    return out;
  }

  ints(t: Tensor, op: string, what: string): GPUBuffer {
    expectInt(t, op, what);
    return this.storageOf(t, op, what).buffer;
  }

  weight(t: Tensor, op: string, what: string): { buffer: GPUBuffer; type: WeightType } {
    expectFloat(t, op, what);
    const s = this.storageOf(t, op, what);
    return { buffer: s.buffer, type: s.elem === "f16" ? "f16" : "f32" };
  }

  /**
   * A weight as chunks over its [E, N, K] view (`e` experts of `n` rows; an unsplit weight is one
   * chunk of all of it): the products dispatch once per chunk.
   */
  weightChunks(t: Tensor, e: number, n: number, op: string, what: string, blocks = false): { chunks: readonly WeightChunk[]; type: WeightType | QuantWeight } {
    expectFloat(t, op, what);
    const s = this.rawStorage(t, op, what, blocks);
    const type: WeightType | QuantWeight = s.elem === "blocks" ? (t.dtype as QuantWeight) : s.elem === "f16" ? "f16" : "f32";
    if (!s.chunked) return { chunks: [{ buffer: s.buffer, e0: 0, e1: e, n0: 0, n1: n }], type };
    if (s.chunked.e !== e || s.chunked.n !== n) {
      throw new Error(`${op}: ${what} was split as [${s.chunked.e}, ${s.chunked.n}, ${s.chunked.k}] chunks and cannot be read as [${e}, ${n}, …]`);
    }
    return { chunks: s.chunked.chunks, type };
  }

  castInto(src: GpuStorage, dst: GPUBuffer, rounding: keyof typeof ROUNDING, packedHalf: boolean): void {
    const input: WeightType = src.elem === "f16" ? "f16" : "f32";
    const k = this.runtime.kernel(`cast.${input}.${packedHalf ? "half" : "f32"}`, ["r", "rw"], () => castWgsl(input, packedHalf));
    const params = new Params().u32(src.length).u32(ROUNDING[rounding]);
    this.runtime.dispatch(this.label("cast"), k, params, [src.buffer, dst], ceil(ceil(src.length, 2), 256));
  }

  /** A result with x's physical element type and dtype (shape ops keep dtype). */
  like(op: string, x: GpuStorage, dtype: DType, shape: readonly number[]): { t: Tensor; buf: GPUBuffer } {
    const buf = this.runtime.buffer(this.label(op), numel(shape) * (x.elem === "f16" ? 2 : 4));
    return { t: this.tensor(buf, x.elem, shape, dtype), buf };
  }

  /** dst[o, dstStart + l, c] = src[o, srcStart + ⌊l / div⌋, c] over a block [outer, len, inner]. */
  blockCopy(
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
}
