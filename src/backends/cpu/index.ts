/**
 * The cpu backend: the reference backend's contract computed by the native addon (native/), with
 * runtime dispatch on the CPU's vector extensions and its own thread pool. The hot ops (products,
 * gates, slot bookkeeping) are native; everything else is inherited from the reference backend.
 * Arguments are checked here, with the reference backend's messages, before each native call; the
 * addon re-checks sizes and indices so that a bad call throws and never touches memory outside a buffer.
 */
import { activationCode } from "../activation-codes.js";
import { attentionDims } from "../attention-dims.js";
import type { AttentionSpec, ExpertsForwardArgs, GateSpec, RopeSpec, SortedSlots } from "../backend.js";
import { shapeString, type Tensor } from "../../tensor.js";
import { ReferenceBackend } from "../reference/index.js";
import { expectRank, expectShape, floatsOf, hostOf, intsOf } from "../reference/host.js";
import { combineSlotsArgs } from "../reference/elementwise.js";
import { productDims } from "../reference/products.js";
import { loadNative, type NativeAddon } from "./native.js";

export type { NativeAddon } from "./native.js";

export type CpuIsa = "avx512bf16" | "avx512" | "avx2" | "scalar";

/** Activation precision of the products: float32 (default) or bfloat16 (as transformers computes a bf16 model). */
export type CpuCompute = "float32" | "bfloat16";

export interface CpuBackendOptions {
  /** Worker threads of the (process-wide) native pool; default: the machine's hardware threads. */
  threads?: number;
  /** Force an instruction set (testing); default: the best the CPU supports. */
  isa?: CpuIsa;
  /**
   * Activation precision of the products (linear, groupedLinear, gatheredLinear, expertsForward):
   * "float32" (default: weights widened in registers) or "bfloat16": each product's input is rounded to
   * bfloat16 and, with bfloat16 weights, multiplied with bfloat16 dot products (AVX512_BF16 `vdpbf16ps`
   * where the CPU has it, exact-product float32 FMAs elsewhere), accumulated in float32; outputs stay
   * float32. float32 / float16 weights multiply as stored (only the activations are rounded).
   */
  compute?: CpuCompute;
}

function weightCode(op: string, t: Tensor, what: string): number {
  hostOf(t, op, what);
  switch (t.dtype) {
    case "float32":
      if (!(t.storage instanceof Float32Array)) throw new Error(`${op}: float32 ${what} must be stored in a Float32Array`);
      return 0;
    case "bfloat16":
    case "float16":
      if (!(t.storage instanceof Uint16Array)) throw new Error(`${op}: ${t.dtype} ${what} must be stored in a Uint16Array`);
      return t.dtype === "bfloat16" ? 1 : 2;
    default:
      throw new Error(`${op}: ${what} must be a float tensor, got ${t.dtype}`);
  }
}

function biasArgs(op: string, bias: Tensor | undefined, shape: number[]): [Float32Array | Uint16Array | null, number] {
  if (!bias) return [null, 0];
  expectShape(bias, shape, op, "bias");
  const code = weightCode(op, bias, "bias");
  return [bias.storage as Float32Array | Uint16Array, code];
}

export class CpuBackend extends ReferenceBackend {
  override readonly name: string = "cpu";
  readonly native: NativeAddon;
  /** Activation precision of the products (see CpuBackendOptions.compute). */
  compute: CpuCompute;

  constructor(opts: CpuBackendOptions = {}) {
    super();
    this.native = loadNative();
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

  override linear(x: Tensor, w: Tensor, opts: { bias?: Tensor; expert?: number } = {}): Tensor {
    const op = "linear";
    const stacked = opts.expert !== undefined;
    const [m, n, k] = productDims(op, x, w, stacked);
    const wdt = weightCode(op, w, "weight");
    let wOff = 0;
    let bOff = 0;
    let bias: [Float32Array | Uint16Array | null, number];
    if (stacked) {
      const e = w.shape[0]!;
      const ex = opts.expert!;
      if (!Number.isInteger(ex) || ex < 0 || ex >= e) throw new Error(`${op}: expert ${ex} outside [0, ${e})`);
      bias = biasArgs(op, opts.bias, [e, n]);
      wOff = ex * n * k;
      bOff = ex * n;
    } else {
      bias = biasArgs(op, opts.bias, [n]);
    }
    const xs = floatsOf(x, op, "input");
    const out = new Float32Array(m * n);
    this.native.linear(xs, m, k, w.storage as Float32Array | Uint16Array, wdt, wOff, n, bias[0], bias[1], bOff, out, this.computeCode);
    return this.make(out, [...x.shape.slice(0, -1), n]);
  }

  override groupedLinear(x: Tensor, w: Tensor, offsets: Tensor, opts: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const op = "groupedLinear";
    expectRank(x, 2, op, "input");
    const [rows, n, k] = productDims(op, x, w, true);
    const wdt = weightCode(op, w, "weight");
    const e = w.shape[0]!;
    const offs = intsOf(offsets, op, "offsets");
    if (offs.length !== e + 1) throw new Error(`${op}: offsets must have ${e + 1} entries for ${e} experts, got ${offs.length}`);
    const rpi = opts.rowsPerInput ?? 1;
    if (!Number.isInteger(rpi) || rpi < 1) throw new Error(`${op}: rowsPerInput must be a positive integer`);
    const idx = opts.rowIndex ? intsOf(opts.rowIndex, op, "rowIndex") : null;
    const s = idx ? idx.length : rows;
    if (offs[0] !== 0 || offs[e] !== s) throw new Error(`${op}: offsets must run from 0 to ${s}, got ${offs[0]}..${offs[e]}`);
    for (let i = 0; i < e; i++) if (offs[i + 1]! < offs[i]!) throw new Error(`${op}: offsets must be non-decreasing (offsets[${i + 1}] < offsets[${i}])`);
    if (idx) {
      const lim = rows * rpi;
      for (let i = 0; i < idx.length; i++) if (idx[i]! < 0 || idx[i]! >= lim) throw new Error(`${op}: rowIndex ${idx[i]} outside [0, ${lim})`);
    }
    const [b, bdt] = biasArgs(op, opts.bias, [e, n]);
    const xs = floatsOf(x, op, "input");
    const out = new Float32Array(s * n);
    this.native.groupedLinear(xs, rows, k, w.storage as Float32Array | Uint16Array, wdt, e, n, offs, idx, rpi, b, bdt, out, this.computeCode);
    return this.make(out, [s, n]);
  }

  override gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, opts: { bias?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const op = "gatheredLinear";
    expectRank(x, 2, op, "input");
    const [rows, n, k] = productDims(op, x, w, true);
    const wdt = weightCode(op, w, "weight");
    const e = w.shape[0]!;
    const id = intsOf(ids, op, "ids");
    const rpi = opts.rowsPerInput ?? 1;
    if (!Number.isInteger(rpi) || rpi < 1) throw new Error(`${op}: rowsPerInput must be a positive integer`);
    if (id.length !== rows * rpi) throw new Error(`${op}: ${id.length} ids for ${rows} input rows × ${rpi} slots (expected ${rows * rpi})`);
    for (let s = 0; s < id.length; s++) if (id[s]! < 0 || id[s]! >= e) throw new Error(`${op}: expert id ${id[s]} at slot ${s} outside [0, ${e})`);
    const [b, bdt] = biasArgs(op, opts.bias, [e, n]);
    const xs = floatsOf(x, op, "input");
    const out = new Float32Array(id.length * n);
    this.native.gatheredLinear(xs, rows, k, w.storage as Float32Array | Uint16Array, wdt, e, n, id, rpi, b, bdt, out, this.computeCode);
    return this.make(out, [id.length, n]);
  }

  /**
   * The experts layer in one native call: slots counting-sorted by expert; gate_up over all (expert,
   * tile) pairs at once with the gated activation in its epilogue; down with the routing weight in its
   * epilogue; the slot sum in slot order. Segments of ≤ 8 rows stream the weights in place (GEMV), larger
   * ones use packed panels.
   */
  expertsForward(args: ExpertsForwardArgs): Tensor {
    const op = "expertsForward";
    const { hidden, topkIndex, topkWeights, projection, down, gate } = args;
    expectRank(hidden, 2, op, "hidden");
    expectRank(topkIndex, 2, op, "topkIndex");
    expectRank(projection, 3, op, "projection");
    expectRank(down, 3, op, "down");
    const [t, h] = hidden.shape as [number, number];
    const k = topkIndex.shape[1]!;
    expectShape(topkIndex, [t, k], op, "topkIndex");
    expectShape(topkWeights, [t, k], op, "topkWeights");
    const [e, wRows] = projection.shape as [number, number, number];
    const i = down.shape[2]!;
    const kind = gate.kind === "concatenated" ? 0 : gate.kind === "interleaved" ? 1 : gate.kind === "none" ? 2 : -1;
    if (kind < 0) throw new Error(`${op}: unknown gate kind '${(gate as { kind: string }).kind}'`);
    const act = activationCode(gate.act, op);
    expectShape(projection, [e, kind === 2 ? i : 2 * i, h], op, "projection");
    expectShape(down, [e, h, i], op, "down");
    const gdt = weightCode(op, projection, "projection");
    const ddt = weightCode(op, down, "down");
    const [gb, gbdt] = biasArgs(op, args.projectionBias, [e, wRows]);
    const [db, dbdt] = biasArgs(op, args.downBias, [e, h]);
    const ids = intsOf(topkIndex, op, "topkIndex");
    for (let s = 0; s < ids.length; s++) if (ids[s]! < 0 || ids[s]! >= e) throw new Error(`${op}: expert id ${ids[s]} at slot ${s} outside [0, ${e})`);
    const clamp = gate.kind === "interleaved" ? gate.clampedSwiglu : undefined;
    if (clamp && (!Number.isFinite(clamp.alpha) || Number.isNaN(clamp.limit))) throw new Error(`${op}: clampedSwiglu needs a finite alpha and a limit`);
    const xs = floatsOf(hidden, op, "hidden");
    const ws = floatsOf(topkWeights, op, "topkWeights");
    const out = new Float32Array(t * h);
    this.native.expertsForward(
      xs, t, h, ids, ws, k,
      projection.storage as Float32Array | Uint16Array, gdt, e, wRows,
      down.storage as Float32Array | Uint16Array, ddt, i,
      gb, gbdt, db, dbdt,
      kind, act, clamp ? 1 : 0, clamp?.alpha ?? 0, clamp?.limit ?? 0,
      this.computeCode, out,
    );
    return this.make(out, [t, h]);
  }

  override gate(p: Tensor, spec: GateSpec): Tensor {
    const op = "gate";
    expectRank(p, 2, op, "projection");
    const [s, width] = p.shape as [number, number];
    const act = activationCode(spec.act, op);
    const kind = spec.kind === "concatenated" ? 0 : spec.kind === "interleaved" ? 1 : spec.kind === "none" ? 2 : -1;
    if (kind < 0) throw new Error(`${op}: unknown gate kind '${(spec as { kind: string }).kind}'`);
    if (kind !== 2 && width % 2 !== 0) throw new Error(`${op}: a gated projection needs an even width, got ${shapeString(p.shape)}`);
    const clamp = spec.kind === "interleaved" ? spec.clampedSwiglu : undefined;
    if (clamp && (!Number.isFinite(clamp.alpha) || Number.isNaN(clamp.limit))) throw new Error(`${op}: clampedSwiglu needs a finite alpha and a limit`);
    const ps = floatsOf(p, op, "projection");
    const inter = kind === 2 ? width : width / 2;
    const out = new Float32Array(s * inter);
    this.native.gate(ps, s, width, kind, act, clamp ? 1 : 0, clamp?.alpha ?? 0, clamp?.limit ?? 0, out);
    return this.make(out, [s, inter]);
  }

  override sortByExpert(ids: Tensor, numExperts: number): SortedSlots {
    const op = "sortByExpert";
    const id = intsOf(ids, op, "ids");
    if (!Number.isInteger(numExperts) || numExperts < 1) throw new Error(`${op}: numExperts must be a positive integer`);
    for (let s = 0; s < id.length; s++) {
      if (id[s]! < 0 || id[s]! >= numExperts) throw new Error(`${op}: expert id ${id[s]} at slot ${s} outside [0, ${numExperts})`);
    }
    const order = new Int32Array(id.length);
    const position = new Int32Array(id.length);
    const offsets = new Int32Array(numExperts + 1);
    this.native.sortByExpert(id, numExperts, order, position, offsets);
    return {
      order: this.make(order, [order.length], "int32"),
      position: this.make(position, [position.length], "int32"),
      offsets: this.make(offsets, [numExperts + 1], "int32"),
    };
  }

  override combineSlots(y: Tensor, weights: Tensor, slotRow?: Tensor): Tensor {
    const { rows, h, t, k, ys, ws, map } = combineSlotsArgs(y, weights, slotRow);
    const out = new Float32Array(t * h);
    this.native.combineSlots(ys, rows, h, ws, t, k, map ?? null, out);
    return this.make(out, [t, h]);
  }

  override gatherRows(x: Tensor, rows: Tensor): Tensor {
    const op = "gatherRows";
    expectRank(x, 2, op, "x");
    const [r, h] = x.shape as [number, number];
    const idx = intsOf(rows, op, "rows");
    for (let i = 0; i < idx.length; i++) if (idx[i]! < 0 || idx[i]! >= r) throw new Error(`${op}: row ${idx[i]} outside [0, ${r})`);
    const xs = floatsOf(x, op, "x");
    const out = new Float32Array(idx.length * h);
    this.native.gatherRows(xs, r, h, idx, out);
    return this.make(out, [idx.length, h]);
  }

  override accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
    const op = "accumulateRows";
    hostOf(out, op, "out");
    if (out.dtype !== "float32") throw new Error(`${op}: out must be float32, got ${out.dtype}`);
    expectRank(out, 2, op, "out");
    expectRank(y, 2, op, "y");
    const [t, h] = out.shape as [number, number];
    if (y.shape[1] !== h) throw new Error(`${op}: y ${shapeString(y.shape)} does not match out ${shapeString(out.shape)}`);
    const idx = intsOf(rows, op, "rows");
    const ws = floatsOf(weights, op, "weights");
    if (idx.length !== y.shape[0] || ws.length !== idx.length) throw new Error(`${op}: rows and weights need ${y.shape[0]} entries`);
    for (let i = 0; i < idx.length; i++) if (idx[i]! < 0 || idx[i]! >= t) throw new Error(`${op}: row ${idx[i]} outside [0, ${t})`);
    const ys = floatsOf(y, op, "y");
    this.native.accumulateRows(out.storage as Float32Array, t, h, ys, idx, ws);
  }

  // ---- model layers (float32 math; the reference computes in float64) ----------------------------

  override embedding(table: Tensor, ids: Tensor): Tensor {
    const op = "embedding";
    expectRank(table, 2, op, "table");
    const [v, h] = table.shape as [number, number];
    const dt = weightCode(op, table, "table");
    const idx = intsOf(ids, op, "ids");
    for (let i = 0; i < idx.length; i++) {
      if (idx[i]! < 0 || idx[i]! >= v) throw new Error(`${op}: token id ${idx[i]} at position ${i} is outside the vocabulary [0, ${v})`);
    }
    const out = new Float32Array(idx.length * h);
    this.native.embedding(table.storage as Float32Array | Uint16Array, dt, v, h, idx, out);
    return this.make(out, [...ids.shape, h]);
  }

  override rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
    const op = "rmsNorm";
    if (x.rank < 1) return super.rmsNorm(x, weight, eps);
    const d = x.shape[x.rank - 1]!;
    const w = lastDimVector(op, weight, d, "weight");
    const xs = floatsOf(x, op, "x");
    const out = new Float32Array(xs.length);
    if (d > 0) this.native.rowNorm(0, xs, xs.length / d, d, w ?? null, null, eps, out);
    return this.make(out, x.shape);
  }

  override layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor {
    const op = "layerNorm";
    if (x.rank < 1) return super.layerNorm(x, weight, bias, eps);
    const d = x.shape[x.rank - 1]!;
    const w = lastDimVector(op, weight, d, "weight")!;
    const b = lastDimVector(op, bias, d, "bias");
    const xs = floatsOf(x, op, "x");
    const out = new Float32Array(xs.length);
    if (d > 0) this.native.rowNorm(1, xs, xs.length / d, d, w, b ?? null, eps, out);
    return this.make(out, x.shape);
  }

  override softmax(x: Tensor): Tensor {
    if (x.rank < 1 || x.size === 0) return super.softmax(x);
    const d = x.shape[x.rank - 1]!;
    const xs = floatsOf(x, "softmax", "x");
    const out = new Float32Array(xs.length);
    this.native.rowNorm(2, xs, xs.length / d, d, null, null, 0, out);
    return this.make(out, x.shape);
  }

  override rope(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Tensor {
    const op = "rope";
    if (x.rank < 3) throw new Error(`${op}: x must be [..., T, heads, D], got ${shapeString(x.shape)}`);
    const d = x.shape[x.rank - 1]!;
    const heads = x.shape[x.rank - 2]!;
    if (heads * d === 0) return super.rope(x, cos, sin, spec);
    const t = x.size / (heads * d);
    const r = spec.rotaryDim ?? d;
    if (!Number.isInteger(r) || r < 2 || r % 2 !== 0 || r > d) throw new Error(`${op}: rotaryDim ${r} must be even and in [2, ${d}]`);
    if (spec.style !== "halfSplit" && spec.style !== "interleaved") throw new Error(`${op}: unknown rotary style '${spec.style as string}'`);
    const half = r / 2;
    if (cos.size !== t * half || sin.size !== t * half) {
      throw new Error(`${op}: cos ${shapeString(cos.shape)} / sin ${shapeString(sin.shape)} must hold [${t}, ${half}] values for x ${shapeString(x.shape)}`);
    }
    const xs = floatsOf(x, op, "x");
    const out = new Float32Array(xs.length);
    this.native.rope(xs, t, heads, d, floatsOf(cos, op, "cos"), floatsOf(sin, op, "sin"), half, spec.style === "interleaved" ? 1 : 0, out);
    return this.make(out, x.shape);
  }

  override attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): Tensor {
    const op = "attention";
    const { b, sq, hq, dk, skv, hkv, dv, offset, causal, slidingWindow: window } = attentionDims(q, k, v, spec);
    if (typeof spec.scale !== "number") throw new Error(`${op}: scale must be a number`);
    const mask = spec.keyMask ? intsOf(spec.keyMask, op, "keyMask") : null;
    const sinks = spec.sinks ? floatsOf(spec.sinks, op, "sinks") : null;
    // (offset + i) − j < W for integers ⇔ (offset + i) − j < ⌈W⌉; a window past every key is no window.
    const w = window === undefined || Math.ceil(window) > skv ? 0 : Math.ceil(window);
    const out = new Float32Array(b * sq * hq * dv);
    this.native.attention(
      floatsOf(q, op, "q"), floatsOf(k, op, "k"), floatsOf(v, op, "v"),
      b, sq, skv, hq, hkv, dk, dv, spec.scale, causal ? 1 : 0, offset, w, mask, sinks, out,
    );
    return this.make(out, [b, sq, hq, dv]);
  }
}

function lastDimVector(op: string, t: Tensor | undefined, d: number, what: string): Float32Array | undefined {
  if (!t) return undefined;
  if (t.size !== d) throw new Error(`${op}: ${what} ${shapeString(t.shape)} must have ${d} entries (the last dim of x)`);
  return floatsOf(t, op, what);
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
