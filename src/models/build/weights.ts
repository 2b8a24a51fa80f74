/**
 * Reading a model's weights: shape-checked against the config, optionally cast to a storage dtype,
 * and moved onto the backend. Presence and shapes are checked beforehand, for the whole model at once
 * (key-plan.ts).
 */
import type { Backend } from "../../backends/backend.js";
import type { DType } from "../../dtype.js";
import type { Checkpoint } from "../../loading/checkpoint.js";
import { shapeString, type Tensor } from "../../tensor.js";

/** "auto" keeps each tensor's stored dtype; a float dtype converts matrices (norms and biases stay as stored). */
export type WeightDType = "auto" | "float32" | "bfloat16" | "float16";

export class WeightReader {
  constructor(
    readonly ckpt: Checkpoint,
    readonly backend: Backend,
    readonly dtype: WeightDType = "auto",
  ) {}

  /** A required tensor (the model's key plan has already checked that it is present with this shape). */
  async get(key: string, shape: number[]): Promise<Tensor> {
    return this.prepare(key, await this.read(key, shape));
  }

  /** A required tensor with `fn` applied to each value, as float32 ((1 + w) norm weights, −exp(A_log)). */
  async getMapped(key: string, shape: number[], fn: (x: number) => number): Promise<Tensor> {
    const host = await (await this.read(key, shape)).data();
    return this.backend.fromHost(Float32Array.from(host, fn), shape, "float32");
  }

  /** Required when `required`, else not read. */
  async maybe(key: string, shape: number[], required: boolean): Promise<Tensor | undefined> {
    return required ? this.get(key, shape) : undefined;
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
