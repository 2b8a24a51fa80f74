/**
 * GGUF writer: metadata of every type, tensor infos, the data section with every tensor aligned to
 * `general.alignment` (default 32) and padded to it, as gguf-py's GGUFWriter lays files out (so
 * llama.cpp's loader, which expects each offset to follow the previous tensor's padded end, takes
 * them). `ggufLayout` builds the header and the offsets; `encodeGguf` returns a whole file in memory;
 * `writeGgufStream` hands the file to a sink piece by piece, asking for each tensor's bytes only when
 * it is written (for files bigger than memory).
 */
import { ByteBuilder } from "./byte-builder.js";
import { ggmlTypeOf } from "./ggml-types.js";
import { writeValue } from "./metadata-writer.js";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_MAX_DIMS, GGUF_MAX_NAME } from "./reader.js";
import type { GgufMetadata } from "./values.js";

export interface GgufTensorSpec {
  name: string;
  /** moekit / row-major order (the last dim is contiguous); written reversed as ggml dims */
  shape: readonly number[];
  /** moekit format name: float32, float16, bfloat16, int32, q8_0, q4_0, q5_0, q4_k, q6_k, mxfp4 */
  format: string;
}

export interface GgufLayout {
  /** magic .. tensor infos, padded to the alignment */
  header: Uint8Array;
  alignment: number;
  /** per tensor, in order: byte size and offset relative to the data section */
  tensors: { name: string; bytes: number; relativeOffset: number }[];
  /** header + data, padding included */
  totalBytes: number;
}

const encoder = new TextEncoder();

function padTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function tensorBytes(t: GgufTensorSpec): number {
  const type = ggmlTypeOf(t.format);
  if (t.shape.length > GGUF_MAX_DIMS) throw new Error(`GGUF tensor '${t.name}': ${t.shape.length} dimensions (ggml allows ${GGUF_MAX_DIMS})`);
  if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`GGUF tensor '${t.name}': invalid shape [${t.shape.join(", ")}]`);
  const row = t.shape.length ? t.shape[t.shape.length - 1]! : 1;
  if (row % type.blockElems !== 0) {
    throw new Error(`GGUF tensor '${t.name}': rows of ${row} values are not a multiple of the ${t.format} block size ${type.blockElems}`);
  }
  const n = t.shape.reduce((a, d) => a * d, 1);
  const bytes = (n / type.blockElems) * type.blockBytes;
  if (!Number.isSafeInteger(bytes)) throw new Error(`GGUF tensor '${t.name}': byte size beyond 2^53`);
  return bytes;
}

/** The header and tensor offsets of a GGUF file (version 3, little-endian). */
export function ggufLayout(metadata: GgufMetadata, tensors: readonly GgufTensorSpec[]): GgufLayout {
  const al = metadata.get("general.alignment");
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (al !== undefined) {
    if (al.type !== "uint32" || al.value === 0 || (al.value & (al.value - 1)) !== 0) {
      throw new Error(`GGUF metadata 'general.alignment' must be a uint32 power of 2, got ${al.type} ${String(al.value)}`);
    }
    alignment = al.value;
  }
  const out = new ByteBuilder();
  out.u32(GGUF_MAGIC);
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.size);
  for (const [key, value] of metadata) {
    if (key.length === 0) throw new Error("GGUF metadata key is empty");
    out.string(key);
    writeValue(out, `GGUF metadata '${key}'`, value);
  }
  const seen = new Set<string>();
  const placed: GgufLayout["tensors"] = [];
  let offset = 0;
  for (const t of tensors) {
    if (encoder.encode(t.name).length >= GGUF_MAX_NAME) throw new Error(`GGUF tensor name '${t.name}' is ${GGUF_MAX_NAME} bytes or longer`);
    if (seen.has(t.name)) throw new Error(`GGUF tensor '${t.name}' appears twice`);
    seen.add(t.name);
    const bytes = tensorBytes(t);
    out.string(t.name);
    out.u32(Math.max(t.shape.length, 1));
    if (t.shape.length === 0) out.u64(1);
    for (let d = t.shape.length - 1; d >= 0; d--) out.u64(t.shape[d]!);
    out.u32(ggmlTypeOf(t.format).id);
    out.u64(offset);
    placed.push({ name: t.name, bytes, relativeOffset: offset });
    offset += padTo(bytes, alignment);
  }
  out.zeros(padTo(out.length, alignment) - out.length);
  const header = out.result();
  return { header, alignment, tensors: placed, totalBytes: header.length + offset };
}

export interface GgufTensorData extends GgufTensorSpec {
  data: Uint8Array;
}

function checkData(name: string, data: Uint8Array, bytes: number): void {
  if (data.length !== bytes) throw new Error(`GGUF tensor '${name}': ${data.length} bytes of data, its shape and format need ${bytes}`);
}

/** A whole GGUF file in memory. */
export function encodeGguf(metadata: GgufMetadata, tensors: readonly GgufTensorData[]): Uint8Array {
  const layout = ggufLayout(metadata, tensors);
  const out = new Uint8Array(layout.totalBytes);
  out.set(layout.header, 0);
  tensors.forEach((t, i) => {
    const p = layout.tensors[i]!;
    checkData(t.name, t.data, p.bytes);
    out.set(t.data, layout.header.length + p.relativeOffset);
  });
  return out;
}

export interface GgufSink {
  write(chunk: Uint8Array): Promise<void>;
}

/**
 * Streams a GGUF file to `sink`: the header, then each tensor's bytes (asked for with `data(spec)`
 * only when it is written) and its padding.
 */
export async function writeGgufStream(
  sink: GgufSink,
  metadata: GgufMetadata,
  tensors: readonly GgufTensorSpec[],
  data: (t: GgufTensorSpec, index: number) => Promise<Uint8Array>,
): Promise<GgufLayout> {
  const layout = ggufLayout(metadata, tensors);
  await sink.write(layout.header);
  for (let i = 0; i < tensors.length; i++) {
    const p = layout.tensors[i]!;
    const bytes = await data(tensors[i]!, i);
    checkData(p.name, bytes, p.bytes);
    await sink.write(bytes);
    const pad = padTo(p.bytes, layout.alignment) - p.bytes;
    if (pad > 0) await sink.write(new Uint8Array(pad));
  }
  return layout;
}
