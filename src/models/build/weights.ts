/**
 * Reading a model's weights: shape-checked against the config, optionally cast to a storage dtype,
 * and moved onto the backend. Missing tensors are collected so one error can name them all.
 */
import type { Backend } from "../../backends/backend.js";
import type { DType } from "../../dtype.js";
import type { Checkpoint } from "../../loading/checkpoint.js";
import { shapeString, type Tensor } from "../../tensor.js";

/** "auto" keeps each tensor's stored dtype; a float dtype converts matrices (norms and biases stay as stored). */
export type WeightDType = "auto" | "float32" | "bfloat16" | "float16";

export class WeightReader {
  private readonly missing: string[] = [];

  constructor(
    readonly ckpt: Checkpoint,
    readonly backend: Backend,
    readonly dtype: WeightDType = "auto",
  ) {}

  /** A required tensor; a missing one is recorded (see `throwIfMissing`) and a placeholder returned. */
  async get(key: string, shape: number[]): Promise<Tensor> {
    if (!this.ckpt.has(key)) {
      this.missing.push(key);
      return this.backend.zeros(shape);
    }
    return this.prepare(key, await this.read(key, shape));
  }

  async optional(key: string, shape: number[]): Promise<Tensor | undefined> {
    return this.ckpt.has(key) ? this.prepare(key, await this.read(key, shape)) : undefined;
  }

  /** Required when `required`, else read only if present. */
  async maybe(key: string, shape: number[], required: boolean): Promise<Tensor | undefined> {
    return required ? this.get(key, shape) : undefined;
  }

  /** Record a key as missing (for parts loaded by other helpers that check presence first). */
  expect(key: string): boolean {
    if (this.ckpt.has(key)) return true;
    this.missing.push(key);
    return false;
  }

  throwIfMissing(): void {
    if (this.missing.length === 0) return;
    const shown = this.missing.slice(0, 20).map((k) => `'${k}'`).join(", ");
    const more = this.missing.length > 20 ? ` and ${this.missing.length - 20} more` : "";
    throw new Error(`checkpoint '${this.ckpt.name}' is missing ${this.missing.length} tensor(s) the config requires: ${shown}${more}`);
  }

  private async read(key: string, shape: number[]): Promise<Tensor> {
    const info = this.ckpt.info(key);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`checkpoint '${this.ckpt.name}': '${key}' has shape ${shapeString(info.shape)}, config implies ${shapeString(shape)}`);
    }
    return this.ckpt.tensor(key);
  }

  private prepare(_key: string, t: Tensor): Tensor {
    const b = this.backend;
    const target: DType | undefined = this.dtype === "auto" ? undefined : this.dtype;
    const onBackend = b.adopt(t);
    if (target && t.rank >= 2 && t.dtype !== "int32" && t.dtype !== target) return b.cast(onBackend, target);
    return onBackend;
  }
}
