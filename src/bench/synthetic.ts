/**
 * A synthetic checkpoint: a Checkpoint over a TensorProvider that generates seeded random tensors on
 * demand, so benchmarks need no download and write no file. Each tensor's values depend only on the
 * seed and its name; nothing is cached (the loader copies what it reads into fused stacks).
 */
import type { DType } from "../dtype.js";
import { Checkpoint, type Config, type TensorProvider } from "../loading/checkpoint.js";
import type { TensorInfo } from "../loading/safetensors.js";
import { numel, Tensor } from "../tensor.js";
import { onesStorage, seedOf, uniformStorage } from "./random.js";

export interface SyntheticTensor {
  name: string;
  shape: number[];
  /** `ones` for norm weights; `uniform` draws from [-1/√fanIn, 1/√fanIn) with fanIn the last dim. */
  init: "ones" | "uniform";
}

const STORED: Record<string, string> = { float32: "F32", bfloat16: "BF16", float16: "F16" };

export class SyntheticProvider implements TensorProvider {
  private readonly specs: Map<string, SyntheticTensor>;

  constructor(
    specs: SyntheticTensor[],
    readonly dtype: DType,
    readonly seed: number,
  ) {
    if (!(dtype in STORED)) throw new Error(`synthetic checkpoint: dtype must be float32, bfloat16 or float16, got ${dtype}`);
    this.specs = new Map(specs.map((s) => [s.name, s]));
  }

  keys(): string[] {
    return [...this.specs.keys()];
  }

  info(name: string): TensorInfo {
    const s = this.spec(name);
    return { name, stored: STORED[this.dtype]!, shape: [...s.shape], begin: 0, end: numel(s.shape) * (this.dtype === "float32" ? 4 : 2) };
  }

  async tensor(name: string): Promise<Tensor> {
    const s = this.spec(name);
    const n = numel(s.shape);
    const fanIn = s.shape[s.shape.length - 1] ?? 1;
    const values = s.init === "ones" ? onesStorage(n, this.dtype) : uniformStorage(n, seedOf(name, this.seed), 1 / Math.sqrt(fanIn), this.dtype);
    return new Tensor([...s.shape], this.dtype, values, null);
  }

  private spec(name: string): SyntheticTensor {
    const s = this.specs.get(name);
    if (!s) throw new Error(`synthetic checkpoint has no tensor '${name}'`);
    return s;
  }
}

/** A Checkpoint whose every tensor comes from a SyntheticProvider. */
export function syntheticCheckpoint(name: string, config: Config, specs: SyntheticTensor[], dtype: DType, seed = 0): Checkpoint {
  const provider = new SyntheticProvider(specs, dtype, seed);
  return new Checkpoint(name, config, new Map(provider.keys().map((k) => [k, provider])));
}
