/**
 * The model `fromPretrained` hands out: a CausalLM (src/models) with generation's loop as methods.
 * It sits above both so that generation depends on models and models on neither.
 */
import { generate, stream } from "../generation/generate.js";
import type { GenerateOptions } from "../generation/options.js";
import { CausalLM } from "../models/causal-lm.js";
import type { Tensor } from "../tensor.js";

export class MoeForCausalLM extends CausalLM {
  /** Ids [B, S + new] (prompt included). */
  generate(inputIds: Tensor, opts: GenerateOptions = {}): Promise<Tensor> {
    return generate(this, inputIds, opts);
  }

  /** Each step's new tokens [B] as they are produced. */
  stream(inputIds: Tensor, opts: GenerateOptions = {}): AsyncGenerator<Int32Array> {
    return stream(this, inputIds, opts);
  }
}
