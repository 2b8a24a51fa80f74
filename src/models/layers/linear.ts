/** A dense projection (nn.Linear): weight [N, K] stored out × in, optional bias [N]. */
import type { Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import type { WeightReader } from "../build/weights.js";

export class Linear {
  constructor(
    readonly weight: Tensor,
    readonly bias?: Tensor,
  ) {}

  /** x [..., K] → [..., N] (written into `into` where the backend takes it: Backend.linear). */
  forward(b: Backend, x: Tensor, into?: Float32Array): Tensor {
    return b.linear(x, this.weight, into ? { bias: this.bias, into } : { bias: this.bias });
  }

  /** `${prefix}.weight` [out, in] and, when `bias`, `${prefix}.bias` [out]. */
  static async load(w: WeightReader, prefix: string, out: number, inFeatures: number, bias: boolean): Promise<Linear> {
    return new Linear(await w.get(`${prefix}.weight`, [out, inFeatures]), await w.maybe(`${prefix}.bias`, [out], bias));
  }
}
