/**
 * Reading a model's weights: shape-checked against the config, optionally cast to a storage dtype,
 * and moved onto the backend. Presence and shapes are checked beforehand, for the whole model at once
 * (key-plan.ts).
 */
import type { Backend } from "../../backends/backend.js";
import type { DType } from "../../dtype.js";
import type { Checkpoint } from "../../loading/checkpoint.js";
import { weightRows } from "../../formats/rows.js";
import { isBlockFormat, isFloat } from "../../formats/table.js";
import { shapeString, Tensor } from "../../tensor.js";
import { formatFor, isQuantDType, layerOfKey, quantizeTensor, roleOfKey, type MatrixRole, type QuantDType, type QuantModelInfo } from "./quantize.js";

/**
 * "auto" keeps each tensor's stored dtype; a float dtype converts matrices (norms and biases stay as stored); a
 * quantized dtype (quantize.ts) quantizes the matrices at load, tensor by tensor, as llama.cpp's mixes do
 * (embeddings, routers, norms and biases stay float).
 */
export type WeightDType = "auto" | "float32" | "bfloat16" | "float16" | QuantDType;

export class WeightReader {
  constructor(
    readonly ckpt: Checkpoint,
    readonly backend: Backend,
    readonly dtype: WeightDType = "auto",
    /** The model's layer and expert counts (the quantized mixes depend on them). */
    readonly model: QuantModelInfo = { numLayers: 0, numExperts: 0 },
    /** Quantized dtypes: widen each quantized matrix back to float32 (the quantized model's float equivalent). */
    readonly widenQuantized = false,
    /** Called with each float matrix and its quantized form. */
    readonly onQuantize?: (source: Tensor, quantized: Tensor) => void,
  ) {}

  /** Whether the matrices are quantized at load (and not cast). */
  get quantizes(): boolean {
    return isQuantDType(this.dtype);
  }

  /**
   * A host matrix of `role` (layer `layer`, −1 outside the layers) in the load dtype, on the backend: quantized
   * (the float tensor is dropped) when the dtype is a quantized one and its rows allow, else adopted as stored.
   * `what` names it in errors.
   */
  matrix(t: Tensor, role: MatrixRole, layer: number, what: string, on: Backend = this.backend): Tensor {
    if (!isQuantDType(this.dtype) || t.rank < 2 || !isFloat(t.dtype) || isBlockFormat(t.dtype)) return on.adopt(t);
    const format = formatFor(this.dtype, role, layer, t.shape[t.rank - 1]!, this.model);
    if (!format) return on.adopt(t);
    const q = quantizeTensor(t, format, what);
    this.onQuantize?.(t, q);
    return on.adopt(this.widenQuantized ? new Tensor([...q.shape], "float32", weightRows(q, 0, q.size / q.shape[q.rank - 1]!)) : q);
  }

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

  private prepare(key: string, t: Tensor): Tensor {
    const b = this.backend;
    if (this.quantizes) return key === "model.embed_tokens.weight" ? b.adopt(t) : this.matrix(t, roleOfKey(key), layerOfKey(key), `'${key}'`);
    const target: DType | undefined = this.dtype === "auto" || isQuantDType(this.dtype) ? undefined : this.dtype;
    const onBackend = b.adopt(t);
    if (target && t.rank >= 2 && t.dtype !== "int32" && t.dtype !== target) return b.cast(onBackend, target);
    return onBackend;
  }
}
