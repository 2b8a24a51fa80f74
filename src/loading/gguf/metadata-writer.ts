/** Writes GGUF metadata values (the inverse of metadata-reader.ts), checking each value fits its type. */
import type { ByteBuilder } from "./byte-builder.js";
import { GGUF_TYPE_IDS, type GgufArray, type GgufType, type GgufValue } from "./values.js";

const INT_RANGES: Partial<Record<GgufType, [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkScalar(what: string, type: GgufType, value: unknown): void {
  const range = INT_RANGES[type];
  if (range) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw new Error(`${what}: ${String(value)} is not a ${type} (integers ${range[0]}..${range[1]})`);
    }
  } else if (type === "float32" || type === "float64") {
    if (typeof value !== "number") throw new Error(`${what}: ${String(value)} is not a number`);
  } else if (type === "uint64") {
    if (typeof value !== "bigint" || value < 0n || value >= 1n << 64n) throw new Error(`${what}: ${String(value)} is not a uint64 bigint`);
  } else if (type === "int64") {
    if (typeof value !== "bigint" || value < -(1n << 63n) || value >= 1n << 63n) throw new Error(`${what}: ${String(value)} is not an int64 bigint`);
  } else if (type === "bool") {
    if (typeof value !== "boolean") throw new Error(`${what}: ${String(value)} is not a boolean`);
  } else if (type === "string") {
    if (typeof value !== "string") throw new Error(`${what}: ${String(value)} is not a string`);
    if (LONE_SURROGATE.test(value)) throw new Error(`${what}: the string holds a lone UTF-16 surrogate, which UTF-8 cannot encode`);
  }
}

function writeScalar(out: ByteBuilder, type: GgufType, value: unknown): void {
  switch (type) {
    case "uint8":
      return out.u8(value as number);
    case "int8":
      return out.i8(value as number);
    case "uint16":
      return out.u16(value as number);
    case "int16":
      return out.i16(value as number);
    case "uint32":
      return out.u32(value as number);
    case "int32":
      return out.i32(value as number);
    case "float32":
      return out.f32(value as number);
    case "float64":
      return out.f64(value as number);
    case "uint64":
      return out.u64(value as bigint);
    case "int64":
      return out.i64(value as bigint);
    case "bool":
      return out.u8(value ? 1 : 0);
    case "string":
      return out.string(value as string);
    default:
      throw new Error(`not a scalar GGUF type: ${type}`);
  }
}

export function writeValue(out: ByteBuilder, what: string, v: GgufValue): void {
  if (!(v.type in GGUF_TYPE_IDS)) throw new Error(`${what}: unknown GGUF value type '${String(v.type)}'`);
  out.u32(GGUF_TYPE_IDS[v.type]);
  if (v.type === "array") return writeArray(out, what, v.value);
  checkScalar(what, v.type, v.value);
  writeScalar(out, v.type, v.value);
}

function writeArray(out: ByteBuilder, what: string, a: GgufArray): void {
  if (!(a.type in GGUF_TYPE_IDS)) throw new Error(`${what}: unknown GGUF array element type '${String(a.type)}'`);
  out.u32(GGUF_TYPE_IDS[a.type]);
  out.u64(a.values.length);
  if (a.type === "array") {
    a.values.forEach((inner, i) => writeArray(out, `${what}[${i}]`, inner));
    return;
  }
  if (a.type === "uint8" || a.type === "int8") {
    out.bytes(new Uint8Array(a.values.buffer, a.values.byteOffset, a.values.length));
    return;
  }
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i];
    // Strings and bools come from plain JS arrays; typed arrays hold only in-range values.
    if (a.type === "string" || a.type === "bool") checkScalar(`${what}[${i}]`, a.type, x);
    writeScalar(out, a.type, x);
  }
}
