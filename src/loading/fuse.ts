/**
 * Checkpoint keys → transformers' fused experts layout as views: a stack of per-expert tensors is a
 * row-segment view over the tensors as read (src/formats/segments.ts), never a copy of a mapped file; only
 * layouts that must be transformed (gpt_oss's transposed stacks) are rebuilt, and parts that moekit allocated
 * itself (quantized at load, read without mapping) are gathered into one buffer where huge pages are to be had.
 */
import type { DType, HostStorage } from "../dtype.js";
import { narrowFromF32, widenToF32 } from "../dtype.js";
import { HUGE_MIN_BYTES, alignedBytes, hugePagesAvailable } from "../formats/aligned.js";
import { SegmentedStorage, strideOf, type RowSegment } from "../formats/segments.js";
import { formatInfo, rowBytes, storageBytes, storageOver } from "../formats/table.js";
import { shapeString, Tensor } from "../tensor.js";
import type { Checkpoint } from "./checkpoint.js";
import { mappedRange } from "./mapped-views.js";

function allocate(dtype: DType, n: number): HostStorage {
  return storageOver(dtype, alignedBytes(storageBytes(dtype, [n])));
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
 * Stack parts into one tensor of `shape` as a view (no copy): part p (for each key list) fills the rows
 * of `partShapes[p]` in each of the `outer` slices. `keys[e][p]` names the tensor for slice e, part p.
 * Used for [E, 2I, H] gate|up stacks (outer E, parts gate and up) and [E, H, I] down stacks (one part).
 * A part stored in another dtype than the first is converted (that part only is copied).
 */
export async function stackParts(ckpt: Checkpoint, keys: string[][], partShapes: number[][]): Promise<Tensor> {
  // Every part present with the shape the config implies before anything is read, so a config
  // with huge sizes is an error naming a tensor, not an allocation failure.
  for (const row of keys) row.forEach((key, p) => checkShape(ckpt, key, partShapes[p]!));
  const rows = partShapes.reduce((a, s) => a + s[0]!, 0);
  const shape = [keys.length, rows, ...partShapes[0]!.slice(1)];
  const parts: Tensor[] = [];
  let packed: StackBuffer | undefined;
  for (const row of keys) {
    for (let p = 0; p < row.length; p++) {
      const t = await expectTensor(ckpt, row[p]!, partShapes[p]!);
      if (parts.length === 0 && ownBuffer(t)) packed = stackBuffer(t.dtype, shape);
      parts.push(packed?.take(t) ?? t);
      if (packed?.full) return packed.tensor;
    }
  }
  return rowView(parts, parts[0]?.dtype ?? "float32", shape);
}

/** Whether `t` holds one host buffer of its own that moekit allocated (read or quantized: not a view, not mapped). */
function ownBuffer(t: Tensor): boolean {
  if (!t.isHost || t.isView) return false;
  const s = t.hostStorage();
  return mappedRange(s, 0, 0) === undefined;
}

/**
 * One buffer for a whole stack whose parts moekit allocated one by one (quantized at load, read without mapping):
 * copied into it as they arrive, a stack is one allocation large enough for huge pages (src/formats/aligned.ts; a
 * q4_0 expert matrix of 1408 × 2048 is 1.6 MB, below any whole 2 MiB stretch). Only where huge pages are to be had
 * (the cpu backend loaded): elsewhere the parts stay as they are, under a view.
 */
interface StackBuffer {
  /** `t` copied in (a view of its place in the stack), or undefined once a part cannot be (the caller keeps it). */
  take(t: Tensor): Tensor | undefined;
  readonly full: boolean;
  /** The stack, once full. */
  readonly tensor: Tensor;
}

function stackBuffer(dtype: DType, shape: number[]): StackBuffer | undefined {
  const bytes = storageBytes(dtype, shape);
  if (!hugePagesAvailable() || bytes < HUGE_MIN_BYTES) return undefined;
  const buf = alignedBytes(bytes);
  const view = (at: number, n: number) => storageOver(dtype, buf.subarray(at, at + n));
  let at = 0;
  let open = true;
  return {
    take(t) {
      const n = storageBytes(dtype, t.shape);
      if (!open || t.dtype !== dtype || !ownBuffer(t) || t.hostStorage().byteLength !== n || at + n > bytes) {
        open = false;
        return undefined;
      }
      const src = t.hostStorage();
      buf.set(new Uint8Array(src.buffer, src.byteOffset, n), at);
      const part = new Tensor([...t.shape], dtype, view(at, n), null);
      at += n;
      return part;
    },
    get full() {
      return open && at === bytes;
    },
    get tensor() {
      return new Tensor([...shape], dtype, view(0, bytes), null);
    },
  };
}

/** `parts` (each ≥ 2-D, same last dim) one after another as the rows of a tensor of `shape`, without copying. */
export function rowView(parts: readonly Tensor[], dtype: DType, shape: readonly number[]): Tensor {
  const segments: RowSegment[] = [];
  for (const t of parts) {
    const cols = t.shape[t.rank - 1]!;
    if (t.dtype !== dtype && (formatInfo(t.dtype).kind === "block" || formatInfo(dtype).kind === "block")) {
      throw new Error(`a stack mixes ${t.dtype} and ${dtype} parts (block formats are not converted at load)`);
    }
    const same = t.dtype === dtype ? t : new Tensor(t.shape, dtype, narrowFromF32(widenToF32(t.hostStorage(), t.dtype), dtype), null);
    if (same.storage instanceof SegmentedStorage) segments.push(...same.storage.segments);
    else segments.push({ data: same.hostStorage(), byteOffset: 0, rows: cols === 0 ? 0 : same.size / cols });
  }
  return new Tensor([...shape], dtype, new SegmentedStorage(segments), null);
}

/**
 * Host tensors of one dtype (same trailing dims: matrices, or vectors such as biases) as the rows of one
 * contiguous tensor, copied once: for what must lie in one buffer (a bias is read as one row; matrices
 * can be row-segment views instead). Undefined when a part is not a contiguous host tensor of the
 * first part's dtype (device tensors, views, mixed formats after quantizing): the caller keeps the parts.
 */
export function contiguousRows(parts: readonly Tensor[]): Tensor | undefined {
  const first = parts[0];
  if (!first || first.rank < 1) return undefined;
  const tail = first.shape.slice(1);
  const ok = parts.every((p) => p.isHost && !p.isView && p.dtype === first.dtype && p.rank === first.rank && p.shape.slice(1).every((d, i) => d === tail[i]));
  if (!ok) return undefined;
  const stores = parts.map((p) => p.hostStorage());
  const Ctor = stores[0]!.constructor as new (n: number) => HostStorage;
  const out = new Ctor(stores.reduce((a, s) => a + s.length, 0));
  let offset = 0;
  for (const s of stores) {
    out.set(s as never, offset);
    offset += s.length;
  }
  return new Tensor([parts.reduce((a, p) => a + p.shape[0]!, 0), ...tail], first.dtype, out, first.backend);
}

/** Rows [r0, r0 + n) of a host tensor (contiguous or a row-segment view) as row segments, without copying. */
export function rowSegments(t: Tensor, r0: number, n: number): RowSegment[] {
  const cols = t.shape[t.rank - 1]!;
  const rb = rowBytes(t.dtype, cols);
  const total = cols === 0 ? 0 : t.size / cols;
  if (!Number.isInteger(r0) || !Number.isInteger(n) || r0 < 0 || n < 0 || r0 + n > total) throw new Error(`rowSegments: rows [${r0}, ${r0 + n}) are outside the ${total} rows of ${t.toString()}`);
  if (!(t.storage instanceof SegmentedStorage)) return n === 0 ? [] : [{ data: t.hostStorage(), byteOffset: r0 * rb, rows: n }];
  const out: RowSegment[] = [];
  let row = 0;
  for (const seg of t.storage.segments) {
    const lo = Math.max(r0, row);
    const hi = Math.min(r0 + n, row + seg.rows);
    const stride = strideOf(seg, rb);
    if (lo < hi) out.push(stride === rb ? { data: seg.data, byteOffset: seg.byteOffset + (lo - row) * rb, rows: hi - lo } : { data: seg.data, byteOffset: seg.byteOffset + (lo - row) * stride, rows: hi - lo, rowStride: stride });
    row += seg.rows;
  }
  return out;
}

/** [A, B, C] → [A, C, B] (gpt_oss stores experts transposed, in × out). */
export function transposeLast2(t: Tensor): Tensor {
  if (formatInfo(t.dtype).kind === "block") throw new Error(`experts stored in × out cannot be transposed in ${t.dtype} (${shapeString(t.shape)}): block formats hold whole rows, moekit keeps them as stored`);
  const [a, b, c] = t.shape as [number, number, number];
  const src = t.hostStorage();
  const out = allocate(t.dtype, src.length);
  for (let i = 0; i < a; i++) {
    const base = i * b * c;
    for (let r = 0; r < b; r++) for (let col = 0; col < c; col++) out[base + col * b + r] = src[base + r * c + col]!;
  }
  return new Tensor([a, c, b], t.dtype, out, null);
}

/**
 * Concatenate along dim 0 (same trailing dims); used to fuse dense gate and up weights. Matrices become a
 * row view of the parts (no copy); vectors (biases) are copied.
 */
export function concatRows(parts: Tensor[]): Tensor {
  const dtype = parts[0]!.dtype;
  const tail = parts[0]!.shape.slice(1);
  const total = parts.reduce((a, p) => a + p.shape[0]!, 0);
  for (const p of parts) {
    if (p.rank !== tail.length + 1 || p.shape.slice(1).some((d, i) => d !== tail[i])) throw new Error(`concatRows: ${shapeString(p.shape)} does not match trailing dims ${shapeString(tail)}`);
  }
  if (tail.length > 0) return rowView(parts, dtype, [total, ...tail]);
  const out = allocate(dtype, parts.reduce((a, p) => a + p.size, 0));
  let offset = 0;
  for (const p of parts) {
    copyInto(out, dtype, offset, p);
    offset += p.size;
  }
  return new Tensor([total, ...tail], dtype, out, null);
}

