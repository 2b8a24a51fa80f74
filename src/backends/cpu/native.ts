/**
 * Lazy loader of the native addon (build/Release/moekit_native.node). Nothing here runs at import
 * time: Node's built-in modules are reached through `process.getBuiltinModule` only when the cpu
 * backend is first constructed, so the package still imports in a browser.
 */

/** The addon's surface. Every function re-checks sizes and indices and throws on a bad argument. */
export interface NativeAddon {
  linear(
    x: Float32Array,
    m: number,
    k: number,
    w: Float32Array | Uint16Array,
    wdt: number,
    wOffset: number,
    n: number,
    bias: Float32Array | Uint16Array | null,
    bdt: number,
    bOffset: number,
    y: Float32Array,
    compute?: number,
  ): void;
  groupedLinear(
    x: Float32Array,
    r: number,
    k: number,
    w: Float32Array | Uint16Array,
    wdt: number,
    e: number,
    n: number,
    offsets: Int32Array,
    rowIndex: Int32Array | null,
    rowsPerInput: number,
    bias: Float32Array | Uint16Array | null,
    bdt: number,
    y: Float32Array,
    compute?: number,
  ): void;
  gatheredLinear(
    x: Float32Array,
    r: number,
    k: number,
    w: Float32Array | Uint16Array,
    wdt: number,
    e: number,
    n: number,
    ids: Int32Array,
    rowsPerInput: number,
    bias: Float32Array | Uint16Array | null,
    bdt: number,
    y: Float32Array,
    compute?: number,
  ): void;
  /** The whole experts layer (sort, gate_up + gate epilogue, down + routing-weight epilogue, slot sum). */
  expertsForward(
    x: Float32Array,
    t: number,
    h: number,
    ids: Int32Array,
    weights: Float32Array,
    k: number,
    gateUp: Float32Array | Uint16Array,
    gdt: number,
    e: number,
    w: number,
    down: Float32Array | Uint16Array,
    ddt: number,
    i: number,
    gateUpBias: Float32Array | Uint16Array | null,
    gbdt: number,
    downBias: Float32Array | Uint16Array | null,
    dbdt: number,
    gateKind: number,
    act: number,
    clamp: number,
    alpha: number,
    limit: number,
    compute: number,
    out: Float32Array,
  ): void;
  /** Whether the current instruction set has bfloat16 dot-product kernels (AVX512_BF16). */
  hasBf16Dot(): boolean;
  gate(p: Float32Array, s: number, width: number, kind: number, act: number, clamp: number, alpha: number, limit: number, out: Float32Array): void;
  combineSlots(y: Float32Array, r: number, h: number, weights: Float32Array, t: number, k: number, slotRow: Int32Array | null, out: Float32Array): void;
  sortByExpert(ids: Int32Array, numExperts: number, order: Int32Array, position: Int32Array, offsets: Int32Array): void;
  gatherRows(x: Float32Array, r: number, h: number, rows: Int32Array, out: Float32Array): void;
  accumulateRows(out: Float32Array, t: number, h: number, y: Float32Array, rows: Int32Array, weights: Float32Array): void;
  /** XOR of the buffer's 32-bit words, read by every thread: a memory read-bandwidth probe. */
  readProbe(buffer: Float32Array | Uint16Array | Int32Array): number;
  setThreads(n: number): number;
  getThreads(): number;
  isa(): string;
  setIsa(name: string): boolean;
  supportedIsas(): string[];
  /** Row counts up to which a job reads its weights in place (GEMV): plain products, fused float32, fused bf16. */
  setGemvMaxRows(rows: number, fusedRows?: number, bf16Rows?: number): void;
  /** Scaled dot-product attention (see AttentionSpec); window 0 = none; q/k/v/out row-major [B, S, H, D]. */
  attention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    b: number,
    sq: number,
    skv: number,
    hq: number,
    hkv: number,
    dk: number,
    dv: number,
    scale: number,
    causal: number,
    queryOffset: number,
    window: number,
    keyMask: Int32Array | null,
    sinks: Float32Array | null,
    out: Float32Array,
  ): void;
  /** Row-wise op over x [rows, D]: kind 0 rmsNorm (weight optional), 1 layerNorm (weight required, bias optional), 2 softmax. */
  rowNorm(kind: number, x: Float32Array, rows: number, d: number, weight: Float32Array | null, bias: Float32Array | null, eps: number, out: Float32Array): void;
  /** Rotary embedding of x [T, heads, D] with cos/sin [T, half]; interleaved 0 = halfSplit pairs. */
  rope(x: Float32Array, t: number, heads: number, d: number, cos: Float32Array, sin: Float32Array, half: number, interleaved: number, out: Float32Array): void;
  /** Rows of an embedding table [V, H] (dtype code 0 f32, 1 bf16, 2 f16) widened to float32. */
  embedding(table: Float32Array | Uint16Array, dt: number, v: number, h: number, ids: Int32Array, out: Float32Array): void;
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
  return cached;
}
