/**
 * The model `fromPretrained` hands out: a CausalLM (src/models) with generation's loop as methods.
 * It sits above both so that generation depends on models and models on neither.
 */
import { generate, stream } from "../generation/generate.js";
import type { GenerateOptions } from "../generation/options.js";
import { CausalLM, type CausalLMParts } from "../models/causal-lm.js";
import type { Tensor } from "../tensor.js";

export class MoeForCausalLM extends CausalLM {
  /** Whether the backend was made for this model (by name) rather than handed in: dispose() then releases it too. */
  private readonly ownsBackend: boolean;

  constructor(parts: CausalLMParts, opts: { ownsBackend?: boolean } = {}) {
    super(parts);
    this.ownsBackend = opts.ownsBackend ?? false;
  }

  /** Ids [B, S + new] (prompt included). */
  generate(inputIds: Tensor, opts: GenerateOptions = {}): Promise<Tensor> {
    return generate(this, inputIds, opts);
  }

  /** Each step's new tokens [B] as they are produced. */
  stream(inputIds: Tensor, opts: GenerateOptions = {}): AsyncGenerator<Int32Array> {
    return stream(this, inputIds, opts);
  }

  /**
   * Frees the weights (GPU buffers at once, host memory once unreferenced); a webgpu device the model
   * created for itself is destroyed too. The model cannot be used afterwards.
   */
  override dispose(): void {
    if (this.disposed) return;
    super.dispose();
    const b = this.backend as { destroy?: () => void; name: string };
    if (this.ownsBackend && b.name === "webgpu") b.destroy?.();
  }
}
