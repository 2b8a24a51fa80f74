/** Reads GGUF metadata values (typed scalars, arrays, arrays of arrays) from a HeaderCursor. */
import type { HeaderCursor } from "./cursor.js";
import { lazyStringArray } from "./lazy-strings.js";
import { ggufScalarBytes, ggufTypeName, type GgufArray, type GgufType, type GgufValue } from "./values.js";

/** Arrays of arrays deeper than this are refused (the format allows any depth; no real file nests). */
export const MAX_ARRAY_DEPTH = 4;

async function valueType(cur: HeaderCursor, what: string): Promise<GgufType> {
  const id = await cur.u32(`${what}: value type`);
  const type = ggufTypeName(id);
  if (type === undefined) throw new Error(`${what} has unknown GGUF value type ${id} (known: 0..12)`);
  return type;
}

export async function readValue(cur: HeaderCursor, what: string): Promise<GgufValue> {
  const type = await valueType(cur, what);
  if (type === "array") return { type, value: await readArray(cur, what, 1) };
  if (type === "string") return { type, value: await cur.string(what) };
  const v = await cur.scalar(ggufScalarBytes(type), what);
  switch (type) {
    case "uint8":
      return { type, value: v.getUint8(0) };
    case "int8":
      return { type, value: v.getInt8(0) };
    case "uint16":
      return { type, value: v.getUint16(0, true) };
    case "int16":
      return { type, value: v.getInt16(0, true) };
    case "uint32":
      return { type, value: v.getUint32(0, true) };
    case "int32":
      return { type, value: v.getInt32(0, true) };
    case "float32":
      return { type, value: v.getFloat32(0, true) };
    case "float64":
      return { type, value: v.getFloat64(0, true) };
    case "uint64":
      return { type, value: v.getBigUint64(0, true) };
    case "int64":
      return { type, value: v.getBigInt64(0, true) };
    default: {
      const b = v.getUint8(0);
      if (b > 1) throw new Error(`${what} is a bool stored as ${b} (must be 0 or 1)`);
      return { type: "bool", value: b === 1 };
    }
  }
}

/** The fewest bytes one element of this type takes in a file (strings: their 8-byte length). */
function minElementBytes(type: GgufType): number {
  if (type === "string") return 8;
  if (type === "array") return 12;
  return ggufScalarBytes(type);
}

async function readArray(cur: HeaderCursor, what: string, depth: number): Promise<GgufArray> {
  if (depth > MAX_ARRAY_DEPTH) throw new Error(`${what} nests arrays deeper than ${MAX_ARRAY_DEPTH} levels`);
  const type = await valueType(cur, `${what}: array element`);
  const per = minElementBytes(type);
  // Every element takes at least `per` bytes of the file, so the count is bounded by what is left.
  const n = await cur.count(`${what}: array length`, Math.floor(Math.max(0, cur.remaining() - 8) / per), "its elements could fill");
  const label = `${what}: array of ${n} ${type}`;
  switch (type) {
    case "uint8":
      return { type, values: await cur.bytes(n, label) };
    case "int8":
      return { type, values: await cur.array(n, 1, label, (b) => new Int8Array(b.buffer, b.byteOffset, n)) };
    case "uint16":
      return { type, values: await cur.array(n, 2, label, (b) => new Uint16Array(b.buffer, b.byteOffset, n)) };
    case "int16":
      return { type, values: await cur.array(n, 2, label, (b) => new Int16Array(b.buffer, b.byteOffset, n)) };
    case "uint32":
      return { type, values: await cur.array(n, 4, label, (b) => new Uint32Array(b.buffer, b.byteOffset, n)) };
    case "int32":
      return { type, values: await cur.array(n, 4, label, (b) => new Int32Array(b.buffer, b.byteOffset, n)) };
    case "float32":
      return { type, values: await cur.array(n, 4, label, (b) => new Float32Array(b.buffer, b.byteOffset, n)) };
    case "float64":
      return { type, values: await cur.array(n, 8, label, (b) => new Float64Array(b.buffer, b.byteOffset, n)) };
    case "uint64":
      return { type, values: await cur.array(n, 8, label, (b) => new BigUint64Array(b.buffer, b.byteOffset, n)) };
    case "int64":
      return { type, values: await cur.array(n, 8, label, (b) => new BigInt64Array(b.buffer, b.byteOffset, n)) };
    case "bool": {
      const raw = await cur.bytes(n, label);
      const bad = raw.findIndex((b) => b > 1);
      if (bad >= 0) throw new Error(`${what}: element ${bad} is a bool stored as ${raw[bad]} (must be 0 or 1)`);
      return { type, values: Array.from(raw, (b) => b === 1) };
    }
    case "string": {
      const { bytes, offset } = await cur.stringArray(n, what);
      return lazyStringArray(bytes, n, offset, `${cur.sourceName}: ${what}`);
    }
    default: {
      const values: GgufArray[] = [];
      for (let i = 0; i < n; i++) values.push(await readArray(cur, `${what}[${i}]`, depth + 1));
      return { type: "array", values };
    }
  }
}
