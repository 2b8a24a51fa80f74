/**
 * The GGUF interop check with gguf-py (scripts/gguf-py-fixtures.ts): the file moekit writes for it (every
 * metadata type, a nested array, one tensor of every format, alignment 64) and a plain-JSON view of a
 * parsed file that both sides compare (64-bit integers as decimal strings, tensor data as SHA-256).
 */
import { createHash } from "node:crypto";
import type { GgufFile } from "../../src/loading/gguf/reader.js";
import type { GgufArray, GgufMetadata, GgufTensorData, GgufValue } from "../../src/loading/gguf/index.js";

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    out[i] = a >>> 23;
  }
  return out;
}

/** f16 blocks need finite scales for gguf-py's dequantize to be comparable: clear the exponent's top bit. */
function withSaneScales(bytes: Uint8Array, blockBytes: number, scaleOffsets: number[]): Uint8Array {
  for (let b = 0; b < bytes.length; b += blockBytes) for (const o of scaleOffsets) bytes[b + o + 1]! &= 0x3f;
  return bytes;
}

export function moekitCrosscheckFile(): { metadata: GgufMetadata; tensors: GgufTensorData[] } {
  const metadata: GgufMetadata = new Map<string, GgufValue>([
    ["general.architecture", { type: "string", value: "moekit-test" }],
    ["general.alignment", { type: "uint32", value: 64 }],
    ["general.name", { type: "string", value: "moekit → gguf-py ✓ 中文" }],
    ["t.u8", { type: "uint8", value: 200 }],
    ["t.i8", { type: "int8", value: -100 }],
    ["t.u16", { type: "uint16", value: 60000 }],
    ["t.i16", { type: "int16", value: -30000 }],
    ["t.u32", { type: "uint32", value: 4000000000 }],
    ["t.i32", { type: "int32", value: -2000000000 }],
    ["t.f32", { type: "float32", value: 0.15625 }],
    ["t.f64", { type: "float64", value: 2.718281828459045 }],
    ["t.u64", { type: "uint64", value: 18446744073709551615n }],
    ["t.i64", { type: "int64", value: -9223372036854775808n }],
    ["t.bool", { type: "bool", value: false }],
    ["t.arr.u8", { type: "array", value: { type: "uint8", values: Uint8Array.of(1, 2, 250) } }],
    ["t.arr.i16", { type: "array", value: { type: "int16", values: Int16Array.of(-1, 300) } }],
    ["t.arr.u32", { type: "array", value: { type: "uint32", values: Uint32Array.of(7, 4294967295) } }],
    ["t.arr.i32", { type: "array", value: { type: "int32", values: Int32Array.of(-7, 1 << 30) } }],
    ["t.arr.f32", { type: "array", value: { type: "float32", values: Float32Array.of(0.5, -2.25, 1e-3) } }],
    ["t.arr.f64", { type: "array", value: { type: "float64", values: Float64Array.of(1e-300, 42) } }],
    ["t.arr.i64", { type: "array", value: { type: "int64", values: BigInt64Array.of(-3n, 1n << 40n) } }],
    ["t.arr.bool", { type: "array", value: { type: "bool", values: [true, false] } }],
    ["t.arr.str", { type: "array", value: { type: "string", values: ["Ġhello", "<|im_end|>", "▁world", "🙂"] } }],
    [
      "t.arr.nested",
      { type: "array", value: { type: "array", values: [{ type: "int32", values: Int32Array.of(1, 2) }, { type: "int32", values: Int32Array.of(3) }] } },
    ],
  ]);
  const f16Scale = (bytes: number, offs: number[]) => (n: number, seed: number) => withSaneScales(pattern(n, seed), bytes, offs);
  const specs: [string, number[], string, number, (n: number, seed: number) => Uint8Array][] = [
    ["w.f32", [2, 3], "float32", 24, (n) => new Uint8Array(Float32Array.from({ length: n / 4 }, (_, i) => i * 0.5 - 1).buffer)],
    ["w.f16", [4], "float16", 8, (n) => new Uint8Array(Uint16Array.of(0x3c00, 0xbc00, 0x3800, 0x0000).buffer).slice(0, n)],
    ["w.bf16", [2, 2], "bfloat16", 8, (n) => new Uint8Array(Uint16Array.of(0x3f80, 0xc000, 0x3f00, 0x4040).buffer).slice(0, n)],
    ["w.q8_0", [2, 32], "q8_0", 68, f16Scale(34, [0])],
    ["w.q4_0", [1, 64], "q4_0", 36, f16Scale(18, [0])],
    ["w.q5_0", [1, 32], "q5_0", 22, f16Scale(22, [0])],
    ["w.q4_k", [1, 256], "q4_k", 144, f16Scale(144, [0, 2])],
    ["w.q6_k", [1, 256], "q6_k", 210, f16Scale(210, [208])],
    ["w.mxfp4", [2, 32], "mxfp4", 34, (n, s) => pattern(n, s)],
    ["w.i32", [3], "int32", 12, (n) => new Uint8Array(Int32Array.of(-1, 0, 77).buffer).slice(0, n)],
  ];
  return { metadata, tensors: specs.map(([name, shape, format, bytes, make], i) => ({ name, shape, format, data: make(bytes, i + 11) })) };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function arrayJson(a: GgufArray): Json {
  if (a.type === "array") return { type: "array", values: a.values.map(arrayJson) };
  if (a.type === "uint64" || a.type === "int64") return { type: a.type, values: Array.from(a.values, (v) => v.toString()) };
  if (a.type === "string" || a.type === "bool") return { type: a.type, values: a.values };
  return { type: a.type, values: Array.from(a.values as ArrayLike<number>) };
}

export function valueJson(v: GgufValue): Json {
  if (v.type === "array") return { type: "array", value: arrayJson(v.value) };
  if (v.type === "uint64" || v.type === "int64") return { type: v.type, value: v.value.toString() };
  return { type: v.type, value: v.value as number | string | boolean };
}

/** The JSON view of a parsed file: metadata by key, tensors in file order with their data's SHA-256. */
export async function fileJson(g: GgufFile): Promise<Json> {
  const metadata: Record<string, Json> = {};
  for (const [k, v] of g.metadata) metadata[k] = valueJson(v);
  const tensors: Json[] = [];
  for (const t of [...g.tensors.values()].sort((a, b) => a.begin - b.begin)) {
    const bytes = await g.source.read(t.begin, t.end - t.begin);
    tensors.push({ name: t.name, type: t.type.ggml, dims: t.dims, offset: t.relativeOffset, bytes: t.end - t.begin, sha256: createHash("sha256").update(bytes).digest("hex") });
  }
  return { alignment: g.alignment, data_offset: g.dataOffset, metadata, tensors };
}
