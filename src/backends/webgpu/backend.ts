/// <reference types="@webgpu/types" />
/**
 * The webgpu backend: the backend contract (../backend.ts) on one GPUDevice. Tensors keep a
 * GpuStorage (a labelled device buffer, its physical element type and length); every op validates
 * shapes on the host (op-args), records its dispatches into the pending command encoder and returns at
 * once; `read` is the only way back to the host. Weights are float32 or float16 (f16 buffers when the
 * device has shader-f16, else widened to f32 at upload); bfloat16 is widened to f32 at upload (exact);
 * block formats (q8_0 … fp8_e4m3_b128) stay their stored bytes, widened inside the product kernels;
 * views of row segments upload segment by segment. Activations and results are float32. Float tensors of
 * rank ≥ 2 larger than one bindable buffer (`chunkBytes`: maxStorageBufferBindingSize, or the
 * `maxChunkBytes` option) are uploaded as chunks of whole experts or of rows (runtime.ts ChunkedLayout);
 * the products, embedding and cast read the chunks in place with a constant number of dispatches per
 * chunk, other ops get a joined copy.
 *
 * The ops live by family in products.ts, slots.ts, elementwise.ts, layers.ts, recurrent.ts and ssm-scan.ts (functions of a
 * GpuContext, context.ts); this class holds the device and delegates.
 */
import type { Activation, AttentionSpec, Backend, CausalConvSpec, DeltaRuleSpec, GateSpec, RopeSpec, Routing, RoutingSpec, SortedSlots, SsmScanSpec } from "../backend.js";
import * as args from "../op-args/index.js";
import { type DType, type HostStorage, widenToF32 } from "../../dtype.js";
import { numel, Tensor } from "../../tensor.js";
import { GpuContext } from "./context.js";
import { acquireDevice, hasPackedDot, PACKED_DOT_FEATURE, type WebGpuBackendOptions } from "./device.js";
import * as ew from "./elementwise.js";
import * as layers from "./layers.js";
import * as products from "./products.js";
import * as recurrent from "./recurrent.js";
import * as scan from "./ssm-scan.js";
import { type Elem, GpuRuntime, type GpuStorage } from "./runtime.js";
import * as slots from "./slots.js";

export class WebGpuBackend implements Backend {
  readonly name: string = "webgpu";
  readonly isHost = false;
  /** Device-side machinery (pipelines, pending commands); exposed for tests and benchmarks. */
  readonly runtime: GpuRuntime;
  /** float16 weights are kept as f16 on the device (shader-f16 present and enabled). */
  readonly f16: boolean;
  /** Largest buffer a weight is stored in (bytes); larger weights are split (see runtime.ts ChunkedLayout). */
  readonly chunkBytes: number;
  /**
   * Quantized matrix-vector products on integer-code block weights quantize their inputs to int8 and use
   * packed dot products (kernels/int8-dot.wgsl.ts); else every weight value is widened to float32 in the lanes.
   */
  readonly int8Dot: boolean;
  private readonly keepAlive: unknown[];
  private readonly owned: boolean;
  private readonly g: GpuContext;

  constructor(
    readonly device: GPUDevice,
    /** int8Dot: the device's WGSL has packed_4x8_integer_dot_product (createWebGpuBackend checks; default false). */
    opts: { f16?: boolean; keepAlive?: unknown[]; owned?: boolean; maxChunkBytes?: number; int8Dot?: boolean } = {},
  ) {
    this.runtime = new GpuRuntime(device);
    const l = device.limits;
    this.chunkBytes = Math.min(opts.maxChunkBytes ?? Infinity, l.maxStorageBufferBindingSize, l.maxBufferSize);
    this.f16 = (opts.f16 ?? true) && device.features.has("shader-f16");
    this.keepAlive = opts.keepAlive ?? [];
    this.owned = opts.owned ?? false;
    this.int8Dot = opts.int8Dot ?? false;
    this.g = new GpuContext(this, device, this.runtime, this.f16, this.chunkBytes, this.int8Dot);
  }

  /** A short description of the adapter/device, for logs. */
  get description(): string {
    const info = (this.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const what = info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" ") : "unknown adapter";
    const extras = [this.f16 && "shader-f16", this.int8Dot && "int8 dot"].filter(Boolean);
    return `${what}${extras.length ? ` (${extras.join(", ")})` : ""}`;
  }

  // ---- host boundary ---------------------------------------------------------------------------

  fromHost(storage: HostStorage, shape: readonly number[], dtype: DType): Tensor {
    args.fromHostArgs(storage, shape, dtype);
    return this.g.upload(new Tensor([...shape], dtype, storage));
  }

  adopt(t: Tensor): Tensor {
    if (t.backend === this) return t;
    if (t.isHost) return this.g.upload(t);
    throw new Error(`${this.name}: cannot adopt a tensor of backend '${t.backend!.name}' synchronously; read it first`);
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    if (t.backend !== this) return t.data();
    const s = t.storage as GpuStorage;
    if (s.elem === "blocks") throw new Error(`${this.name}: read of a ${t.dtype} weight: its blocks stay on the device (read it from the host copy)`);
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
    const buf = this.runtime.buffer(this.g.label(`zeros.${dtype}`), numel(shape) * (elem === "f16" ? 2 : 4));
    return this.g.tensor(buf, elem, shape, dtype);
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

  // ---- products (products.ts) -------------------------------------------------------------------

  linear(x: Tensor, w: Tensor, opts: { bias?: Tensor; expert?: number } = {}): Tensor {
    return products.linear(this.g, x, w, opts);
  }

  groupedLinear(x: Tensor, w: Tensor, offsets: Tensor, opts: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number } = {}): Tensor {
    return products.groupedLinear(this.g, x, w, offsets, opts);
  }

  gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, opts: { bias?: Tensor; rowsPerInput?: number } = {}): Tensor {
    return products.gatheredLinear(this.g, x, w, ids, opts);
  }

  gate(p: Tensor, spec: GateSpec): Tensor {
    return products.gate(this.g, p, spec);
  }

  // ---- routing and slot bookkeeping (slots.ts) ---------------------------------------------------

  route(logits: Tensor, spec: RoutingSpec): Routing {
    return slots.route(this.g, logits, spec);
  }

  sortByExpert(ids: Tensor, numExperts: number): SortedSlots {
    return slots.sortByExpert(this.g, ids, numExperts);
  }

  combineSlots(y: Tensor, weights: Tensor, slotRow?: Tensor): Tensor {
    return slots.combineSlots(this.g, y, weights, slotRow);
  }

  gatherRows(x: Tensor, rows: Tensor): Tensor {
    return slots.gatherRows(this.g, x, rows);
  }

  accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
    slots.accumulateRows(this.g, out, y, rows, weights);
  }

  // ---- elementwise (elementwise.ts) --------------------------------------------------------------

  add(a: Tensor, b: Tensor): Tensor {
    return ew.add(this.g, a, b);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return ew.mul(this.g, a, b);
  }

  scale(x: Tensor, factor: number): Tensor {
    return ew.scale(this.g, x, factor);
  }

  activate(x: Tensor, act: Activation): Tensor {
    return ew.activate(this.g, x, act);
  }

  softmax(x: Tensor): Tensor {
    return ew.softmax(this.g, x);
  }

  cast(x: Tensor, dtype: DType): Tensor {
    return ew.cast(this.g, x, dtype);
  }

  clamp(x: Tensor, min: number, max: number): Tensor {
    return ew.clamp(this.g, x, min, max);
  }

  argmax(x: Tensor): Tensor {
    return ew.argmax(this.g, x);
  }

  // ---- model layers and shape ops (layers.ts) ----------------------------------------------------

  embedding(table: Tensor, ids: Tensor): Tensor {
    return layers.embedding(this.g, table, ids);
  }

  rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
    return layers.rmsNorm(this.g, x, weight, eps);
  }

  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor {
    return layers.layerNorm(this.g, x, weight, bias, eps);
  }

  rope(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Tensor {
    return layers.rope(this.g, x, cos, sin, spec);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): Tensor {
    return layers.attention(this.g, q, k, v, spec);
  }

  slice(x: Tensor, axis: number, start: number, length: number): Tensor {
    return layers.slice(this.g, x, axis, start, length);
  }

  concat(parts: readonly Tensor[], axis: number): Tensor {
    return layers.concat(this.g, parts, axis);
  }

  repeat(x: Tensor, axis: number, times: number): Tensor {
    return layers.repeat(this.g, x, axis, times);
  }
  // ---- recurrent layers (recurrent.ts) ------------------------------------------------------------

  causalConv1d(x: Tensor, weight: Tensor, spec: CausalConvSpec = {}): { out: Tensor; state: Tensor } {
    return recurrent.causalConv1d(this.g, x, weight, spec);
  }

  gatedDeltaRule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec): { out: Tensor; state: Tensor } {
    return recurrent.gatedDeltaRule(this.g, q, k, v, beta, spec);
  }

  ssmScan(x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec?: SsmScanSpec): { out: Tensor; state: Tensor } {
    return scan.ssmScan(this.g, x, dt, a, bIn, c, spec);
  }
}

/**
 * A webgpu backend on the given device, adapter or GPU entry point; with none, on navigator.gpu in a
 * browser or on Dawn through the `webgpu` npm package in Node (imported only then).
 */
export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const acquired = await acquireDevice(opts);
  const packed = opts.int8Dot === false ? false : await hasPackedDot(acquired.device, acquired.gpu);
  if (opts.int8Dot === true && !packed) {
    if (acquired.owned) acquired.device.destroy();
    throw new Error(`webgpu: int8Dot: true needs WGSL's ${PACKED_DOT_FEATURE} language feature, which this browser / Dawn does not offer`);
  }
  return new WebGpuBackend(acquired.device, {
    f16: opts.useF16 !== false,
    keepAlive: acquired.keepAlive,
    owned: acquired.owned,
    maxChunkBytes: opts.maxChunkBytes,
    int8Dot: packed,
  });
}
