import type { Activation, Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";

/**
 * A dense gated MLP (SwiGLU-style): down(act(gate(x)) · up(x)), with gate and up fused into one
 * [2I, H] weight at load so one product serves both. Used for shared experts and dense layers.
 */
export class GatedMlp {
  constructor(
    /** [2I, H]: gate rows then up rows */
    readonly gateUp: Tensor,
    /** [H, I] */
    readonly down: Tensor,
    readonly act: Activation,
    readonly gateUpBias?: Tensor,
    readonly downBias?: Tensor,
  ) {}

  forward(x: Tensor, backend: Backend): Tensor {
    const p = backend.linear(x, this.gateUp, { bias: this.gateUpBias });
    const a = backend.gate(p, { kind: "concatenated", act: this.act });
    return backend.linear(a, this.down, { bias: this.downBias });
  }
}
