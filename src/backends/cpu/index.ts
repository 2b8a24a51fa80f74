/**
 * The cpu backend: the backend contract computed by the native addon (native/), with runtime dispatch
 * on the CPU's vector extensions and its own thread pool. The products, gates, slot bookkeeping, norms,
 * rope, attention, embedding, the causal convolution and the delta rule are native (the last two through
 * ./recurrent.ts); routing, the elementwise ops, the shape ops and the ssm scan run the shared host
 * implementations (../host/), named op by op below. Arguments are checked by op-args before
 * each native call; the addon re-checks sizes and indices so that a bad call throws and never touches
 * memory outside a buffer.
 */
import type { Activation, AttentionSpec, Backend, CausalConvSpec, DeltaRuleSpec, GateSpec, RopeSpec, Routing, RoutingSpec, SortedSlots, SsmScanSpec } from "../backend.js";
import { bf16BitsInto, type DType, type HostStorage } from "../../dtype.js";
import type { Tensor } from "../../tensor.js";
import * as args from "../op-args/index.js";
import type { FusedExpertsArgs } from "../op-args/index.js";
import * as hostEw from "../host/elementwise.js";
import * as recurrent from "./recurrent.js";
import * as scan from "../host/ssm-scan.js";
import { route } from "../host/routing.js";
import * as shapeOps from "../host/shape-ops.js";
import { adoptHost, floatsOf, hostOf, hostTensor, intsOf, parameterFloatsOf, zerosHost } from "../host/tensors.js";
import { loadNative, type NativeAddon, type WeightArg } from "./native.js";
import { kvOperand } from "./kv-operand.js";
import { weightArg } from "./weights.js";
import { ActivationPool } from "./activation-pool.js";

export type { NativeAddon } from "./native.js";
export type { FusedExpertsArgs } from "../op-args/index.js";

export type CpuIsa = "avx512bf16" | "avx512" | "avx2" | "scalar";

/** Activation precision of the products: float32 (default) or bfloat16 (as transformers computes a bf16 model). */
export type CpuCompute = "float32" | "bfloat16";

export interface CpuBackendOptions {
  /** Worker threads of the (process-wide) native pool; default: the machine's hardware threads. */
  threads?: number;
  /** Force an instruction set (testing); default: the best the CPU supports. */
  isa?: CpuIsa;
  /**
   * Activation precision of the products (linear, groupedLinear, gatheredLinear, fusedExperts):
   * "float32" (default: weights widened in registers) or "bfloat16": each product's input is rounded to
   * bfloat16 and, with bfloat16 weights, multiplied with bfloat16 dot products (AVX512_BF16 `vdpbf16ps`
   * where the CPU has it, exact-product float32 FMAs elsewhere), accumulated in float32; outputs stay
   * float32. float32 / float16 weights multiply as stored (only the activations are rounded).
   */
  compute?: CpuCompute;
  /**
   * Whether a model forward's intermediate buffers (of more than 16 values) serve the next forward instead
   * of being collected (default true; see activation-pool.ts): a number sets the smallest such buffer in
   * float32 values instead.
   */
  reuseActivations?: boolean | number;
}

const GATE_KINDS = { concatenated: 0, interleaved: 1, none: 2 } as const;

export class CpuBackend implements Backend {
  readonly name: string = "cpu";
  readonly isHost = true;
  readonly native: NativeAddon;
  /** Activation precision of the products (see CpuBackendOptions.compute). */
  compute: CpuCompute;

  /** Free lists of forward intermediates (undefined: reuseActivations false). */
  readonly activations: ActivationPool | undefined;

  constructor(opts: CpuBackendOptions = {}) {
    this.native = loadNative();
    const reuse = opts.reuseActivations ?? true;
    if (typeof reuse === "number" && !(Number.isInteger(reuse) && reuse >= 0)) throw new Error(`cpu backend: reuseActivations must be a boolean or a whole number of values, got ${reuse}`);
    this.activations = reuse === false ? undefined : new ActivationPool(typeof reuse === "number" ? reuse : undefined);
    const compute = opts.compute ?? "float32";
    if (compute !== "float32" && compute !== "bfloat16") throw new Error(`cpu backend: compute must be "float32" or "bfloat16", got ${String(compute)}`);
    this.compute = compute;
    if (opts.isa !== undefined) this.setIsa(opts.isa);
    if (opts.threads !== undefined) this.setThreads(opts.threads);
  }

  /**
   * Memory read-bandwidth probe: every pool thread streams its share of `buffer` as the kernels stream
   * weights (wide loads, the same prefetch); returns a checksum so the reads cannot be optimized away.
   */
  readProbe(buffer: Float32Array | Uint16Array | Int32Array): number {
    return this.native.readProbe(buffer);
  }

  /** Threads of the native pool (process-wide: every cpu backend shares it). */
  get threads(): number {
    return this.native.getThreads();
  }

  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > 255) throw new Error(`cpu backend: threads must be an integer in [1, 255], got ${n}`);
    this.native.setThreads(n);
  }

  /** The instruction set the kernels run with. */
  get isa(): CpuIsa {
    return this.native.isa() as CpuIsa;
  }

  /** Instruction sets this CPU can run, best first. */
  supportedIsas(): CpuIsa[] {
    return this.native.supportedIsas() as CpuIsa[];
  }

  /** Whether bfloat16 compute runs on AVX512_BF16 dot products with the current instruction set. */
  get bf16Dot(): boolean {
    return this.native.hasBf16Dot();
  }

  private get computeCode(): number {
    return this.compute === "bfloat16" ? 1 : 0;
  }

  setIsa(isa: CpuIsa): void {
    if (!this.native.setIsa(isa)) throw new Error(`cpu backend: instruction set '${isa}' is not supported here (supported: ${this.supportedIsas().join(", ")})`);
  }

  /** An output of n values, every one of which the op overwrites. */
  private floats(n: number): Float32Array {
    return this.activations ? this.activations.floats(n) : new Float32Array(n);
  }

  /** floats as a function, for the host ops that take one (elementwise, slice). */
  private readonly out = (n: number): Float32Array => this.floats(n);

  /** A weight argument of a product (a handle once the tensor is used again: weightArg). */
  private weight(t: Tensor, op: string, what: string): WeightArg {
    return weightArg(this.native, t, op, what);
  }

  forwardScope<T>(fn: () => Promise<T>, kept: (result: T) => readonly Tensor[]): Promise<T> {
    return this.activations ? this.activations.run(fn, kept) : fn();
  }

  retain(t: Tensor): void {
    this.activations?.retain(t);
  }

  private make(values: HostStorage, shape: readonly number[], dtype: DType = "float32"): Tensor {
    return hostTensor(this, values, shape, dtype);
  }

  // ---- host boundary ---------------------------------------------------------------------------

  fromHost(storage: HostStorage, shape: readonly number[], dtype: DType): Tensor {
    args.fromHostArgs(storage, shape, dtype);
    return this.make(storage, shape, dtype);
  }

  adopt(t: Tensor): Tensor {
    return adoptHost(this, t);
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    return t.data();
  }

  zeros(shape: readonly number[], dtype: DType = "float32"): Tensor {
    return zerosHost(this, shape, dtype);
  }

  // ---- products (native) -----------------------------------------------------------------------

  linear(x: Tensor, w: Tensor, opts: { bias?: Tensor; expert?: number; into?: Float32Array } = {}): Tensor {
    const op = "linear";
    const { m, n, k, e, expert, outShape } = args.linearArgs(x, w, opts);
    const y = opts.into ?? this.floats(m * n);
    this.native.linear({
      x: floatsOf(x, op, "input"), m, k, n, experts: e, expert, y, compute: this.computeCode,
      w: this.weight(w, op, "weight"), bias: opts.bias && this.weight(opts.bias, op, "bias"),
    });
    return this.make(y, outShape);
  }

  groupedLinear(x: Tensor, w: Tensor, offsets: Tensor, opts: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const op = "groupedLinear";
    const { rows, n, k, e, s, rpi } = args.groupedLinearArgs(x, w, offsets, opts);
    const y = this.floats(s * n);
    this.native.groupedLinear({
      x: floatsOf(x, op, "input"), r: rows, k, n, experts: e, y, compute: this.computeCode,
      w: this.weight(w, op, "weight"), bias: opts.bias && this.weight(opts.bias, op, "bias"),
      offsets: intsOf(offsets, op, "offsets"), rowIndex: opts.rowIndex && intsOf(opts.rowIndex, op, "rowIndex"), rowsPerInput: rpi,
    });
    return this.make(y, [s, n]);
  }

  gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, opts: { bias?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const op = "gatheredLinear";
    const { rows, n, k, e, s, rpi } = args.gatheredLinearArgs(x, w, ids, opts);
    const y = this.floats(s * n);
    this.native.gatheredLinear({
      x: floatsOf(x, op, "input"), r: rows, k, n, experts: e, y, compute: this.computeCode,
      w: this.weight(w, op, "weight"), bias: opts.bias && this.weight(opts.bias, op, "bias"),
      ids: intsOf(ids, op, "ids"), rowsPerInput: rpi,
    });
    return this.make(y, [s, n]);
  }

  /**
   * A whole experts layer in one native call (a grouped_mm schedule, fused): slots counting-sorted by
   * expert; gate_up over all (expert, tile) pairs at once with the gated activation in its epilogue; down
   * with the routing weight in its epilogue; the slot sum in slot order. Segments of few rows stream the
   * weights in place (GEMV), larger ones use packed panels. Equals sortByExpert → groupedLinear (gathered
   * rows) → gate → groupedLinear → combineSlots within float32 rounding:
   * out[t] = Σ_k topkWeights[t, k] · down[e](gate(projection[e] · hidden[t])), e = topkIndex[t, k],
   * summed in slot order.
   */
  fusedExperts(a: FusedExpertsArgs): Tensor {
    const op = "fusedExperts";
    const { t, h, k, e, inter, gate } = args.fusedExpertsArgs(a);
    const out = this.floats(t * h);
    const clamp = gate.clamp;
    this.native.fusedExperts({
      x: floatsOf(a.hidden, op, "hidden"), t, h, topk: k, ids: intsOf(a.topkIndex, op, "topkIndex"), weights: floatsOf(a.topkWeights, op, "topkWeights"),
      experts: e, inter, gateUp: this.weight(a.projection, op, "projection"), down: this.weight(a.down, op, "down"),
      gateUpBias: a.projectionBias && this.weight(a.projectionBias, op, "projectionBias"), downBias: a.downBias && this.weight(a.downBias, op, "downBias"),
      gateKind: GATE_KINDS[gate.kind], act: gate.act, clamp: clamp ? 1 : 0, alpha: clamp?.alpha, limit: clamp?.limit, compute: this.computeCode, out,
    });
    return this.make(out, [t, h]);
  }

  gate(p: Tensor, spec: GateSpec): Tensor {
    const { s, width, inter, kind, act, clamp } = args.gateArgs(p, spec);
    const out = this.floats(s * inter);
    this.native.gate({ p: floatsOf(p, "gate", "projection"), s, width, kind: GATE_KINDS[kind], act, clamp: clamp ? 1 : 0, alpha: clamp?.alpha, limit: clamp?.limit, out });
    return this.make(out, [s, inter]);
  }

  // ---- routing (host) and slot bookkeeping (native) ----------------------------------------------

  route(logits: Tensor, spec: RoutingSpec): Routing {
    return route(this, logits, spec);
  }

  sortByExpert(ids: Tensor, numExperts: number): SortedSlots {
    args.sortByExpertArgs(ids, numExperts);
    const id = intsOf(ids, "sortByExpert", "ids");
    const order = new Int32Array(id.length);
    const position = new Int32Array(id.length);
    const offsets = new Int32Array(numExperts + 1);
    this.native.sortByExpert({ ids: id, experts: numExperts, order, position, offsets });
    return {
      order: this.make(order, [order.length], "int32"),
      position: this.make(position, [position.length], "int32"),
      offsets: this.make(offsets, [numExperts + 1], "int32"),
    };
  }

  combineSlots(y: Tensor, weights: Tensor, slotRow?: Tensor): Tensor {
    const op = "combineSlots";
    const { rows, h, t, k } = args.combineSlotsArgs(y, weights, slotRow);
    const out = this.floats(t * h);
    const map = slotRow && intsOf(slotRow, op, "slotRow");
    this.native.combineSlots({ y: floatsOf(y, op, "y"), r: rows, h, weights: floatsOf(weights, op, "weights"), t, k, slotRow: map, out });
    return this.make(out, [t, h]);
  }

  gatherRows(x: Tensor, rows: Tensor): Tensor {
    const op = "gatherRows";
    const { r, h, n } = args.gatherRowsArgs(x, rows);
    const out = this.floats(n * h);
    this.native.gatherRows({ x: floatsOf(x, op, "x"), r, h, rows: intsOf(rows, op, "rows"), out });
    return this.make(out, [n, h]);
  }

  accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
    const op = "accumulateRows";
    const { t, h } = args.accumulateRowsArgs(out, y, rows, weights);
    const os = hostOf(out, op, "out") as Float32Array;
    this.native.accumulateRows({ out: os, t, h, y: floatsOf(y, op, "y"), rows: intsOf(rows, op, "rows"), weights: floatsOf(weights, op, "weights") });
  }

  // ---- elementwise: host, softmax native ---------------------------------------------------------

  add(a: Tensor, b: Tensor): Tensor {
    const native = this.native.add;
    if (!native || a.size < NATIVE_ELEMENTWISE_MIN || args.broadcastArgs("add", a, b).mode !== "same") return hostEw.binary(this, "add", a, b, this.out);
    const out = this.floats(a.size);
    native({ a: floatsOf(a, "add", "a"), b: floatsOf(b, "add", "b"), n: a.size, out });
    return this.make(out, a.shape);
  }

  writeBf16(src: Float32Array, dst: Uint16Array, at: number): void {
    const native = this.native.narrowBf16;
    if (!native || src.length < NATIVE_ELEMENTWISE_MIN) return bf16BitsInto(src, dst, at);
    native({ src, n: src.length, dst, at });
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return hostEw.binary(this, "mul", a, b, this.out);
  }

  scale(x: Tensor, factor: number): Tensor {
    return hostEw.scale(this, x, factor, this.out);
  }

  activate(x: Tensor, act: Activation): Tensor {
    return hostEw.activate(this, x, act, this.out);
  }

  cast(x: Tensor, dtype: DType): Tensor {
    return hostEw.cast(this, x, dtype);
  }

  // ---- model layers: native (float32 math; the reference computes in float64), shape ops host -----

  embedding(table: Tensor, ids: Tensor): Tensor {
    const op = "embedding";
    const { h, outShape } = args.embeddingArgs(table, ids);
    const idx = intsOf(ids, op, "ids");
    const out = this.floats(idx.length * h);
    this.native.embedding({ table: this.weight(table, op, "table"), ids: idx, out });
    return this.make(out, outShape);
  }

  rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
    const op = "rmsNorm";
    const { rows, d } = args.normArgs(op, x, weight, undefined, eps);
    const xs = floatsOf(x, op, "x");
    const out = this.floats(xs.length);
    if (d > 0) this.native.rowNorm({ kind: 0, x: xs, rows, d, weight: weight && parameterFloatsOf(weight, op, "weight"), eps, out });
    return this.make(out, x.shape);
  }

  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor {
    const op = "layerNorm";
    const { rows, d } = args.normArgs(op, x, weight, bias, eps);
    const xs = floatsOf(x, op, "x");
    const out = this.floats(xs.length);
    if (d > 0) this.native.rowNorm({ kind: 1, x: xs, rows, d, weight: parameterFloatsOf(weight, op, "weight"), bias: bias && parameterFloatsOf(bias, op, "bias"), eps, out });
    return this.make(out, x.shape);
  }

  softmax(x: Tensor): Tensor {
    const { rows, n } = args.softmaxArgs(x);
    const xs = floatsOf(x, "softmax", "x");
    const out = this.floats(xs.length);
    if (rows > 0) this.native.rowNorm({ kind: 2, x: xs, rows, d: n, out });
    return this.make(out, x.shape);
  }

  rope(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Tensor {
    const op = "rope";
    const { tokens, heads, d, half, style } = args.ropeArgs(x, cos, sin, spec);
    const xs = floatsOf(x, op, "x");
    const out = this.floats(xs.length);
    this.native.rope({ x: xs, t: tokens, heads, d, cos: floatsOf(cos, op, "cos"), sin: floatsOf(sin, op, "sin"), half, interleaved: style === "interleaved" ? 1 : 0, out });
    return this.make(out, x.shape);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): Tensor {
    const op = "attention";
    const { b, sq, hq, dk, skv, hkv, dv, offset, causal, slidingWindow: window } = args.attentionArgs(q, k, v, spec);
    const mask = spec.keyMask && intsOf(spec.keyMask, op, "keyMask");
    const sinks = spec.sinks && parameterFloatsOf(spec.sinks, op, "sinks");
    // (offset + i) − j < W for integers ⇔ (offset + i) − j < ⌈W⌉; a window past every key is no window.
    const w = window === undefined || Math.ceil(window) > skv ? 0 : Math.ceil(window);
    const out = this.floats(b * sq * hq * dv);
    this.native.attention({
      q: floatsOf(q, op, "q"), k: kvOperand(k, op, "k"), v: kvOperand(v, op, "v"),
      b, sq, skv, hq, hkv, dk, dv, scale: spec.scale, causal: causal ? 1 : 0, offset, window: w, keyMask: mask, sinks, out,
    });
    return this.make(out, [b, sq, hq, dv]);
  }

  slice(x: Tensor, axis: number, start: number, length: number): Tensor {
    return shapeOps.slice(this, x, axis, start, length, this.out);
  }

  concat(parts: readonly Tensor[], axis: number): Tensor {
    return shapeOps.concat(this, parts, axis);
  }

  repeat(x: Tensor, axis: number, times: number): Tensor {
    return shapeOps.repeat(this, x, axis, times);
  }

  clamp(x: Tensor, min: number, max: number): Tensor {
    return hostEw.clamp(this, x, min, max, this.out);
  }

  argmax(x: Tensor): Tensor {
    const native = this.native.argmax;
    if (!native || x.size < NATIVE_ELEMENTWISE_MIN || x.dtype !== "float32") return hostEw.argmax(this, x);
    const { rows, n } = args.argmaxArgs(x);
    const out = new Int32Array(rows);
    native({ x: floatsOf(x, "argmax", "x"), rows, n, out });
    return hostTensor(this, out, x.shape.slice(0, -1), "int32");
  }
  causalConv1d(x: Tensor, weight: Tensor, spec: CausalConvSpec = {}): { out: Tensor; state: Tensor } {
    const a = args.causalConv1dArgs(x, weight, spec);
    const r = recurrent.causalConv1d(this.native, x, weight, spec, a);
    return { out: hostTensor(this, r.out, [a.b, a.s, a.c]), state: hostTensor(this, r.state, [a.b, a.kw - 1, a.c]) };
  }

  gatedDeltaRule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec): { out: Tensor; state: Tensor } {
    const a = args.gatedDeltaRuleArgs(q, k, v, beta, spec);
    const r = recurrent.gatedDeltaRule(this.native, q, k, v, beta, spec, a);
    return { out: hostTensor(this, r.out, [a.b, a.s, a.h, a.dv]), state: hostTensor(this, r.state, [a.b, a.h, a.dk, a.dv]) };
  }

  ssmScan(x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec?: SsmScanSpec): { out: Tensor; state: Tensor } {
    return scan.ssmScan(this, x, dt, a, bIn, c, spec);
  }
}

/** A cpu backend (loads the native addon; throws a clear error when it is not built). */
export function createCpuBackend(opts: CpuBackendOptions = {}): CpuBackend {
  return new CpuBackend(opts);
}

/** Whether the native addon can be loaded here (false in browsers or when it is not built). */
export function cpuBackendAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

/** Element counts from which add and the bfloat16 rounding run natively (below, the call costs more than the loop). */
const NATIVE_ELEMENTWISE_MIN = 4096;
