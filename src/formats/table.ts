/**
 * The weight formats: one row per format, read by loading, the `auto` cost model, the backends and the
 * benchmark. `code` is the one number the native kernels (native/src/formats.h) and the WGSL kernels
 * switch on; test/formats checks that the addon agrees.
 *
 * Element formats hold one value per element in a typed array. Block formats hold each row of a weight
 * as consecutive blocks of `blockElems` values in `blockBytes` bytes (scales inside the block, as ggml
 * lays them out) in a Uint8Array; a row's length must be a multiple of `blockElems`.
 * Widening a format to float32 is one function per backend: src/formats/widen.ts (host, the oracle),
 * native/src/formats.h (cpu), the WGSL of src/backends/webgpu/kernels.
 */

/** Where a format's host values live. */
export type StorageKind = "f32" | "u16" | "i32" | "u8";

export interface FormatInfo {
  readonly name: string;
  /** Shared with the native and WGSL kernels. */
  readonly code: number;
  readonly kind: "element" | "block";
  /** Values per block (1 for element formats). */
  readonly blockElems: number;
  /** Bytes per block (bytes per value for element formats). */
  readonly blockBytes: number;
  readonly storage: StorageKind;
  /** Holds float values (weights, activations); int32 holds indices. */
  readonly float: boolean;
  readonly description: string;
}

/** Every format moekit knows, in code order. */
export const FORMATS = {
  float32: { name: "float32", code: 0, kind: "element", blockElems: 1, blockBytes: 4, storage: "f32", float: true, description: "IEEE binary32" },
  bfloat16: { name: "bfloat16", code: 1, kind: "element", blockElems: 1, blockBytes: 2, storage: "u16", float: true, description: "bfloat16 bits (the top half of a binary32)" },
  float16: { name: "float16", code: 2, kind: "element", blockElems: 1, blockBytes: 2, storage: "u16", float: true, description: "IEEE binary16 bits" },
  int32: { name: "int32", code: 3, kind: "element", blockElems: 1, blockBytes: 4, storage: "i32", float: false, description: "32-bit signed integers (indices, masks)" },
  // Block formats, bit-compatible with ggml's block_* structs (ggml-common.h); host codecs in src/formats/quant/.
  q8_0: { name: "q8_0", code: 4, kind: "block", blockElems: 32, blockBytes: 34, storage: "u8", float: true, description: "ggml Q8_0: fp16 scale + 32 int8" },
  q4_0: { name: "q4_0", code: 5, kind: "block", blockElems: 32, blockBytes: 18, storage: "u8", float: true, description: "ggml Q4_0: fp16 scale + 32 4-bit values offset by 8 (element j low nibble, j+16 high)" },
  q5_0: { name: "q5_0", code: 6, kind: "block", blockElems: 32, blockBytes: 22, storage: "u8", float: true, description: "ggml Q5_0: fp16 scale + 32 high bits + 32 low nibbles, values offset by 16" },
  q4_k: { name: "q4_k", code: 7, kind: "block", blockElems: 256, blockBytes: 144, storage: "u8", float: true, description: "ggml Q4_K: fp16 d and dmin, 8 6-bit scales and mins, 256 4-bit values" },
  q6_k: { name: "q6_k", code: 8, kind: "block", blockElems: 256, blockBytes: 210, storage: "u8", float: true, description: "ggml Q6_K: 256 6-bit values offset by 32, 16 int8 scales, fp16 d" },
  mxfp4: { name: "mxfp4", code: 9, kind: "block", blockElems: 32, blockBytes: 17, storage: "u8", float: true, description: "ggml MXFP4: e8m0 scale + 32 FP4 e2m1 values (element j low nibble, j+16 high)" },
  fp8_e4m3_b128: {
    name: "fp8_e4m3_b128",
    code: 10,
    kind: "block",
    blockElems: 128,
    blockBytes: 132,
    storage: "u8",
    float: true,
    description: "float32 scale + 128 FP8 e4m3 values (a 128x128-tile weight_scale_inv repeated in its rows)",
  },
} as const satisfies Record<string, FormatInfo>;

/** A tensor's element type: an element format or a block format of FORMATS. */
export type DType = keyof typeof FORMATS;

/** The formats weight matrices may be stored in. */
export type WeightFormat = Exclude<DType, "int32">;

/** Host storage of each storage kind. */
export type HostStorage = Float32Array | Uint16Array | Int32Array | Uint8Array;

const TABLE: Readonly<Record<string, FormatInfo>> = FORMATS;

export function isDType(name: unknown): name is DType {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(TABLE, name);
}

/** The row of `dtype`; an unknown name is an error listing the known ones. */
export function formatInfo(dtype: string): FormatInfo {
  if (!isDType(dtype)) throw new Error(`unknown dtype ${JSON.stringify(dtype)}: known are ${Object.keys(TABLE).join(", ")}`);
  return TABLE[dtype]!;
}

export function isBlockFormat(dtype: DType): boolean {
  return formatInfo(dtype).kind === "block";
}

export function isFloat(dtype: DType): boolean {
  return formatInfo(dtype).float;
}

/** The format with this kernel code. */
export function formatByCode(code: number): FormatInfo {
  const f = Object.values(TABLE).find((r) => r.code === code);
  if (!f) throw new Error(`no format has code ${code}`);
  return f;
}

const MAX_ELEMENTS = Number.MAX_SAFE_INTEGER;

/** Product of dims, checked: every dim a non-negative integer and the product a safe integer. */
export function checkedNumel(shape: readonly number[], what = "shape"): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${what} [${shape.join(", ")}] has a dim that is not a non-negative integer`);
    if (d !== 0 && n > MAX_ELEMENTS / d) throw new Error(`${what} [${shape.join(", ")}] has more than 2^53 elements`);
    n *= d;
  }
  return n;
}

/** Bytes a tensor of `dtype` and `shape` occupies (block formats: whole blocks per row of the last dim). */
export function storageBytes(dtype: DType, shape: readonly number[]): number {
  const f = formatInfo(dtype);
  const n = checkedNumel(shape);
  if (f.kind === "block") {
    const last = shape.length === 0 ? 1 : shape[shape.length - 1]!;
    if (last % f.blockElems !== 0) throw new Error(`${dtype} stores rows in blocks of ${f.blockElems} values; a last dim of ${last} is not a multiple`);
  }
  const blocks = n / f.blockElems;
  if (blocks > MAX_ELEMENTS / f.blockBytes) throw new Error(`${dtype} [${shape.join(", ")}] needs more than 2^53 bytes`);
  return blocks * f.blockBytes;
}

/** Length of the typed array that holds a tensor of `dtype` and `shape`. */
export function storageLength(dtype: DType, shape: readonly number[]): number {
  const f = formatInfo(dtype);
  const bytes = storageBytes(dtype, shape);
  return f.storage === "u8" ? bytes : bytes / (f.storage === "u16" ? 2 : 4);
}

/** Bytes of one row of `cols` values (the last dim) in `dtype`. */
export function rowBytes(dtype: DType, cols: number): number {
  return storageBytes(dtype, [cols]);
}

const CTORS = { f32: Float32Array, u16: Uint16Array, i32: Int32Array, u8: Uint8Array } as const;

/** Whether `s` is the typed array kind `dtype` is stored in. */
export function storageMatches(dtype: DType, s: unknown): s is HostStorage {
  return s instanceof CTORS[formatInfo(dtype).storage];
}

/** A zeroed host storage for a tensor of `dtype` and `shape`. */
export function allocateStorage(dtype: DType, shape: readonly number[]): HostStorage {
  return new CTORS[formatInfo(dtype).storage](storageLength(dtype, shape));
}

/** The host storage of `dtype` over `bytes`: its typed-array kind viewing the same memory (whole elements). */
export function storageOver(dtype: DType, bytes: Uint8Array): HostStorage {
  const Ctor = CTORS[formatInfo(dtype).storage];
  return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
}

/** The storage kind's typed-array name, for messages. */
export function storageName(dtype: DType): string {
  return CTORS[formatInfo(dtype).storage].name;
}
