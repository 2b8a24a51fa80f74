import type { Backend } from "./backends/backend.js";
import { weightRows } from "./formats/rows.js";
import { SegmentedStorage } from "./formats/segments.js";
import { checkedNumel, formatInfo, storageLength, storageMatches, storageName, type DType, type HostStorage } from "./formats/table.js";
import { widen } from "./formats/widen.js";

/** Typed arrays accepted by `Tensor.from`. */
export type TensorInput = Float32Array | Int32Array | Uint16Array;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * An n-dimensional tensor owned by a backend. Host tensors (`backend === null`, or a backend with
 * `isHost`) keep their values in `storage` as a typed array of exactly the length that shape and format
 * imply, or as a view of row segments (SegmentedStorage, weights only); device tensors keep an opaque
 * handle there (checked by their backend at upload). Reading values back is always explicit and async:
 * `await t.data()`.
 */
export class Tensor {
  readonly shape: readonly number[];

  constructor(
    shape: readonly number[],
    readonly dtype: DType,
    readonly storage: unknown,
    readonly backend: Backend | null = null,
  ) {
    if (!Array.isArray(shape)) throw new Error(`Tensor: shape must be an array of dims, got ${String(shape)}`);
    const f = formatInfo(dtype);
    checkedNumel(shape, "Tensor: shape");
    this.shape = Object.freeze([...shape]);
    if (backend !== null && typeof backend !== "object") throw new Error("Tensor: backend must be a Backend or null");
    if (storage instanceof SegmentedStorage) {
      if (shape.length < 1) throw new Error("Tensor: a view of row segments needs at least one dim");
      const cols = shape[shape.length - 1]!;
      storage.validate(dtype, cols, cols === 0 ? storage.rows : checkedNumel(shape) / cols);
    } else if (ArrayBuffer.isView(storage)) {
      if (!storageMatches(dtype, storage)) throw new Error(`Tensor: ${dtype} values must be stored in a ${storageName(dtype)}, got ${storage.constructor.name}`);
      const want = storageLength(dtype, shape);
      if (storage.length !== want) {
        throw new Error(`Tensor: a ${storageName(dtype)} of ${storage.length} elements does not hold ${dtype} ${shapeString(shape)} (${want} needed)`);
      }
    } else if (backend === null || backend.isHost) {
      throw new Error(`Tensor: a host tensor needs a typed array or a row-segment view as storage${f.kind === "block" ? " (Uint8Array blocks)" : ""}`);
    }
  }

  /**
   * A host tensor from a typed array. Float32Array → float32, Int32Array → int32; a Uint16Array holds
   * raw 16-bit floats and needs `dtype` ("bfloat16" or "float16").
   */
  static from(data: TensorInput, shape: readonly number[], dtype?: DType): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`Tensor.from: invalid shape ${shapeString(shape)}`);
    }
    let dt: DType;
    if (data instanceof Float32Array) dt = "float32";
    else if (data instanceof Int32Array) dt = "int32";
    else if (data instanceof Uint16Array) {
      if (dtype !== "bfloat16" && dtype !== "float16") {
        throw new Error("Tensor.from: a Uint16Array needs dtype 'bfloat16' or 'float16'");
      }
      dt = dtype;
    } else {
      throw new Error("Tensor.from: data must be a Float32Array, Int32Array or Uint16Array");
    }
    if (dtype !== undefined && dtype !== dt) {
      throw new Error(`Tensor.from: dtype ${dtype} does not match the ${data.constructor.name} given`);
    }
    if (numel(shape) !== data.length) {
      throw new Error(`Tensor.from: ${data.length} values do not fill shape ${shapeString(shape)} (${numel(shape)})`);
    }
    return new Tensor([...shape], dt, data, null);
  }

  get size(): number {
    return numel(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** True when `storage` is a host typed array that can be read synchronously. */
  get isHost(): boolean {
    return this.backend === null || this.backend.isHost;
  }

  /** True when the rows live in other buffers (a SegmentedStorage view). */
  get isView(): boolean {
    return this.storage instanceof SegmentedStorage;
  }

  /** Host values, synchronously; only for contiguous host tensors (views: see formats/rows weightRows). */
  hostStorage(): HostStorage {
    if (!this.isHost) throw new Error(`tensor on backend '${this.backend!.name}' is not in host memory: use await t.data()`);
    if (this.isView) throw new Error(`${this.toString()} is a view of row segments, not one buffer: read its rows with weightRows`);
    return this.storage as HostStorage;
  }

  /** Values on the host: Float32Array for float dtypes (widened from any format), Int32Array for int32. */
  async data(): Promise<Float32Array | Int32Array> {
    if (!this.isHost) return this.backend!.read(this);
    if (this.isView) {
      const cols = this.shape[this.rank - 1]!;
      return Float32Array.from(weightRows(this, 0, cols === 0 ? 0 : this.size / cols));
    }
    const s = this.storage as HostStorage;
    if (this.dtype === "int32") return new Int32Array(s as Int32Array);
    return widen(s, this.dtype);
  }

  /** Same storage, new shape (host tensors only; the element count must match). */
  reshape(shape: readonly number[]): Tensor {
    let inferred = -1;
    const dims = [...shape];
    let known = 1;
    dims.forEach((d, i) => {
      if (d === -1) inferred = i;
      else known *= d;
    });
    if (inferred >= 0) dims[inferred] = known === 0 ? 0 : this.size / known;
    if (numel(dims) !== this.size || dims.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`cannot reshape ${shapeString(this.shape)} to ${shapeString(shape)}`);
    }
    const storage = this.storage instanceof SegmentedStorage ? this.storage.regroup(this.shape[this.rank - 1] ?? 1, dims[dims.length - 1] ?? 1) : this.storage;
    return new Tensor(dims, this.dtype, storage, this.backend);
  }

  toString(): string {
    return `Tensor(${shapeString(this.shape)}, ${this.dtype}${this.backend ? `, ${this.backend.name}` : ""})`;
  }
}
