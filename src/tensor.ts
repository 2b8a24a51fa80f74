import type { Backend } from "./backends/backend.js";
import { type DType, type HostStorage, widenToF32 } from "./dtype.js";

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
 * `isHost`) keep their values in `storage` as a typed array; device tensors keep an opaque handle there.
 * Reading values back is always explicit and async: `await t.data()`.
 */
export class Tensor {
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly storage: unknown,
    readonly backend: Backend | null = null,
  ) {}

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

  /** Host values, synchronously; only for host tensors. */
  hostStorage(): HostStorage {
    if (!this.isHost) throw new Error(`tensor on backend '${this.backend!.name}' is not in host memory: use await t.data()`);
    return this.storage as HostStorage;
  }

  /** Values on the host: Float32Array for float dtypes (16-bit floats widened), Int32Array for int32. */
  async data(): Promise<Float32Array | Int32Array> {
    if (!this.isHost) return this.backend!.read(this);
    const s = this.storage as HostStorage;
    if (this.dtype === "int32") return new Int32Array(s as Int32Array);
    return widenToF32(s, this.dtype);
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
    return new Tensor(dims, this.dtype, this.storage, this.backend);
  }

  toString(): string {
    return `Tensor(${shapeString(this.shape)}, ${this.dtype}${this.backend ? `, ${this.backend.name}` : ""})`;
  }
}
