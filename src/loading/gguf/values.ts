/**
 * GGUF metadata values (gguf.h `enum gguf_type`): twelve scalar types and arrays of any of them, arrays
 * of arrays included. Values carry their type so a file round-trips exactly: 64-bit integers are
 * bigints, numeric arrays are typed arrays, bool arrays are boolean[].
 */

export const GGUF_TYPE_IDS = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufType = keyof typeof GGUF_TYPE_IDS;
export type GgufNumberType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
export type GgufBigIntType = "uint64" | "int64";
export type GgufScalarType = GgufNumberType | GgufBigIntType | "bool" | "string";

const NAMES: readonly GgufType[] = Object.keys(GGUF_TYPE_IDS) as GgufType[];

/** The GGUF type with this id, or undefined. */
export function ggufTypeName(id: number): GgufType | undefined {
  return NAMES.find((n) => GGUF_TYPE_IDS[n] === id);
}

/** Bytes of one fixed-size scalar (strings and arrays: 0). */
export function ggufScalarBytes(type: GgufType): number {
  switch (type) {
    case "uint8":
    case "int8":
    case "bool":
      return 1;
    case "uint16":
    case "int16":
      return 2;
    case "uint32":
    case "int32":
    case "float32":
      return 4;
    case "uint64":
    case "int64":
    case "float64":
      return 8;
    default:
      return 0;
  }
}

export type GgufArray =
  | { type: "uint8"; values: Uint8Array }
  | { type: "int8"; values: Int8Array }
  | { type: "uint16"; values: Uint16Array }
  | { type: "int16"; values: Int16Array }
  | { type: "uint32"; values: Uint32Array }
  | { type: "int32"; values: Int32Array }
  | { type: "float32"; values: Float32Array }
  | { type: "float64"; values: Float64Array }
  | { type: "uint64"; values: BigUint64Array }
  | { type: "int64"; values: BigInt64Array }
  | { type: "bool"; values: boolean[] }
  | { type: "string"; values: string[] }
  | { type: "array"; values: GgufArray[] };

export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigIntType; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; value: GgufArray };

export type GgufMetadata = Map<string, GgufValue>;

/** A short description of a value's type for error messages: `uint32`, `array of string`. */
export function describeType(v: GgufValue): string {
  if (v.type !== "array") return v.type;
  let a: GgufArray = v.value;
  let depth = 1;
  while (a.type === "array" && a.values.length > 0) {
    a = a.values[0]!;
    depth++;
  }
  return `${"array of ".repeat(depth)}${a.type}`;
}
