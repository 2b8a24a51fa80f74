/**
 * safetensors reader: an 8-byte little-endian header length, a JSON header mapping names to
 * { dtype, shape, data_offsets: [begin, end] } relative to the data section, then the data.
 * The whole header is validated when the file is opened (safetensors-header.ts); each read states
 * what it expects of the tensor (safetensors-dtypes.ts).
 */
import { Tensor } from "../tensor.js";
import { briefName } from "./brief.js";
import { alignedView, type ByteSource } from "./byte-source.js";
import { checkExpected, STORED_DTYPES, type NumericExpectation, type RawExpectation } from "./safetensors-dtypes.js";
import { checkHeaderLength, DEFAULT_LIMITS, parseHeader, type SafetensorsLimits, type TensorInfo } from "./safetensors-header.js";

export type { TensorInfo, SafetensorsLimits } from "./safetensors-header.js";
export type { NumericExpectation, RawExpectation, TensorExpectation } from "./safetensors-dtypes.js";

export interface TensorReadOptions {
  /** "float" (the default: weights; F32/BF16/F16/F64) or "int" (I32/I64, read as int32). */
  expect?: NumericExpectation;
}

export interface RawReadOptions {
  /** "u8-blocks" (U8), "e8m0-scales" (U8 or F8_E8M0) or "fp8" (F8_E4M3). */
  expect: RawExpectation;
}

/** A tensor's bytes exactly as stored, for formats moekit decodes itself (quantized blocks, scales). */
export interface RawTensor {
  name: string;
  stored: string;
  shape: number[];
  bytes: Uint8Array;
}

export class SafetensorsFile {
  /** Tensors read into memory though the source maps the file (their data offset does not suit their dtype). */
  readonly copied: string[] = [];

  private constructor(
    readonly source: ByteSource,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(source: ByteSource, limits: SafetensorsLimits = {}): Promise<SafetensorsFile> {
    const where = source.name;
    const lim = { ...DEFAULT_LIMITS, ...limits };
    const size = await source.size();
    if (!Number.isSafeInteger(size) || size < 8) throw new Error(`${where}: not a safetensors file (only ${size} bytes)`);
    const lenBytes = await readExactly(source, 0, 8);
    const headerLen = checkHeaderLength(where, new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true), size, lim);
    const { tensors, metadata } = parseHeader(where, await readExactly(source, 8, headerLen), size, lim);
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
    if (!t) throw new Error(`${this.source.name}: no tensor named ${briefName(name)}`);
    return t;
  }

  /**
   * A host tensor with the stored values. Floats (the default expectation) keep F32/BF16/F16 as
   * stored and read F64 as float32; `{ expect: "int" }` reads I32/I64 as int32 (I64 range-checked).
   */
  async tensor(name: string, opts: TensorReadOptions = {}): Promise<Tensor> {
    const info = this.info(name);
    checkExpected(this.source.name, name, info.stored, opts.expect ?? "float");
    const bytes = await this.bytesOf(name, info, STORED_DTYPES[info.stored]!);
    const n = bytes.length / STORED_DTYPES[info.stored]!;
    switch (info.stored) {
      case "F32":
        return Tensor.from(new Float32Array(bytes.buffer, bytes.byteOffset, n), info.shape);
      case "BF16":
        return Tensor.from(new Uint16Array(bytes.buffer, bytes.byteOffset, n), info.shape, "bfloat16");
      case "F16":
        return Tensor.from(new Uint16Array(bytes.buffer, bytes.byteOffset, n), info.shape, "float16");
      case "F64":
        return Tensor.from(Float32Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, n)), info.shape);
      case "I32":
        return Tensor.from(new Int32Array(bytes.buffer, bytes.byteOffset, n), info.shape);
      default: {
        const src = new BigInt64Array(bytes.buffer, bytes.byteOffset, n);
        const out = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const v = src[i]!;
          if (v > 2147483647n || v < -2147483648n) throw new Error(`${this.source.name}: ${briefName(name)} holds ${v}, outside int32`);
          out[i] = Number(v);
        }
        return Tensor.from(out, info.shape);
      }
    }
  }

  /** A tensor's stored bytes, for the raw kinds a loader decodes itself. */
  async bytes(name: string, opts: RawReadOptions): Promise<RawTensor> {
    const info = this.info(name);
    checkExpected(this.source.name, name, info.stored, opts.expect);
    const bytes = await this.bytesOf(name, info, 1);
    return { name, stored: info.stored, shape: [...info.shape], bytes };
  }

  /** A tensor's bytes: in place where the source maps the file and the offset suits `align`, else read. */
  private async bytesOf(name: string, info: TensorInfo, align: number): Promise<Uint8Array> {
    const length = info.end - info.begin;
    const v = alignedView(this.source, info.begin, length, align);
    if (v) return v;
    const mapsFile = length > 0 && this.source.view?.(info.begin, 0) !== undefined;
    if (mapsFile && !this.copied.includes(name)) this.copied.push(name);
    return readExactly(this.source, info.begin, length);
  }
}

/**
 * `length` bytes at `offset`, in a buffer whose offset suits any typed array: a ByteSource that
 * returns another length is an error, a misaligned view is copied.
 */
async function readExactly(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const bytes = await source.read(offset, length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new Error(`${source.name}: read of ${length} bytes at ${offset} returned ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : "no Uint8Array"}`);
  }
  return bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
}
