import type { Backend } from "../backends/backend.js";
import { referenceBackend } from "../backends/reference/index.js";
import { shapeString, type Tensor } from "../tensor.js";
import { DEFAULT_IMPLEMENTATION, expertsInterface, type ExpertsInterface } from "./registry.js";
import type { ExpertsWeights } from "./types.js";
import { validateExpertsInput, validateExpertsWeights } from "./validate.js";

export interface ExpertsOptions {
  implementation?: string;
  backend?: Backend;
  registry?: ExpertsInterface;
}

/**
 * An experts module: fused weights plus the name of the implementation that computes them. The name
 * is resolved on every call, so `implementation` can be switched at any time.
 */
export class Experts {
  readonly backend: Backend;
  readonly registry: ExpertsInterface;
  private impl: string;

  constructor(
    readonly weights: ExpertsWeights,
    opts: ExpertsOptions = {},
  ) {
    this.backend = opts.backend ?? referenceBackend;
    this.registry = opts.registry ?? expertsInterface;
    validateExpertsWeights(weights);
    this.impl = this.runnable(opts.implementation ?? DEFAULT_IMPLEMENTATION);
  }

  get implementation(): string {
    return this.impl;
  }

  set implementation(name: string) {
    this.impl = this.runnable(name);
  }

  /** `name` if this module's backend can run it (else the registry's error naming the backend and what it runs). */
  private runnable(name: string): string {
    this.registry.resolve(this.registry.validate(name), this.backend);
    return name;
  }

  get numExperts(): number {
    return this.weights.numExperts;
  }

  /** hidden [T, H], topkIndex int32 [T, K], topkWeights float32 [T, K] → [T, H]. */
  async forward(hidden: Tensor, topkIndex: Tensor, topkWeights: Tensor): Promise<Tensor> {
    validateExpertsInput(this.weights, hidden, topkIndex, topkWeights);
    const b = this.backend;
    const impl = this.registry.get(this.impl, b);
    const out = await impl(this.weights, b.adopt(hidden), b.adopt(topkIndex), b.adopt(topkWeights), b);
    const [t] = hidden.shape;
    if (out.rank !== 2 || out.shape[0] !== t || out.shape[1] !== this.weights.hiddenSize) {
      throw new Error(`experts implementation '${this.impl}' returned ${shapeString(out.shape)}, expected [${t}, ${this.weights.hiddenSize}]`);
    }
    return out;
  }
}
