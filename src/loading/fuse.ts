/**
 * Checkpoint keys → transformers' fused experts layout, built in place: the fused stack is allocated
 * once in the checkpoint's dtype and each per-expert tensor is copied into its slot as it is read, so
 * peak memory stays near the size of the result.
 */
import type { DType, HostStorage } from "../dtype.js";
import { narrowFromF32, widenToF32 } from "../dtype.js";
import { SegmentedStorage, type RowSegment } from "../formats/segments.js";
import { numel, shapeString, Tensor } from "../tensor.js";
import type { Checkpoint } from "./checkpoint.js";

function allocate(dtype: DType, n: number): HostStorage {
  return dtype === "float32" ? new Float32Array(n) : dtype === "int32" ? new Int32Array(n) : new Uint16Array(n);
}

function copyInto(dst: HostStorage, dtype: DType, offset: number, src: Tensor): void {
  const s = src.hostStorage();
  if (src.dtype === dtype) dst.set(s as never, offset);
  else dst.set(narrowFromF32(widenToF32(s, src.dtype), dtype) as never, offset);
}

/** Throws unless the checkpoint holds `key` with `shape`; reads nothing. */
function checkShape(ckpt: Checkpoint, key: string, shape: number[]): void {
  if (!ckpt.has(key)) throw new Error(`checkpoint '${ckpt.name}' is missing '${key}'`);
  const info = ckpt.info(key);
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`checkpoint '${ckpt.name}': '${key}' has shape ${shapeString(info.shape)}, config implies ${shapeString(shape)}`);
  }
}

async function expectTensor(ckpt: Checkpoint, key: string, shape: number[]): Promise<Tensor> {
  checkShape(ckpt, key, shape);
  return ckpt.tensor(key);
}

/** Read one tensor, checking its shape against what the config implies. */
export async function loadTensor(ckpt: Checkpoint, key: string, shape: number[]): Promise<Tensor> {
  return expectTensor(ckpt, key, shape);
}

/** Read a tensor if the checkpoint has it. */
export async function loadOptional(ckpt: Checkpoint, key: string, shape: number[]): Promise<Tensor | undefined> {
  return ckpt.has(key) ? expectTensor(ckpt, key, shape) : undefined;
}

/**
 * Stack parts into one tensor of `shape`: part p (for each key list) fills `rowsPerPart[p]` rows of
 * each of the `outer` slices. `keys[e][p]` names the tensor for slice e, part p. Used for
 * [E, 2I, H] gate|up stacks (outer E, parts gate and up) and [E, H, I] down stacks (one part).
 */
export async function stackParts(ckpt: Checkpoint, keys: string[][], partShapes: number[][]): Promise<Tensor> {
  // Every part present with the shape the config implies before the stack is allocated, so a config
  // with huge sizes is an error naming a tensor, not an allocation failure.
  for (const row of keys) row.forEach((key, p) => checkShape(ckpt, key, partShapes[p]!));
  const outer = keys.length;
  if (outer > 0 && keys.every((row) => row.every((key) => ckpt.info(key).sliceOf !== undefined))) return stackSlices(ckpt, keys, partShapes);
  const sliceLen = partShapes.reduce((a, s) => a + numel(s), 0);
  const dtype = storedDtype(ckpt, keys[0]![0]!);
  const rows = partShapes.reduce((a, s) => a + s[0]!, 0);
  const shape = [outer, rows, ...partShapes[0]!.slice(1)];
  const out = allocate(dtype, outer * sliceLen);
  for (let e = 0; e < outer; e++) {
    let offset = e * sliceLen;
    for (let p = 0; p < partShapes.length; p++) {
      const t = await expectTensor(ckpt, keys[e]![p]!, partShapes[p]!);
      copyInto(out, dtype, offset, t);
      offset += t.size;
    }
  }
  return new Tensor(shape, dtype, out, null);
}

/**
 * stackParts over parts that are slices of stacks already in memory (a GGUF's ffn_*_exps): the result
 * is a view of row segments over the parts' storage, so nothing is copied.
 */
async function stackSlices(ckpt: Checkpoint, keys: string[][], partShapes: number[][]): Promise<Tensor> {
  const segments: RowSegment[] = [];
  let dtype: DType | undefined;
  for (const row of keys) {
    for (let p = 0; p < row.length; p++) {
      const t = await expectTensor(ckpt, row[p]!, partShapes[p]!);
      dtype ??= t.dtype;
      if (t.dtype !== dtype) throw new Error(`checkpoint '${ckpt.name}': '${row[p]}' is ${t.dtype}, the other experts ${dtype}`);
      segments.push({ data: t.hostStorage(), byteOffset: 0, rows: partShapes[p]![0]! });
    }
  }
  const rows = partShapes.reduce((a, s) => a + s[0]!, 0);
  return new Tensor([keys.length, rows, ...partShapes[0]!.slice(1)], dtype!, new SegmentedStorage(segments), null);
}

/** [A, B, C] → [A, C, B] (gpt_oss stores experts transposed, in × out). */
export function transposeLast2(t: Tensor): Tensor {
  const [a, b, c] = t.shape as [number, number, number];
  const src = t.hostStorage();
  const out = allocate(t.dtype, src.length);
  for (let i = 0; i < a; i++) {
    const base = i * b * c;
    for (let r = 0; r < b; r++) for (let col = 0; col < c; col++) out[base + col * b + r] = src[base + r * c + col]!;
  }
  return new Tensor([a, c, b], t.dtype, out, null);
}

/** Concatenate along dim 0 (same trailing dims); used to fuse dense gate and up weights. */
export function concatRows(parts: Tensor[]): Tensor {
  const dtype = parts[0]!.dtype;
  const tail = parts[0]!.shape.slice(1);
  const total = parts.reduce((a, p) => a + p.shape[0]!, 0);
  const out = allocate(dtype, parts.reduce((a, p) => a + p.size, 0));
  let offset = 0;
  for (const p of parts) {
    if (p.shape.slice(1).some((d, i) => d !== tail[i])) throw new Error(`concatRows: ${shapeString(p.shape)} does not match trailing dims ${shapeString(tail)}`);
    copyInto(out, dtype, offset, p);
    offset += p.size;
  }
  return new Tensor([total, ...tail], dtype, out, null);
}

function storedDtype(ckpt: Checkpoint, key: string): DType {
  const s = ckpt.info(key).stored;
  if (s === "BF16") return "bfloat16";
  if (s === "F16") return "float16";
  return "float32";
}
