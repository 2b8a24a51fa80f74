/**
 * A synthetic checkpoint: a Checkpoint over a TensorProvider that generates seeded random tensors on
 * demand, so benchmarks need no download and write no file. Each tensor's values depend only on the
 * seed and its name; nothing is cached (the loader stacks what it reads as row views).
 *
 * With `formats`, the tensors it names are quantized as they are generated (the checkpoint then reads as one
 * written by `moekit quantize`): one float tensor lives at a time, so a quantized model is built without its
 * float copy (a stack of per-expert tensors quantized at load has every expert's float tensor alive at once).
 */
import type { DType } from "../dtype.js";
import { Checkpoint, type Config, type TensorProvider } from "../loading/checkpoint.js";
import type { TensorInfo } from "../loading/safetensors.js";
import { blockStoredName } from "../loading/moekit-quant-checkpoint.js";
import { quantizeTensor } from "../models/build/quantize.js";
import { quantizeRows, type QuantFormat } from "../formats/quant/index.js";
import { storageBytes } from "../formats/table.js";
import { numel, Tensor } from "../tensor.js";
import { onesStorage, seedOf, uniformStorage, uniformWidened } from "./random.js";

export interface SyntheticTensor {
  name: string;
  shape: number[];
  /** `ones` for norm weights; `uniform` draws from [-1/√fanIn, 1/√fanIn) with fanIn the last dim. */
  init: "ones" | "uniform";
}

/** The block format a synthetic tensor of this name and shape is generated in; undefined: float. */
export type SyntheticFormats = (name: string, shape: readonly number[]) => QuantFormat | undefined;

const STORED: Record<string, string> = { float32: "F32", bfloat16: "BF16", float16: "F16" };

export class SyntheticProvider implements TensorProvider {
  private readonly specs: Map<string, SyntheticTensor>;
  /** float32 values of the tensor being quantized (formats), reused from one tensor to the next */
  private scratch = new Float32Array(0);

  constructor(
    specs: SyntheticTensor[],
    readonly dtype: DType,
    readonly seed: number,
    /** The block format a tensor is generated in (quantized from its float values); undefined: float. */
    readonly formats: SyntheticFormats = () => undefined,
  ) {
    if (!(dtype in STORED)) throw new Error(`synthetic checkpoint: dtype must be float32, bfloat16 or float16, got ${dtype}`);
    this.specs = new Map(specs.map((s) => [s.name, s]));
  }

  keys(): string[] {
    return [...this.specs.keys()];
  }

  info(name: string): TensorInfo {
    const s = this.spec(name);
    const format = this.formats(name, s.shape);
    if (format) return { name, stored: blockStoredName(format), shape: [...s.shape], begin: 0, end: storageBytes(format, s.shape) };
    return { name, stored: STORED[this.dtype]!, shape: [...s.shape], begin: 0, end: numel(s.shape) * (this.dtype === "float32" ? 4 : 2) };
  }

  async tensor(name: string): Promise<Tensor> {
    const s = this.spec(name);
    const n = numel(s.shape);
    const fanIn = s.shape[s.shape.length - 1] ?? 1;
    const format = this.formats(name, s.shape);
    if (format && s.init === "uniform") {
      // widened into one reused buffer and quantized: the same blocks as quantizing the float tensor, no float garbage
      if (this.scratch.length < n) this.scratch = new Float32Array(n);
      const values = uniformWidened(n, seedOf(name, this.seed), 1 / Math.sqrt(fanIn), this.dtype, this.scratch);
      return new Tensor([...s.shape], format, quantizeRows(values, n / fanIn, fanIn, format), null);
    }
    const values = s.init === "ones" ? onesStorage(n, this.dtype) : uniformStorage(n, seedOf(name, this.seed), 1 / Math.sqrt(fanIn), this.dtype);
    const t = new Tensor([...s.shape], this.dtype, values, null);
    return format ? quantizeTensor(t, format, `'${name}'`) : t;
  }

  private spec(name: string): SyntheticTensor {
    const s = this.specs.get(name);
    if (!s) throw new Error(`synthetic checkpoint has no tensor '${name}'`);
    return s;
  }
}

/** A Checkpoint whose every tensor comes from a SyntheticProvider. */
export function syntheticCheckpoint(name: string, config: Config, specs: SyntheticTensor[], dtype: DType, seed = 0, formats?: SyntheticFormats): Checkpoint {
  const provider = new SyntheticProvider(specs, dtype, seed, formats);
  return new Checkpoint(name, config, new Map(provider.keys().map((k) => [k, provider])));
}
