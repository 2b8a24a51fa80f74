/**
 * safetensors reader: an 8-byte little-endian header length, a JSON header mapping names to
 * { dtype, shape, data_offsets: [begin, end] } relative to the data section, then the data.
 * Every header field is validated before any tensor is read.
 */
import type { DType } from "../dtype.js";
import { numel, shapeString, Tensor } from "../tensor.js";
import type { ByteSource } from "./byte-source.js";

const STORED: Record<string, { dtype: DType; bytes: number } | { dtype: null; bytes: number }> = {
  F32: { dtype: "float32", bytes: 4 },
  BF16: { dtype: "bfloat16", bytes: 2 },
  F16: { dtype: "float16", bytes: 2 },
  I32: { dtype: "int32", bytes: 4 },
  I64: { dtype: "int32", bytes: 8 },
  F64: { dtype: "float32", bytes: 8 },
  U8: { dtype: null, bytes: 1 },
  I8: { dtype: null, bytes: 1 },
  BOOL: { dtype: null, bytes: 1 },
  F8_E4M3: { dtype: null, bytes: 1 },
  F8_E5M2: { dtype: null, bytes: 1 },
  I16: { dtype: null, bytes: 2 },
  U16: { dtype: null, bytes: 2 },
  U32: { dtype: null, bytes: 4 },
  U64: { dtype: null, bytes: 8 },
};

export interface TensorInfo {
  name: string;
  /** dtype as stored in the file (F32, BF16, ...) */
  stored: string;
  shape: number[];
  /** absolute byte range in the file */
  begin: number;
  end: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const where = source.name;
    const size = await source.size();
    if (size < 8) throw new Error(`${where}: not a safetensors file (only ${size} bytes)`);
    const lenBytes = await source.read(0, 8);
    const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
    if (headerLen > size - 8) throw new Error(`${where}: header length ${headerLen} runs past the end of the file (${size} bytes)`);
    if (headerLen > MAX_HEADER) throw new Error(`${where}: header length ${headerLen} exceeds ${MAX_HEADER} bytes`);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder().decode(await source.read(8, headerLen)));
    } catch (e) {
      throw new Error(`${where}: header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== "object" || header === null || Array.isArray(header)) throw new Error(`${where}: header is not a JSON object`);
    const dataStart = 8 + headerLen;
    const dataLen = size - dataStart;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === "__metadata__") {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      tensors.set(name, parseEntry(where, name, raw, dataStart, dataLen));
    }
    const spans = [...tensors.values()].sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i]!.begin < spans[i - 1]!.end) {
        throw new Error(`${where}: tensors '${spans[i - 1]!.name}' and '${spans[i]!.name}' overlap in the data section`);
      }
    }
    return new SafetensorsFile(source, tensors, metadata);
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.source.name}: no tensor named '${name}'`);
    return t;
  }

  /** A host tensor with the stored values: F32/BF16/F16 kept as stored, I32/I64 as int32, F64 as float32. */
  async tensor(name: string): Promise<Tensor> {
    const info = this.info(name);
    const kind = STORED[info.stored]!;
    if (kind.dtype === null) throw new Error(`${this.source.name}: tensor '${name}' has dtype ${info.stored}, which moekit cannot read as numbers`);
    const bytes = await this.source.read(info.begin, info.end - info.begin);
    const n = numel(info.shape);
    switch (info.stored) {
      case "F32":
        return Tensor.from(new Float32Array(bytes.buffer, bytes.byteOffset, n), info.shape);
      case "BF16":
        return Tensor.from(new Uint16Array(bytes.buffer, bytes.byteOffset, n), info.shape, "bfloat16");
      case "F16":
        return Tensor.from(new Uint16Array(bytes.buffer, bytes.byteOffset, n), info.shape, "float16");
      case "I32":
        return Tensor.from(new Int32Array(bytes.buffer, bytes.byteOffset, n), info.shape);
      case "I64": {
        const src = new BigInt64Array(bytes.buffer, bytes.byteOffset, n);
        const out = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const v = src[i]!;
          if (v > 2147483647n || v < -2147483648n) throw new Error(`${this.source.name}: '${name}' holds ${v}, outside int32`);
          out[i] = Number(v);
        }
        return Tensor.from(out, info.shape);
      }
      default:
        return Tensor.from(Float32Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, n)), info.shape);
    }
  }
}

function parseEntry(where: string, name: string, raw: unknown, dataStart: number, dataLen: number): TensorInfo {
  const bad = (why: string) => new Error(`${where}: tensor '${name}' ${why}`);
  if (typeof raw !== "object" || raw === null) throw bad("has no {dtype, shape, data_offsets} entry");
  const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
  if (typeof dtype !== "string" || !(dtype in STORED)) throw bad(`has unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) throw bad(`has invalid shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || (o as number) < 0)) {
    throw bad(`has invalid data_offsets ${JSON.stringify(offs)}`);
  }
  const [b, e] = offs as [number, number];
  if (e < b) throw bad(`has data_offsets [${b}, ${e}] that end before they begin`);
  if (e > dataLen) throw bad(`has data_offsets [${b}, ${e}] past the end of the data section (${dataLen} bytes)`);
  const expected = numel(shape as number[]) * STORED[dtype]!.bytes;
  if (e - b !== expected) throw bad(`spans ${e - b} bytes but ${dtype} ${shapeString(shape as number[])} needs ${expected}`);
  return { name, stored: dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e };
}
