/**
 * `moekit quantize`: a float checkpoint written back as safetensors with its matrices quantized exactly as
 * `fromPretrained(dir, { dtype })` quantizes them at load (Node only; the CLI imports it lazily).
 *
 * The model is loaded once on the reference backend with quantize at load (tensor by tensor: peak ≈ the quantized
 * model plus one float tensor) and every quantization is traced back to the checkpoint tensors it read: a stack
 * of experts is a row view of the per-expert tensors as read, so each quantized row belongs to one checkpoint
 * tensor and row. Those tensors are written as U8 [..., rows, cols/blockElems, blockBytes] and named in
 * `quantization_config.formats` (quant_method "moekit", read back by src/loading/moekit-quant-checkpoint.ts);
 * everything else is copied as stored, one tensor at a time. A matrix the loader builds by transposing or
 * converting (in × out expert stacks: gpt_oss, llama4, dbrx's w2) cannot be traced to stored rows: it stays float
 * in the file and is quantized when the file loads (the config's dtype is its default load dtype), so the loaded
 * model is the same either way.
 */
import { open, rename, rm } from "node:fs/promises";
import { formatInfo, rowBytes, type DType } from "../../formats/table.js";
import { SegmentedStorage } from "../../formats/segments.js";
import { Checkpoint, type TensorProvider } from "../../loading/checkpoint.js";
import { briefName } from "../../loading/brief.js";
import { Tensor } from "../../tensor.js";
import { loadCausalLMParts } from "./load-causal-lm.js";
import { quantMethod } from "./quantization-config.js";
import type { QuantDType } from "./quantize.js";

interface Piece {
  row: number;
  rows: number;
  bytes: Uint8Array;
}

interface Traced {
  format: DType;
  shape: number[];
  pieces: Piece[];
}

export interface QuantizeResult {
  /** Tensors written quantized, by format. */
  formats: Record<string, number>;
  /** Tensors copied as stored. */
  copied: number;
  bytes: number;
}

/** Which checkpoint tensor each host storage read from `ckpt` belongs to. */
function tracing(ckpt: Checkpoint, owners: WeakMap<object, string>): Checkpoint {
  const providers = new Map<string, TensorProvider>();
  for (const key of ckpt.keys()) {
    providers.set(key, {
      info: () => ckpt.info(key),
      tensor: async (_n, opts) => {
        const t = await ckpt.tensor(key, opts);
        if (!t.isView) owners.set(t.storage as object, key);
        return t;
      },
      bytes: (_n, opts) => ckpt.bytes(key, opts),
    });
  }
  return new Checkpoint(ckpt.name, ckpt.config, providers, ckpt.generationConfig);
}

/** The stored rows a quantized matrix was made of, or undefined when a row is not a stored tensor's row. */
function traceRows(source: Tensor, quantized: Tensor, owners: WeakMap<object, string>, ckpt: Checkpoint): { key: string; piece: Piece }[] | undefined {
  const cols = source.shape[source.rank - 1]!;
  const srcRow = rowBytes(source.dtype, cols);
  const qRow = rowBytes(quantized.dtype, cols);
  const q = quantized.storage as Uint8Array;
  const segments = source.storage instanceof SegmentedStorage ? source.storage.segments : [{ data: source.storage as Uint8Array, byteOffset: 0, rows: source.size / cols }];
  const out: { key: string; piece: Piece }[] = [];
  let at = 0;
  for (const s of segments) {
    const key = owners.get(s.data as object);
    if (key === undefined || s.byteOffset % srcRow !== 0 || ("rowStride" in s && s.rowStride !== undefined && s.rowStride !== srcRow)) return undefined;
    const info = ckpt.info(key);
    if (info.shape[info.shape.length - 1] !== cols) return undefined;
    out.push({ key, piece: { row: s.byteOffset / srcRow, rows: s.rows, bytes: q.subarray(at * qRow, (at + s.rows) * qRow) } });
    at += s.rows;
  }
  return out;
}

/** Quantizes checkpoint `ckpt` (float) to `dtype` and writes it to `outDir` (config.json, generation_config.json, model.safetensors). */
export async function quantizeCheckpoint(ckpt: Checkpoint, dtype: QuantDType, outDir: string): Promise<QuantizeResult> {
  if (quantMethod(ckpt.config) !== "none") {
    throw new Error(`checkpoint '${ckpt.name}' is already quantized (quantization_config.quant_method ${JSON.stringify((ckpt.config.quantization_config as Record<string, unknown>).quant_method)}); moekit quantize takes a float checkpoint`);
  }
  const owners = new WeakMap<object, string>();
  const traced = new Map<string, Traced>();
  const traceable = tracing(ckpt, owners);
  const onQuantize = (source: Tensor, quantized: Tensor) => {
    const pieces = traceRows(source, quantized, owners, ckpt);
    if (!pieces) return;
    for (const { key, piece } of pieces) {
      const t = traced.get(key) ?? { format: quantized.dtype, shape: [...ckpt.info(key).shape], pieces: [] };
      if (t.format !== quantized.dtype) throw new Error(`moekit quantize: ${briefName(key)} was quantized to both ${t.format} and ${quantized.dtype}`);
      t.pieces.push(piece);
      traced.set(key, t);
    }
  };
  await loadCausalLMParts(traceable, { backend: "reference", dtype, onQuantize, onWarning: () => {} });

  const formats: Record<string, string> = {};
  for (const [key, t] of traced) {
    const rows = t.shape.slice(0, -1).reduce((a, d) => a * d, 1);
    t.pieces.sort((a, b) => a.row - b.row);
    let next = 0;
    for (const p of t.pieces) {
      if (p.row !== next) throw new Error(`moekit quantize: the rows of ${briefName(key)} were not quantized exactly once (row ${next})`);
      next += p.rows;
    }
    if (next !== rows) throw new Error(`moekit quantize: ${next} of the ${rows} rows of ${briefName(key)} were quantized`);
    formats[key] = t.format;
  }
  const config = { ...ckpt.config, quantization_config: { quant_method: "moekit", dtype, formats } };
  return writeCheckpoint(ckpt, traced, config, outDir);
}

const CODE: Partial<Record<DType, string>> = { float32: "F32", bfloat16: "BF16", float16: "F16", int32: "I32" };
const RAW_KIND: Record<string, "u8-blocks" | "e8m0-scales" | "fp8"> = { U8: "u8-blocks", F8_E8M0: "e8m0-scales", F8_E4M3: "fp8" };

interface Entry {
  key: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

/** What `key` is written as: its quantized blocks, or the stored tensor (floats and ints as moekit reads them). */
function entryOf(ckpt: Checkpoint, key: string, t: Traced | undefined): Entry {
  const info = ckpt.info(key);
  if (t) {
    const f = formatInfo(t.format);
    const cols = t.shape[t.shape.length - 1]!;
    const shape = [...t.shape.slice(0, -1), cols / f.blockElems, f.blockBytes];
    return { key, dtype: "U8", shape, bytes: shape.reduce((a, d) => a * d, 1) };
  }
  const n = info.shape.reduce((a, d) => a * d, 1);
  if (RAW_KIND[info.stored]) return { key, dtype: info.stored, shape: [...info.shape], bytes: n };
  if (info.stored === "F64") return { key, dtype: "F32", shape: [...info.shape], bytes: 4 * n };
  if (info.stored === "I64") return { key, dtype: "I32", shape: [...info.shape], bytes: 4 * n };
  return { key, dtype: info.stored, shape: [...info.shape], bytes: info.end - info.begin };
}

async function entryBytes(ckpt: Checkpoint, e: Entry, t: Traced | undefined): Promise<Uint8Array> {
  if (t) {
    const out = new Uint8Array(e.bytes);
    let at = 0;
    for (const p of t.pieces) {
      out.set(p.bytes, at);
      at += p.bytes.length;
    }
    return out;
  }
  const kind = RAW_KIND[e.dtype];
  if (kind) return (await ckpt.bytes(e.key, { expect: kind })).bytes;
  const stored = ckpt.info(e.key).stored;
  const tensor = await ckpt.tensor(e.key, { expect: stored.startsWith("I") ? "int" : "float" });
  if (CODE[tensor.dtype] !== e.dtype) throw new Error(`moekit quantize: ${briefName(e.key)} (${stored}) read as ${tensor.dtype}; it cannot be copied`);
  const s = tensor.hostStorage();
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

async function writeCheckpoint(ckpt: Checkpoint, traced: Map<string, Traced>, config: Record<string, unknown>, outDir: string): Promise<QuantizeResult> {
  const { join } = await import("node:path");
  const { writeFile } = await import("node:fs/promises");
  const entries = ckpt.keys().sort().map((k) => entryOf(ckpt, k, traced.get(k)));
  const header: Record<string, unknown> = { __metadata__: { format: "pt", quantized_by: "moekit" } };
  let offset = 0;
  for (const e of entries) {
    header[e.key] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes] };
    offset += e.bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const head = new TextEncoder().encode(json);
  const path = join(outDir, "model.safetensors");
  const partial = `${path}.partial`;
  const fh = await open(partial, "w");
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(head.length), true);
    await fh.write(len);
    await fh.write(head);
    for (const e of entries) {
      const bytes = await entryBytes(ckpt, e, traced.get(e.key));
      if (bytes.length !== e.bytes) throw new Error(`moekit quantize: ${briefName(e.key)} holds ${bytes.length} bytes, the header says ${e.bytes}`);
      await fh.write(bytes);
    }
  } catch (err) {
    await fh.close();
    await rm(partial, { force: true });
    throw err;
  }
  await fh.close();
  await rename(partial, path);
  await writeFile(join(outDir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  if (ckpt.generationConfig) await writeFile(join(outDir, "generation_config.json"), `${JSON.stringify(ckpt.generationConfig, null, 2)}\n`);
  const formats: Record<string, number> = {};
  for (const t of traced.values()) formats[t.format] = (formats[t.format] ?? 0) + 1;
  return { formats, copied: entries.length - traced.size, bytes: 8 + head.length + offset };
}
