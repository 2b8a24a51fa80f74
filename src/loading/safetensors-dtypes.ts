/**
 * safetensors dtypes and what a loader may expect of a key. A reader states what it expects ("float"
 * for weights, "int" for index tensors, raw byte kinds for quantized blocks and scales) and a tensor
 * stored in any other dtype is refused by name instead of being converted numerically.
 */
import { briefName } from "./brief.js";

/** Bytes per element of every dtype the safetensors format defines with whole bytes per element. */
export const STORED_DTYPES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  BF16: 2,
  F16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
};

export function isStoredDType(name: unknown): name is string {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(STORED_DTYPES, name);
}

/** What a loader expects of a tensor it reads as numbers (`tensor()`). */
export type NumericExpectation = "float" | "int";
/** What a loader expects of a tensor it reads as raw bytes (`bytes()`). */
export type RawExpectation = "u8-blocks" | "e8m0-scales" | "fp8";
export type TensorExpectation = NumericExpectation | RawExpectation;

/** The stored dtypes each expectation accepts. */
export const EXPECTED_STORED: Readonly<Record<TensorExpectation, readonly string[]>> = {
  float: ["F32", "BF16", "F16", "F64"],
  int: ["I32", "I64"],
  "u8-blocks": ["U8"],
  "e8m0-scales": ["U8", "F8_E8M0"],
  fp8: ["F8_E4M3"],
};

/** An F8_E4M3 weight paired with its weight_scale_inv (fp8-checkpoint.ts): read as an fp8_e4m3_b128 weight. */
export const FP8_BLOCK_STORED = "F8_E4M3+SCALE_INV";

/**
 * The block formats moekit computes with, as GGUF tensors (gguf-model/tensors.ts), `moekit quantize` output
 * (moekit-quant-checkpoint.ts) and paired FP8 weights report them: float weights too.
 */
const BLOCK_STORED: readonly string[] = ["Q8_0", "Q4_0", "Q5_0", "Q4_K", "Q6_K", "MXFP4", "FP8_E4M3_B128", FP8_BLOCK_STORED];

const DESCRIBED: Readonly<Record<TensorExpectation, string>> = {
  float: "a float tensor",
  int: "an integer tensor",
  "u8-blocks": "U8 quantized blocks",
  "e8m0-scales": "e8m0 block scales",
  fp8: "an fp8 (e4m3) tensor",
};

export function isExpectation(x: unknown): x is TensorExpectation {
  return typeof x === "string" && Object.prototype.hasOwnProperty.call(EXPECTED_STORED, x);
}

/** Throws unless a tensor stored as `stored` may be read as `expect`. */
export function checkExpected(where: string, name: string, stored: string, expect: TensorExpectation): void {
  if (!isExpectation(expect)) {
    throw new Error(`${where}: unknown expectation ${JSON.stringify(expect)} for ${briefName(name)}: use one of ${Object.keys(EXPECTED_STORED).join(", ")}`);
  }
  const ok = EXPECTED_STORED[expect];
  if (!ok.includes(stored) && !(expect === "float" && BLOCK_STORED.includes(stored))) {
    throw new Error(`${where}: tensor ${briefName(name)} has dtype ${stored}, but ${DESCRIBED[expect]} (${ok.join(" or ")}) is expected here`);
  }
}
