/**
 * Lazy loader of the native addon (build/Release/moekit_native.node). Nothing here runs at import
 * time: Node's built-in modules are reached through `process.getBuiltinModule` only when the cpu
 * backend is first constructed, so the package still imports in a browser.
 */
import { setAddressProbe, setHugePager } from "../../formats/aligned.js";

/** A row segment of a weight: `rows` whole rows of `data` (any typed array, read as bytes) from byte `byteOffset`. */
export interface NativeSegment {
  data: ArrayBufferView;
  byteOffset: number;
  rows: number;
  /** Bytes from one row's start to the next; absent: the row size (weights only, not keys / values). */
  rowStride?: number;
}

/**
 * A weight as the addon reads it: a [rows, cols] matrix (a tensor's leading dims flattened) of format `format`
 * (src/formats/table.ts FORMATS[dtype].code) whose rows lie in `segments`, in order (one for a contiguous tensor).
 */
export interface NativeWeight {
  format: number;
  rows: number;
  cols: number;
  segments: NativeSegment[];
}

declare const weightHandleBrand: unique symbol;
/** A weight descriptor the addon parsed once (weightHandle): the products take it in the descriptor's place. */
export interface WeightHandle {
  readonly [weightHandleBrand]: true;
}

/** A weight argument of the products: a descriptor, or a handle of one. */
export type WeightArg = NativeWeight | WeightHandle;

/** Read-only file mappings (native/src/mmap/addon_mmap.cc); `handle` is an opaque external value. */
export interface NativeMmap {
  /** Maps the whole file; throws naming the path when it cannot. */
  open(path: string): unknown;
  size(handle: unknown): number;
  /** An ArrayBuffer over bytes [offset, offset + length) of the mapping, read in place. */
  view(handle: unknown, offset: number, length: number): ArrayBuffer;
  advise(handle: unknown, offset: number, length: number, kind: "willneed" | "dontneed" | "evict"): boolean;
  /** Bytes of the range's pages in the page cache (mincore, whole pages). */
  resident(handle: unknown, offset: number, length: number): number;
  /** Detaches `views` (every view of the mapping still reachable), then unmaps the file; the handle refuses later calls. */
  unmap(handle: unknown, views: ArrayBuffer[]): void;
}

/** Activation precision of the products: 0 float32, 1 bfloat16. */
type Compute = { compute?: number };

/**
 * The addon's surface: each op takes one descriptor object. Every function re-checks sizes (with checked
 * products) and indices and throws a TypeError / RangeError on a bad argument.
 */
/** The sizes of a native attention call: batch, query and key rows, query and key-value heads, key and value head dims. */
export interface NativeAttnDims {
  b: number;
  sq: number;
  skv: number;
  hq: number;
  hkv: number;
  dk: number;
  dv: number;
}

export interface NativeAddon {
  /**
   * The descriptor parsed once into an opaque handle (its rows' buffers held weakly, and checked on each use:
   * one detached or resized since is refused by name). Throws as the products would on a bad descriptor.
   */
  weightHandle(a: { weight: NativeWeight }): WeightHandle;
  /** y[m, n] = x[m, k] · w[expert]ᵀ (+ bias[expert]); w [experts·n, k], bias [experts, n]. */
  linear(a: { x: Float32Array; m: number; k: number; n: number; w: WeightArg; experts?: number; expert?: number; bias?: WeightArg; y: Float32Array } & Compute): void;
  groupedLinear(
    a: { x: Float32Array; r: number; k: number; n: number; experts: number; w: WeightArg; offsets: Int32Array; rowIndex?: Int32Array; rowsPerInput?: number; bias?: WeightArg; y: Float32Array } & Compute,
  ): void;
  gatheredLinear(
    a: { x: Float32Array; r: number; k: number; n: number; experts: number; w: WeightArg; ids: Int32Array; rowsPerInput?: number; bias?: WeightArg; y: Float32Array } & Compute,
  ): void;
  /** The whole experts layer (sort, gate_up + gate epilogue, down + routing-weight epilogue, slot sum). gateUp [experts·W, h], down [experts·h, inter]. */
  fusedExperts(
    a: {
      x: Float32Array;
      t: number;
      h: number;
      topk: number;
      ids: Int32Array;
      weights: Float32Array;
      experts: number;
      inter: number;
      gateUp: WeightArg;
      down: WeightArg;
      gateUpBias?: WeightArg;
      downBias?: WeightArg;
      gateKind: number;
      act: number;
      clamp?: number;
      alpha?: number;
      limit?: number;
      out: Float32Array;
    } & Compute,
  ): void;
  gate(a: { p: Float32Array; s: number; width: number; kind: number; act: number; clamp?: number; alpha?: number; limit?: number; out: Float32Array }): void;
  combineSlots(a: { y: Float32Array; r: number; h: number; weights: Float32Array; t: number; k: number; slotRow?: Int32Array; out: Float32Array }): void;
  sortByExpert(a: { ids: Int32Array; experts: number; order: Int32Array; position: Int32Array; offsets: Int32Array }): void;
  gatherRows(a: { x: Float32Array; r: number; h: number; rows: Int32Array; out: Float32Array }): void;
  accumulateRows(a: { out: Float32Array; t: number; h: number; y: Float32Array; rows: Int32Array; weights: Float32Array }): void;
  /** Scaled dot-product attention (see AttentionSpec); window 0 = none; q/k/v/out row-major [B, S, H, D]. */
  attention(a: NativeAttnDims & {
    q: Float32Array;
    /** [B·Skv, Hkv·Dk] float32, or a descriptor of float32 / bfloat16 / float16 rows read in place. */
    k: Float32Array | NativeWeight;
    v: Float32Array | NativeWeight;
    scale: number;
    causal: number;
    offset: number;
    window: number;
    keyMask?: Int32Array;
    sinks?: Float32Array;
    out: Float32Array;
  }): void;
  /** Row-wise op over x [rows, d]: kind 0 rmsNorm (weight optional), 1 layerNorm (weight required, bias optional), 2 softmax. */
  rowNorm(a: { kind: number; x: Float32Array; rows: number; d: number; weight?: Float32Array; bias?: Float32Array; eps?: number; out: Float32Array }): void;
  /** Rotary embedding of x [t, heads, d] with cos/sin [t, half]; interleaved 0 = halfSplit pairs. */
  rope(a: { x: Float32Array; t: number; heads: number; d: number; cos: Float32Array; sin: Float32Array; half: number; interleaved: number; out: Float32Array }): void;
  /** Depthwise causal convolution (see CausalConvSpec): x/out [B, S, C], weight [C, Kw], state [B, Kw − 1, C] updated in place; act an activation code. */
  causalConv1d(a: { x: Float32Array; b: number; s: number; c: number; kw: number; weight: Float32Array; bias?: Float32Array; state: Float32Array; tokenMask?: Int32Array; act: number; out: Float32Array }): void;
  /** Gated delta rule (see DeltaRuleSpec), token by token: state [B, H, Dk, Dv] updated in place; perChannel 1: gateA [B, S, H, Dk], gateBias [H·Dk]. */
  gatedDeltaRule(a: {
    q: Float32Array;
    k: Float32Array;
    v: Float32Array;
    beta: Float32Array;
    b: number;
    s: number;
    h: number;
    dk: number;
    dv: number;
    perChannel: number;
    gateA: Float32Array;
    gateScale: Float32Array;
    gateBias: Float32Array;
    state: Float32Array;
    tokenMask?: Int32Array;
    out: Float32Array;
  }): void;
  /** Rows of an embedding table [V, H] (any weight format) widened to float32. */
  embedding(a: { table: WeightArg; ids: Int32Array; out: Float32Array }): void;
  /** The formats the addon knows (native/src/formats.h), to check against src/formats/table.ts. */
  formats(): { name: string; code: number; blockElems: number; blockBytes: number; weight: boolean }[];
  /** Whether the current instruction set has bfloat16 dot-product kernels (AVX512_BF16). */
  hasBf16Dot(): boolean;
  /** XOR of the buffer's 32-bit words, read by every thread: a memory read-bandwidth probe. */
  readProbe(buffer: Float32Array | Uint16Array | Int32Array): number;
  setThreads(n: number): number;
  getThreads(): number;
  isa(): string;
  setIsa(name: string): boolean;
  supportedIsas(): string[];
  /**
   * Row counts up to which a job reads its weights in place (GEMV): plain products, fused float32, fused bf16, and
   * block-format weights (integer dot products on int8-quantized inputs; above it, widened panels into the GEMM), and
   * the same for the block-format jobs the int8 GEMM takes (above it, the int8 GEMM; default: quantRows).
   */
  setGemvMaxRows(rows: number, fusedRows?: number, bf16Rows?: number, quantRows?: number, quantInt8Rows?: number): void;
  /** Turns the fused experts layer's one-run decode schedule on or off (on by default); returns how many calls ran on it. */
  decodePipeline(on?: boolean): number;
  /** The address of the view's first byte modulo 64 (src/formats/aligned.ts); absent in an addon built before it. */
  addressMod64?(view: ArrayBufferView): number;
  /**
   * Puts the whole 2 MiB stretches inside a freshly allocated, all-zero view on transparent huge pages (zeroing them);
   * the bytes so moved, 0 off Linux (src/formats/aligned.ts). Absent in an addon built before it.
   */
  hugePages?(view: ArrayBufferView): number;
  /** malloc_trim(0): the heap's free pages back to the kernel (benchmarks, after loading); true where glibc trimmed some. */
  trimHeap?(): boolean;
  /** out[i] = a[i] + b[i], i < n (split over the pool); absent in an addon built before it. */
  add?(o: { a: Float32Array; b: Float32Array; n: number; out: Float32Array }): void;
  /** dst[at + i] = bfloat16 bits of src[i], i < n (round to nearest even, NaN quiet); absent in an addon built before it. */
  narrowBf16?(o: { src: Float32Array; n: number; dst: Uint16Array; at: number }): void;
  /** out[r] = index of the largest of x[r·n .. (r+1)·n) (ties → lowest, NaN loses, all NaN → 0); absent in an addon built before it. */
  argmax?(o: { x: Float32Array; rows: number; n: number; out: Int32Array }): void;
  /** File mappings; absent in an addon built before them. */
  mmap?: NativeMmap;
}

interface NodeProcessLike {
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
  versions?: { node?: string };
}

let cached: NativeAddon | undefined;

/** The addon, loaded on first use; throws a clear error when it is not built or cannot load. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const proc = (globalThis as { process?: NodeProcessLike }).process;
  if (!proc?.versions?.node) throw new Error("cpu backend: the native addon needs Node.js (use the reference or webgpu backend elsewhere)");
  if (typeof proc.getBuiltinModule !== "function") {
    throw new Error(`cpu backend: needs Node.js >= 20.16 (process.getBuiltinModule), running ${proc.versions.node}`);
  }
  const { createRequire } = proc.getBuiltinModule("node:module") as typeof import("node:module");
  const { fileURLToPath } = proc.getBuiltinModule("node:url") as typeof import("node:url");
  const { existsSync } = proc.getBuiltinModule("node:fs") as typeof import("node:fs");
  // src/backends/cpu/ and dist/backends/cpu/ both sit three levels below the package root.
  const candidates = [
    proc.env?.MOEKIT_NATIVE,
    fileURLToPath(new URL("../../../build/Release/moekit_native.node", import.meta.url)),
    fileURLToPath(new URL("../../../build/Debug/moekit_native.node", import.meta.url)),
  ].filter((p): p is string => typeof p === "string" && p.length > 0);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `cpu backend: the native addon is not built (looked for ${candidates.join(", ")}). ` +
        "Run `npm install` (it builds the addon with node-gyp) or `npm run build:native`.",
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(found) as NativeAddon;
  } catch (e) {
    throw new Error(`cpu backend: could not load the native addon ${found}: ${(e as Error).message}. Rebuild it with \`npm run build:native\`.`);
  }
  const addon = cached;
  if (addon.addressMod64) setAddressProbe((v) => addon.addressMod64!(v));
  if (addon.hugePages) setHugePager((v) => addon.hugePages!(v));
  return cached;
}
