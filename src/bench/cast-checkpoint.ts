/** A view of a checkpoint whose float tensors read as another dtype (for `--dtype` on a real checkpoint). */
import type { DType } from "../dtype.js";
import { narrowFromF32, widenToF32 } from "../dtype.js";
import { Checkpoint, type TensorProvider } from "../loading/checkpoint.js";
import type { TensorInfo, TensorReadOptions } from "../loading/safetensors.js";
import { Tensor } from "../tensor.js";

const STORED: Partial<Record<DType, string>> = { float32: "F32", bfloat16: "BF16", float16: "F16" };
const FLOAT_STORED = new Set(["F32", "BF16", "F16", "F64"]);

export function castCheckpoint(ckpt: Checkpoint, dtype: DType): Checkpoint {
  const stored = STORED[dtype];
  if (!stored) throw new Error(`--dtype must be float32, bfloat16 or float16, got ${dtype}`);
  const provider: TensorProvider = {
    info(name: string): TensorInfo {
      const i = ckpt.info(name);
      return FLOAT_STORED.has(i.stored) ? { ...i, stored } : i;
    },
    async tensor(name: string, opts?: TensorReadOptions): Promise<Tensor> {
      const t = await ckpt.tensor(name, opts);
      if (t.dtype === "int32" || t.dtype === dtype) return t;
      return new Tensor(t.shape, dtype, narrowFromF32(widenToF32(t.hostStorage(), t.dtype), dtype), null);
    },
  };
  return new Checkpoint(ckpt.name, ckpt.config, new Map(ckpt.keys().map((k) => [k, provider])), ckpt.generationConfig);
}
