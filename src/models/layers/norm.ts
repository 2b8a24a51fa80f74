/** RMSNorm or LayerNorm (with or without bias) over the last dim, as a family declares. */
import type { Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import type { WeightReader } from "../build/weights.js";
import type { NormKind } from "../config/family.js";

export class Norm {
  constructor(
    readonly kind: "rms" | "layer",
    readonly weight: Tensor,
    readonly eps: number,
    readonly bias?: Tensor,
  ) {}

  /** x [..., D] → [..., D]. */
  forward(b: Backend, x: Tensor): Tensor {
    return this.kind === "rms" ? b.rmsNorm(x, this.weight, this.eps) : b.layerNorm(x, this.weight, this.bias, this.eps);
  }

  /** `${prefix}.weight` [dim] (and `.bias` for LayerNorm with bias); `offset` is added to the weight (float32). */
  static async load(w: WeightReader, prefix: string, kind: NormKind, dim: number, eps: number, offset = 0): Promise<Norm> {
    const weight = offset === 0 ? await w.get(`${prefix}.weight`, [dim]) : await w.getMapped(`${prefix}.weight`, [dim], (x) => x + offset);
    const bias = kind === "layer" ? await w.get(`${prefix}.bias`, [dim]) : undefined;
    return new Norm(kind === "rms" ? "rms" : "layer", weight, eps, bias);
  }
}
