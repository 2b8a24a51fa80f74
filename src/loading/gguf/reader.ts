/**
 * GGUF reader (ggml docs/gguf.md): magic "GGUF", version (2 or 3), tensor count, metadata count, the
 * metadata key/values, the tensor infos (name, dims, ggml type, offset), padding to `general.alignment`
 * (default 32), then the tensor data. Little-endian only (a big-endian v3 file is refused by name).
 *
 * Why a parser of our own and not `@huggingface/gguf`: that package reads a URL through fetch (or a
 * local path in Node), not moekit's ByteSource (files, in-memory buffers, browser Blob ranges), so it
 * would need a fake fetch over every source; and it stops at the header: tensor offsets against the
 * file size, alignment, overlaps and type/size consistency, which is most of what a hostile file
 * attacks, would still be ours. This reader reads ranges only, bounds every count and length by the
 * bytes actually left (and the header by `maxHeaderBytes`) before allocating, and validates every
 * tensor before any tensor is read. Every error names the field.
 */
import type { ByteSource } from "../byte-source.js";
import { HeaderCursor } from "./cursor.js";
import { ggmlType, type GgmlType } from "./ggml-types.js";
import { readValue } from "./metadata-reader.js";
import { describeType, type GgufMetadata, type GgufValue } from "./values.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS */
export const GGUF_MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME: names must be shorter */
export const GGUF_MAX_NAME = 64;
/** Default bound on the header (metadata + tensor infos); real files need a few MB to ~20 MB for big vocabularies. */
export const DEFAULT_MAX_HEADER_BYTES = 256 * 1024 * 1024;

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension */
  dims: number[];
  /** moekit / row-major order: dims reversed */
  shape: number[];
  type: GgmlType;
  /** moekit format name (float32, bfloat16, q4_k, ...) or null where moekit has none */
  format: string | null;
  /** offset relative to the data section, as stored */
  relativeOffset: number;
  /** absolute byte range in the file */
  begin: number;
  end: number;
}

export interface GgufOpenOptions {
  maxHeaderBytes?: number;
}

export class GgufFile {
  private constructor(
    readonly source: ByteSource,
    readonly version: number,
    readonly metadata: GgufMetadata,
    readonly tensors: ReadonlyMap<string, GgufTensorInfo>,
    readonly alignment: number,
    /** absolute offset of the data section */
    readonly dataOffset: number,
    readonly fileSize: number,
  ) {}

  static async open(source: ByteSource, opts: GgufOpenOptions = {}): Promise<GgufFile> {
    const where = source.name;
    try {
      return await GgufFile.parse(source, opts);
    } catch (e) {
      const msg = (e as Error).message;
      throw new Error(msg.startsWith(`${where}:`) ? msg : `${where}: ${msg}`, { cause: e });
    }
  }

  private static async parse(source: ByteSource, opts: GgufOpenOptions): Promise<GgufFile> {
    const size = await source.size();
    const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    const limit = Math.min(size, maxHeader);
    const limitText = size <= maxHeader ? `the end of the file (${size} bytes)` : `the header budget (maxHeaderBytes ${maxHeader})`;
    const cur = new HeaderCursor(source, limit, limitText);
    if (size < 4) throw new Error(`not a GGUF file (only ${size} bytes)`);
    const magic = await cur.u32("magic");
    if (magic !== GGUF_MAGIC) throw new Error(`not a GGUF file (magic 0x${magic.toString(16).padStart(8, "0")}, expected "GGUF")`);
    const version = await cur.u32("version");
    if (version === 1) throw new Error("GGUF version 1 is not supported (only 2 and 3)");
    if (version !== 2 && version !== 3) {
      if ((version & 0xffff) === 0 && version !== 0) throw new Error(`version field reads ${version}: a big-endian GGUF, which moekit does not read`);
      throw new Error(`unsupported GGUF version ${version} (only 2 and 3)`);
    }
    // Each tensor info takes at least 8+4+8+4+8 bytes, each key/value at least 8+1+4+1.
    const nTensors = await cur.count("tensor_count", Math.floor(cur.remaining() / 32), "tensor infos the header could hold");
    const nKv = await cur.count("metadata_kv_count", Math.floor(cur.remaining() / 14), "key/values the header could hold");

    const metadata: GgufMetadata = new Map();
    for (let i = 0; i < nKv; i++) {
      const key = await cur.string(`metadata key ${i}`);
      if (key.length === 0) throw new Error(`metadata key ${i} is empty`);
      if (metadata.has(key)) throw new Error(`metadata key '${key}' appears twice`);
      metadata.set(key, await readValue(cur, `metadata '${key}'`));
    }
    const alignment = alignmentOf(metadata);

    const infos: Omit<GgufTensorInfo, "begin" | "end">[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < nTensors; i++) infos.push(await readTensorInfo(cur, i, seen));
    const headerEnd = cur.pos;
    const dataOffset = nTensors > 0 ? padTo(headerEnd, alignment) : headerEnd;
    if (dataOffset > size) throw new Error(`the data section would start at byte ${dataOffset}, past the end of the file (${size} bytes)`);

    const tensors = new Map<string, GgufTensorInfo>();
    for (const t of infos) {
      const bytes = (t.dims.reduce((a, d) => a * d, 1) / t.type.blockElems) * t.type.blockBytes;
      if (t.relativeOffset % alignment !== 0) {
        throw new Error(`tensor '${t.name}' has offset ${t.relativeOffset}, not a multiple of the alignment ${alignment}`);
      }
      const begin = dataOffset + t.relativeOffset;
      if (!Number.isSafeInteger(begin + bytes) || begin + bytes > size) {
        throw new Error(
          `tensor '${t.name}' (${t.type.ggml} [${t.dims.join(", ")}], ${bytes} bytes at data offset ${t.relativeOffset}) runs past the end of the file (${size} bytes)`,
        );
      }
      tensors.set(t.name, { ...t, begin, end: begin + bytes });
    }
    checkOverlaps([...tensors.values()]);
    return new GgufFile(source, version, metadata, tensors, alignment, dataOffset, size);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): GgufTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.source.name}: no tensor named '${name}'`);
    return t;
  }

  /** A tensor's stored bytes and its moekit format (a ggml type moekit does not read is an error naming it). */
  async tensorBytes(name: string): Promise<{ info: GgufTensorInfo; format: string; bytes: Uint8Array }> {
    const info = this.info(name);
    if (info.format === null) {
      throw new Error(`${this.source.name}: tensor '${name}' is stored as ggml type ${info.type.ggml}, which moekit does not read`);
    }
    return { info, format: info.format, bytes: await this.source.read(info.begin, info.end - info.begin) };
  }

  /** A metadata value, or undefined. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  /** A string value; absent is undefined unless required, another type is an error naming the key. */
  string(key: string, required: true): string;
  string(key: string, required?: false): string | undefined;
  string(key: string, required = false): string | undefined {
    return this.typed(key, required, "a string", (v) => (v.type === "string" ? v.value : undefined));
  }

  /** An integer value of any integer type that fits a safe JS integer. */
  integer(key: string, required: true): number;
  integer(key: string, required?: false): number | undefined;
  integer(key: string, required = false): number | undefined {
    return this.typed(key, required, "an integer", (v) => {
      if (v.type === "uint64" || v.type === "int64") return v.value <= BigInt(Number.MAX_SAFE_INTEGER) && v.value >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : undefined;
      if (v.type === "float32" || v.type === "float64" || v.type === "bool" || v.type === "string" || v.type === "array") return undefined;
      return Number(v.value);
    });
  }

  /** A float value (float32, float64, or any integer). */
  float(key: string, required: true): number;
  float(key: string, required?: false): number | undefined;
  float(key: string, required = false): number | undefined {
    return this.typed(key, required, "a number", (v) => {
      if (v.type === "float32" || v.type === "float64") return v.value;
      return v.type === "bool" || v.type === "string" || v.type === "array" ? undefined : Number(v.value);
    });
  }

  bool(key: string, required: true): boolean;
  bool(key: string, required?: false): boolean | undefined;
  bool(key: string, required = false): boolean | undefined {
    return this.typed(key, required, "a bool", (v) => (v.type === "bool" ? v.value : undefined));
  }

  private typed<T>(key: string, required: boolean, want: string, pick: (v: GgufValue) => T | undefined): T | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) {
      if (required) throw new Error(`${this.source.name}: metadata '${key}' is missing`);
      return undefined;
    }
    const out = pick(v);
    if (out === undefined) throw new Error(`${this.source.name}: metadata '${key}' is ${describeType(v)}, expected ${want}`);
    return out;
  }
}

function padTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function alignmentOf(metadata: GgufMetadata): number {
  const v = metadata.get("general.alignment");
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== "uint32") throw new Error(`metadata 'general.alignment' is ${describeType(v)}, expected uint32`);
  if (v.value === 0 || (v.value & (v.value - 1)) !== 0) throw new Error(`metadata 'general.alignment' is ${v.value}, not a power of 2`);
  return v.value;
}

async function readTensorInfo(cur: HeaderCursor, i: number, seen: Set<string>): Promise<Omit<GgufTensorInfo, "begin" | "end">> {
  const name = await cur.string(`tensor info ${i}: name`);
  const bad = (why: string) => new Error(`tensor '${name}' ${why}`);
  if (new TextEncoder().encode(name).length >= GGUF_MAX_NAME) throw bad(`has a name of ${name.length} characters (ggml allows ${GGUF_MAX_NAME - 1} bytes)`);
  if (seen.has(name)) throw bad("appears twice in the tensor infos");
  seen.add(name);
  const nDims = await cur.u32(`tensor '${name}': n_dims`);
  if (nDims > GGUF_MAX_DIMS) throw bad(`has ${nDims} dimensions (ggml allows at most ${GGUF_MAX_DIMS})`);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const v = await cur.u64(`tensor '${name}': dims[${d}]`);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`has dims[${d}] = ${v}, too large`);
    dims.push(Number(v));
    elements *= Number(v);
    if (!Number.isSafeInteger(elements)) throw bad(`has ${dims.join(" × ")}... elements, more than 2^53`);
  }
  const typeId = await cur.u32(`tensor '${name}': type`);
  const type = ggmlType(typeId);
  if (!type) throw bad(`has unknown ggml type ${typeId}`);
  if ((dims[0] ?? 1) % type.blockElems !== 0) {
    throw bad(`has ${dims[0] ?? 1} values per row, not a multiple of the ${type.ggml} block size ${type.blockElems}`);
  }
  if (!Number.isSafeInteger((elements / type.blockElems) * type.blockBytes)) throw bad("has a byte size beyond 2^53");
  const off = await cur.u64(`tensor '${name}': offset`);
  if (off > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`has offset ${off}, too large`);
  return { name, dims, shape: [...dims].reverse(), type, format: type.moekit, relativeOffset: Number(off) };
}

function checkOverlaps(tensors: GgufTensorInfo[]): void {
  const spans = tensors.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.begin < spans[i - 1]!.end) {
      throw new Error(`tensors '${spans[i - 1]!.name}' and '${spans[i]!.name}' overlap in the data section`);
    }
  }
}
