/**
 * The safetensors header, validated completely before any tensor is read: a bounded size, a bounded
 * number of entries and nesting depth (checked by a byte scan before JSON.parse, whose time and memory
 * grow with both), known dtypes, shapes whose byte size matches their offsets, string metadata, and offsets that
 * tile the data section exactly: no overlap, no hole, ending at the last byte of the file.
 */
import { checkedNumel } from "../formats/table.js";
import { briefJson, briefName } from "./brief.js";
import { scanJson } from "./json-scan.js";
import { isStoredDType, STORED_DTYPES } from "./safetensors-dtypes.js";

export interface TensorInfo {
  name: string;
  /** dtype as stored in the file (F32, BF16, ...) */
  stored: string;
  shape: number[];
  /** absolute byte range in the file */
  begin: number;
  end: number;
  /** Set when the tensor is a slice of a stored stack (a GGUF expert of ffn_*_exps): the stack's name. */
  sliceOf?: string;
}

export interface SafetensorsLimits {
  /** Largest header accepted, in bytes (default 100 MB, as the reference implementation). */
  maxHeaderBytes?: number;
  /** Most tensors one file may describe (default 131072; the largest single-file checkpoints hold tens of thousands). */
  maxEntries?: number;
}

export const DEFAULT_LIMITS: Required<SafetensorsLimits> = { maxHeaderBytes: 100_000_000, maxEntries: 131_072 };

export interface ParsedHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/** The header length field, checked against the file size and the limit before anything else is read. */
export function checkHeaderLength(where: string, lengthField: bigint, fileSize: number, limits: Required<SafetensorsLimits>): number {
  if (lengthField > BigInt(limits.maxHeaderBytes)) throw new Error(`${where}: header length ${lengthField} exceeds the limit of ${limits.maxHeaderBytes} bytes`);
  const n = Number(lengthField);
  if (n > fileSize - 8) throw new Error(`${where}: header length ${n} runs past the end of the file (${fileSize} bytes)`);
  if (n < 2) throw new Error(`${where}: header length ${n} is too short to hold a JSON object`);
  return n;
}

/** root object → entry object → shape / data_offsets array */
const MAX_DEPTH = 3;

/**
 * Before JSON.parse: nesting deeper than a valid header allows and more objects at entry depth than
 * `maxEntries` (+1 for __metadata__) are refused.
 */
export function scanHeader(where: string, bytes: Uint8Array, maxEntries: number): void {
  if (bytes[0] !== 0x7b) throw new Error(`${where}: header does not start with '{' (byte ${bytes[0]})`);
  scanJson(bytes, {
    maxDepth: MAX_DEPTH,
    tooDeep: (at) => new Error(`${where}: header nests deeper than a safetensors header can (byte ${8 + at})`),
    maxObjectsAtDepth2: maxEntries + 1,
    tooMany: () => new Error(`${where}: header describes more than ${maxEntries} tensors (the limit; raise maxEntries to read it)`),
  });
}

/** Parse and validate a header of `bytes` for a file of `fileSize` bytes. */
export function parseHeader(where: string, bytes: Uint8Array, fileSize: number, limits: Required<SafetensorsLimits>): ParsedHeader {
  scanHeader(where, bytes, limits.maxEntries);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${where}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new Error(`${where}: header is not a JSON object`);
  const dataStart = 8 + bytes.length;
  const dataLen = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") metadata = parseMetadata(where, raw);
    else tensors.set(name, parseEntry(where, name, raw, dataStart, dataLen));
  }
  if (tensors.size > limits.maxEntries) throw new Error(`${where}: header describes ${tensors.size} tensors, more than the limit of ${limits.maxEntries}`);
  checkTiling(where, [...tensors.values()], dataStart, dataLen);
  return { tensors, metadata };
}

function parseMetadata(where: string, raw: unknown): Record<string, string> {
  if (raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${where}: __metadata__ must be an object of strings, got ${briefJson(raw)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== "string") throw new Error(`${where}: __metadata__ value ${briefName(k)} must be a string, got ${briefJson(v)}`);
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function parseEntry(where: string, name: string, raw: unknown, dataStart: number, dataLen: number): TensorInfo {
  const bad = (why: string) => new Error(`${where}: tensor ${briefName(name)} ${why}`);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("has no {dtype, shape, data_offsets} entry");
  const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
  if (!isStoredDType(dtype)) throw bad(`has unknown dtype ${briefJson(dtype)}`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) throw bad(`has invalid shape ${briefJson(shape)}`);
  if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || (o as number) < 0)) {
    throw bad(`has invalid data_offsets ${briefJson(offs)}`);
  }
  const [b, e] = offs as [number, number];
  if (e < b) throw bad(`has data_offsets [${b}, ${e}] that end before they begin`);
  if (e > dataLen) throw bad(`has data_offsets [${b}, ${e}] past the end of the data section (${dataLen} bytes)`);
  let elements: number;
  try {
    elements = checkedNumel(shape as number[]);
  } catch {
    throw bad(`has shape ${briefJson(shape)} with more than 2^53 elements`);
  }
  const perElement = STORED_DTYPES[dtype]!;
  if (elements > Number.MAX_SAFE_INTEGER / perElement) throw bad(`${dtype} ${briefJson(shape)} needs more than 2^53 bytes`);
  const expected = elements * perElement;
  if (e - b !== expected) throw bad(`spans ${e - b} bytes but ${dtype} ${briefJson(shape)} needs ${expected}`);
  return { name, stored: dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e };
}

/** The tensors' byte ranges, sorted, must cover [dataStart, dataStart + dataLen) exactly once. */
function checkTiling(where: string, spans: TensorInfo[], dataStart: number, dataLen: number): void {
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataStart;
  let previous: TensorInfo | null = null;
  for (const s of spans) {
    if (s.begin < cursor) {
      throw new Error(`${where}: tensors ${briefName(previous!.name)} and ${briefName(s.name)} overlap in the data section`);
    }
    if (s.begin > cursor) {
      const after = previous ? `after tensor ${briefName(previous.name)}` : "at the start of the data section";
      throw new Error(`${where}: ${s.begin - cursor} bytes ${after} belong to no tensor (a hole before ${briefName(s.name)})`);
    }
    cursor = s.end;
    previous = s;
  }
  const fileEnd = dataStart + dataLen;
  if (cursor < fileEnd) {
    throw new Error(`${where}: the tensors end ${fileEnd - cursor} bytes before the end of the file: the header length is wrong or the file has trailing bytes`);
  }
}
