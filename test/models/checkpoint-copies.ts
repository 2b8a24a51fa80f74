/** Modified copies of a fixture checkpoint in a temp dir (dropped or reshaped tensors, config edits). */
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { FileSource } from "../../src/loading/node-files.js";
import type { Tensor } from "../../src/tensor.js";

const CODE: Record<string, string> = { float32: "F32", bfloat16: "BF16", float16: "F16", int32: "I32" };

/** A tensor stored as given (quantized blocks, scales): safetensors dtype code, shape and bytes. */
export interface RawStored {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export function safetensorsBytes(tensors: Map<string, Tensor | RawStored>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    if ("bytes" in t) {
      header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
      chunks.push(t.bytes);
      offset += t.bytes.length;
      continue;
    }
    const s = t.hostStorage();
    const bytes = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
    header[name] = { dtype: CODE[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export interface CopyEdits {
  drop?: string[];
  /** Replace tensors (e.g. with a wrong shape). */
  replace?: Record<string, Tensor>;
  /** Extra tensors appended to the checkpoint (raw ones stored as given). */
  add?: Record<string, Tensor | RawStored>;
  config?: Record<string, unknown>;
  /** Replaces config.json as a whole (after `config` would have applied). */
  wholeConfig?: Record<string, unknown>;
  /** Stores every tensor under another name. */
  rename?: (key: string) => string;
}

export async function editedCopy(src: string, edits: CopyEdits = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moekit-model-"));
  const file = await SafetensorsFile.open(new FileSource(join(src, "model.safetensors")));
  const tensors = new Map<string, Tensor | RawStored>();
  for (const k of file.keys()) {
    if (edits.drop?.includes(k)) continue;
    const stored = file.info(k).stored;
    const raw = stored === "U8" ? { dtype: stored, shape: [...file.info(k).shape], bytes: (await file.bytes(k, { expect: "u8-blocks" })).bytes } : undefined;
    tensors.set(edits.rename?.(k) ?? k, edits.replace?.[k] ?? raw ?? (await file.tensor(k)));
  }
  for (const [k, t] of Object.entries(edits.add ?? {})) tensors.set(k, t);
  await writeFile(join(dir, "model.safetensors"), safetensorsBytes(tensors));
  const config = JSON.parse(await readFile(join(src, "config.json"), "utf8")) as Record<string, unknown>;
  await writeFile(join(dir, "config.json"), JSON.stringify(edits.wholeConfig ?? { ...config, ...edits.config }));
  await copyFile(join(src, "generation_config.json"), join(dir, "generation_config.json"));
  return dir;
}
