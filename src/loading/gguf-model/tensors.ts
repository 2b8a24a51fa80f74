/**
 * GGUF tensors as the Tensors the family loaders read: stored bytes in their own format (float32,
 * float16, bfloat16 or a ggml block format), experts of a stacked tensor as slices of one buffer (read
 * once, never copied per expert), granite's gate|up stack as a view of row segments over the two GGUF
 * stacks, llama.cpp's q/k row permutation undone, and DeepSeek's kv_b rebuilt from its two halves.
 */
import { SegmentedStorage } from "../../formats/segments.js";
import { widen } from "../../formats/widen.js";
import { rowBytes, storageMatches, type DType, type HostStorage } from "../../formats/table.js";
import { Tensor } from "../../tensor.js";
import type { TensorProvider } from "../checkpoint.js";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.js";
import type { TensorInfo } from "../safetensors-header.js";

/** The stored-dtype name a GGUF tensor reports (safetensors' names for floats, ggml's upper-cased for blocks). */
export function storedName(info: GgufTensorInfo): string {
  const g = info.type.ggml;
  return g === "f32" ? "F32" : g === "f16" ? "F16" : g === "bf16" ? "BF16" : g === "i32" ? "I32" : g.toUpperCase();
}

function formatOf(file: GgufFile, info: GgufTensorInfo): DType {
  if (info.format === null) throw new Error(`${file.source.name}: tensor '${info.name}' is stored as ggml type ${info.type.ggml}, which moekit does not read`);
  return info.format as DType;
}

/** Typed storage of `format` over bytes [offset, offset + length) of `bytes` (bytes start aligned: a fresh read). */
function storageOver(bytes: Uint8Array, format: DType, offset: number, length: number): HostStorage {
  const at = bytes.byteOffset + offset;
  let s: HostStorage;
  if (format === "float32") s = new Float32Array(bytes.buffer, at, length / 4);
  else if (format === "int32") s = new Int32Array(bytes.buffer, at, length / 4);
  else if (format === "bfloat16" || format === "float16") s = new Uint16Array(bytes.buffer, at, length / 2);
  else s = new Uint8Array(bytes.buffer, at, length);
  if (!storageMatches(format, s)) throw new Error(`internal: ${format} storage`);
  return s;
}

/** Reads each GGUF tensor's bytes at most once (expert slices and views share them). */
export class GgufBytes {
  private readonly cache = new Map<string, Promise<Uint8Array>>();

  constructor(readonly file: GgufFile) {}

  info(name: string): GgufTensorInfo {
    return this.file.info(name);
  }

  async bytes(name: string): Promise<Uint8Array> {
    const info = this.file.info(name);
    // GGUF data offsets are multiples of general.alignment (>= 8 in practice): mapped views are used in place,
    // and made afresh each time (free), so a mapping a disposed model released is never handed out again.
    const v = info.begin % 8 === 0 ? this.file.source.view?.(info.begin, info.end - info.begin) : undefined;
    if (v) return v;
    let p = this.cache.get(name);
    if (!p) {
      p = this.file.tensorBytes(name).then((t) => (t.bytes.byteOffset % 8 === 0 ? t.bytes : t.bytes.slice()));
      this.cache.set(name, p);
    }
    return p;
  }

  async tensor(name: string): Promise<Tensor> {
    const info = this.info(name);
    const format = formatOf(this.file, info);
    const b = await this.bytes(name);
    return new Tensor(info.shape, format, storageOver(b, format, 0, b.length), null);
  }
}

function hfInfo(name: string, g: GgufTensorInfo, shape: number[], begin = g.begin, end = g.end): TensorInfo {
  return { name, stored: storedName(g), shape, begin, end };
}

/** A GGUF tensor under its Hugging Face name, as stored. */
export function plain(src: GgufBytes, gguf: string, hf: string): TensorProvider {
  const g = src.info(gguf);
  return { info: () => hfInfo(hf, g, [...g.shape]), tensor: () => src.tensor(gguf) };
}

/** Expert `x` of a stacked [E, out, in] tensor: rows of the one stack buffer. */
export function expertSlice(src: GgufBytes, gguf: string, hf: string, x: number): TensorProvider {
  const g = src.info(gguf);
  const [e, out, inF] = g.shape as [number, number, number];
  const per = (g.end - g.begin) / e;
  return {
    info: () => ({ ...hfInfo(hf, g, [out, inF], g.begin + x * per, g.begin + (x + 1) * per), sliceOf: gguf }),
    tensor: async () => {
      const format = formatOf(src.file, g);
      return new Tensor([out, inF], format, storageOver(await src.bytes(gguf), format, x * per, per), null);
    },
  };
}

/** [E, 2I, H] gate|up per expert as a view over the [E, I, H] gate and up stacks (granite's input_linear layout). */
export function gateUpView(src: GgufBytes, gate: string, up: string, hf: string): TensorProvider {
  const g = src.info(gate);
  const u = src.info(up);
  const stacked = g.shape.length === 3;
  const shape = stacked ? [g.shape[0]!, 2 * g.shape[1]!, g.shape[2]!] : [2 * g.shape[0]!, g.shape[1]!];
  return {
    info: () => {
      if (g.type !== u.type || g.shape.join() !== u.shape.join()) {
        throw new Error(`${src.file.source.name}: '${gate}' (${g.type.ggml} [${g.shape.join(", ")}]) and '${up}' (${u.type.ggml} [${u.shape.join(", ")}]) must match to form '${hf}'`);
      }
      return hfInfo(hf, g, shape, Math.min(g.begin, u.begin), Math.max(g.end, u.end));
    },
    tensor: async () => {
      const format = formatOf(src.file, g);
      const [gb, ub] = [await src.bytes(gate), await src.bytes(up)];
      const e = stacked ? g.shape[0]! : 1;
      const rows = stacked ? g.shape[1]! : g.shape[0]!;
      const per = rows * rowBytes(format, g.shape[g.shape.length - 1]!);
      const gs = storageOver(gb, format, 0, gb.length);
      const us = storageOver(ub, format, 0, ub.length);
      const segments = [];
      for (let x = 0; x < e; x++) segments.push({ data: gs, byteOffset: x * per, rows }, { data: us, byteOffset: x * per, rows });
      return new Tensor(shape, format, new SegmentedStorage(segments), null);
    },
  };
}

/**
 * q or k under its HF name with convert_hf_to_gguf's permutation undone: the GGUF keeps each head's
 * rotary pairs (i, i + d/2) as adjacent rows (2i, 2i + 1); HF keeps the two halves apart.
 */
export function unpermuted(src: GgufBytes, gguf: string, hf: string, heads: number): TensorProvider {
  const g = src.info(gguf);
  return {
    info: () => hfInfo(hf, g, [...g.shape]),
    tensor: async () => {
      const t = await src.tensor(gguf);
      const [rows, cols] = t.shape as [number, number];
      const d = rows / heads;
      if (!Number.isInteger(d) || d % 2 !== 0) throw new Error(`${src.file.source.name}: '${gguf}' has ${rows} rows, not ${heads} heads of an even size`);
      const rb = rowBytes(t.dtype, cols);
      const s = t.hostStorage();
      const from = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
      const to = new Uint8Array(from.length);
      for (let h = 0; h < heads; h++) {
        for (let j = 0; j < d / 2; j++) {
          for (let half = 0; half < 2; half++) {
            const dst = h * d + half * (d / 2) + j;
            const srcRow = h * d + 2 * j + half;
            to.set(from.subarray(srcRow * rb, (srcRow + 1) * rb), dst * rb);
          }
        }
      }
      return new Tensor(t.shape, t.dtype, storageOver(to, t.dtype, 0, to.length), null);
    },
  };
}

/**
 * DeepSeek's kv_b_proj [heads·(nope + v), rank] rebuilt from the two halves llama.cpp's converter splits
 * it into: k_b [heads, rank, nope] (each head's key half, transposed) and v_b [heads, v, rank]. The
 * transpose is element-wise, so the result is float32 whatever the stored format.
 */
export function kvBFromSplit(src: GgufBytes, kB: string, vB: string, hf: string): TensorProvider {
  const k = src.info(kB);
  const v = src.info(vB);
  const where = src.file.source.name;
  const shapes = () => {
    if (k.shape.length !== 3 || v.shape.length !== 3 || k.shape[0] !== v.shape[0] || k.shape[1] !== v.shape[2]) {
      throw new Error(`${where}: '${kB}' [${k.shape.join(", ")}] and '${vB}' [${v.shape.join(", ")}] are not the [heads, rank, nope] and [heads, v, rank] halves of a kv_b projection`);
    }
    const [heads, rank, nope] = k.shape as [number, number, number];
    return { heads, rank, nope, vDim: v.shape[1]! };
  };
  return {
    info: () => {
      const { heads, rank, nope, vDim } = shapes();
      return { name: hf, stored: "F32", shape: [heads * (nope + vDim), rank], begin: Math.min(k.begin, v.begin), end: Math.max(k.end, v.end) };
    },
    tensor: async () => {
      const { heads, rank, nope, vDim } = shapes();
      const kt = await src.tensor(kB);
      const vt = await src.tensor(vB);
      const kf = widen(kt.hostStorage(), kt.dtype);
      const vf = widen(vt.hostStorage(), vt.dtype);
      const out = new Float32Array(heads * (nope + vDim) * rank);
      for (let h = 0; h < heads; h++) {
        const base = h * (nope + vDim) * rank;
        for (let j = 0; j < nope; j++) for (let r = 0; r < rank; r++) out[base + j * rank + r] = kf[(h * rank + r) * nope + j]!;
        out.set(vf.subarray(h * vDim * rank, (h + 1) * vDim * rank), base + nope * rank);
      }
      return Tensor.from(out, [heads * (nope + vDim), rank]);
    },
  };
}

/**
 * [E, 2I] rows of `a` then `b` per row from two [E, I] tensors (gpt-oss's gate and up expert biases), as
 * float32: a copy, of vectors only.
 */
export function joinedRows(src: GgufBytes, a: string, b: string, hf: string): TensorProvider {
  const ai = src.info(a);
  const where = src.file.source.name;
  const check = () => {
    if (!src.file.tensors.has(b)) throw new Error(`${where}: '${a}' needs its partner '${b}' to form '${hf}'`);
    const bi = src.info(b);
    if (ai.shape.length !== 2 || ai.shape.join() !== bi.shape.join()) {
      throw new Error(`${where}: '${a}' [${ai.shape.join(", ")}] and '${b}' [${bi.shape.join(", ")}] must both be [experts, width] to form '${hf}'`);
    }
    return bi;
  };
  return {
    info: () => {
      const bi = check();
      return { name: hf, stored: "F32", shape: [ai.shape[0]!, 2 * ai.shape[1]!], begin: Math.min(ai.begin, bi.begin), end: Math.max(ai.end, bi.end) };
    },
    tensor: async () => {
      check();
      const [rows, width] = ai.shape as [number, number];
      const at = await src.tensor(a);
      const bt = await src.tensor(b);
      const av = widen(at.hostStorage(), at.dtype);
      const bv = widen(bt.hostStorage(), bt.dtype);
      const out = new Float32Array(rows * 2 * width);
      for (let r = 0; r < rows; r++) {
        out.set(av.subarray(r * width, (r + 1) * width), r * 2 * width);
        out.set(bv.subarray(r * width, (r + 1) * width), r * 2 * width + width);
      }
      return Tensor.from(out, [rows, 2 * width]);
    },
  };
}
