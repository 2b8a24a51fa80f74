/** A GGUF file from raw header fields, with no validation: the hostile-file tests write lies with it. */
import { ByteBuilder } from "../../src/loading/gguf/byte-builder.js";
import { writeValue } from "../../src/loading/gguf/metadata-writer.js";
import type { GgufValue } from "../../src/loading/gguf/values.js";

export interface RawTensorInfo {
  name: string;
  /** ggml order */
  dims: (number | bigint)[];
  type: number;
  offset: number | bigint;
  /** n_dims as written, if it should lie */
  nDims?: number;
}

export interface RawGguf {
  version?: number;
  magic?: number;
  tensorCount?: bigint;
  kvCount?: bigint;
  kv?: [string, GgufValue][];
  tensors?: RawTensorInfo[];
  alignment?: number;
  /** bytes of the data section (after padding the header to `alignment`) */
  data?: Uint8Array;
}

export function rawGguf(f: RawGguf): Uint8Array {
  const out = new ByteBuilder();
  const kv = f.kv ?? [];
  const tensors = f.tensors ?? [];
  out.u32(f.magic ?? 0x46554747);
  out.u32(f.version ?? 3);
  out.u64(f.tensorCount ?? BigInt(tensors.length));
  out.u64(f.kvCount ?? BigInt(kv.length));
  for (const [k, v] of kv) {
    out.string(k);
    writeValue(out, k, v);
  }
  for (const t of tensors) {
    out.string(t.name);
    out.u32(t.nDims ?? t.dims.length);
    for (const d of t.dims) out.u64(BigInt(d));
    out.u32(t.type);
    out.u64(BigInt(t.offset));
  }
  const al = f.alignment ?? 32;
  if (tensors.length > 0) out.zeros((al - (out.length % al)) % al);
  if (f.data) out.bytes(f.data);
  return out.result();
}
