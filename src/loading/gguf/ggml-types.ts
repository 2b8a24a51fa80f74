/**
 * ggml tensor types as GGUF files store them (ggml.h `enum ggml_type`; block sizes as gguf-py's
 * GGML_QUANT_SIZES), with the moekit format name each one reads as. Every type ggml defines is listed so
 * a file's sizes and offsets can be validated even for tensors moekit cannot compute with; `moekit` is
 * null for those, and reading one is an error that names the type.
 *
 * The moekit names of the block formats (q8_0, q4_0, q5_0, q4_k, q6_k, mxfp4) are those of
 * src/formats/table.ts; the block layouts there and here are the same bytes (ggml's structs).
 */

export interface GgmlType {
  /** ggml_type id as stored in a tensor info */
  readonly id: number;
  /** ggml's name (ggml_type_name) */
  readonly ggml: string;
  /** values per block (1 for element types) */
  readonly blockElems: number;
  /** bytes per block */
  readonly blockBytes: number;
  /** the moekit format this type reads as, or null where moekit has none */
  readonly moekit: string | null;
}

const QK_K = 256;

const TYPES: readonly GgmlType[] = [
  { id: 0, ggml: "f32", blockElems: 1, blockBytes: 4, moekit: "float32" },
  { id: 1, ggml: "f16", blockElems: 1, blockBytes: 2, moekit: "float16" },
  { id: 2, ggml: "q4_0", blockElems: 32, blockBytes: 2 + 16, moekit: "q4_0" },
  { id: 3, ggml: "q4_1", blockElems: 32, blockBytes: 2 + 2 + 16, moekit: null },
  { id: 6, ggml: "q5_0", blockElems: 32, blockBytes: 2 + 4 + 16, moekit: "q5_0" },
  { id: 7, ggml: "q5_1", blockElems: 32, blockBytes: 2 + 2 + 4 + 16, moekit: null },
  { id: 8, ggml: "q8_0", blockElems: 32, blockBytes: 2 + 32, moekit: "q8_0" },
  { id: 9, ggml: "q8_1", blockElems: 32, blockBytes: 4 + 4 + 32, moekit: null },
  { id: 10, ggml: "q2_K", blockElems: QK_K, blockBytes: 2 + 2 + QK_K / 16 + QK_K / 4, moekit: null },
  { id: 11, ggml: "q3_K", blockElems: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 8 + 12, moekit: null },
  { id: 12, ggml: "q4_K", blockElems: QK_K, blockBytes: 2 + 2 + QK_K / 2 + 12, moekit: "q4_k" },
  { id: 13, ggml: "q5_K", blockElems: QK_K, blockBytes: 2 + 2 + QK_K / 2 + QK_K / 8 + 12, moekit: null },
  { id: 14, ggml: "q6_K", blockElems: QK_K, blockBytes: 2 + QK_K / 2 + QK_K / 4 + QK_K / 16, moekit: "q6_k" },
  { id: 15, ggml: "q8_K", blockElems: QK_K, blockBytes: 4 + QK_K + QK_K / 8, moekit: null },
  { id: 16, ggml: "iq2_xxs", blockElems: QK_K, blockBytes: 2 + QK_K / 4, moekit: null },
  { id: 17, ggml: "iq2_xs", blockElems: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 32, moekit: null },
  { id: 18, ggml: "iq3_xxs", blockElems: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 8, moekit: null },
  { id: 19, ggml: "iq1_s", blockElems: QK_K, blockBytes: 2 + QK_K / 8 + QK_K / 16, moekit: null },
  { id: 20, ggml: "iq4_nl", blockElems: 32, blockBytes: 2 + 16, moekit: null },
  { id: 21, ggml: "iq3_s", blockElems: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4, moekit: null },
  { id: 22, ggml: "iq2_s", blockElems: QK_K, blockBytes: 2 + QK_K / 4 + QK_K / 16, moekit: null },
  { id: 23, ggml: "iq4_xs", blockElems: QK_K, blockBytes: 2 + 2 + QK_K / 2 + QK_K / 64, moekit: null },
  { id: 24, ggml: "i8", blockElems: 1, blockBytes: 1, moekit: null },
  { id: 25, ggml: "i16", blockElems: 1, blockBytes: 2, moekit: null },
  { id: 26, ggml: "i32", blockElems: 1, blockBytes: 4, moekit: "int32" },
  { id: 27, ggml: "i64", blockElems: 1, blockBytes: 8, moekit: null },
  { id: 28, ggml: "f64", blockElems: 1, blockBytes: 8, moekit: null },
  { id: 29, ggml: "iq1_m", blockElems: QK_K, blockBytes: QK_K / 8 + QK_K / 16 + QK_K / 32, moekit: null },
  { id: 30, ggml: "bf16", blockElems: 1, blockBytes: 2, moekit: "bfloat16" },
  { id: 34, ggml: "tq1_0", blockElems: QK_K, blockBytes: 2 + 4 * 13, moekit: null },
  { id: 35, ggml: "tq2_0", blockElems: QK_K, blockBytes: 2 + 64, moekit: null },
  { id: 39, ggml: "mxfp4", blockElems: 32, blockBytes: 1 + 16, moekit: "mxfp4" },
  { id: 40, ggml: "nvfp4", blockElems: 64, blockBytes: 4 + 32, moekit: null },
  { id: 41, ggml: "q1_0", blockElems: 128, blockBytes: 2 + 16, moekit: null },
  { id: 42, ggml: "q2_0", blockElems: 64, blockBytes: 2 + 16, moekit: null },
];

const BY_ID = new Map(TYPES.map((t) => [t.id, t]));
const BY_MOEKIT = new Map(TYPES.filter((t) => t.moekit !== null).map((t) => [t.moekit!, t]));

/** The ggml type with this id, or undefined for an id ggml does not define. */
export function ggmlType(id: number): GgmlType | undefined {
  return BY_ID.get(id);
}

/** The ggml type a moekit format is written as (float32 → f32, q4_k → q4_K, ...). */
export function ggmlTypeOf(moekitName: string): GgmlType {
  const t = BY_MOEKIT.get(moekitName);
  if (!t) throw new Error(`GGUF has no tensor type for moekit format '${moekitName}' (known: ${[...BY_MOEKIT.keys()].join(", ")})`);
  return t;
}

/** Formats moekit reads from GGUF tensors. */
export function moekitGgufFormats(): string[] {
  return [...BY_MOEKIT.keys()];
}
