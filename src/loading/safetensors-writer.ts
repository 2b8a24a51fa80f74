/**
 * Streams tensors into a safetensors file (Node only, imported lazily): the header from the tensors'
 * shapes and dtypes (padded so the data section starts 8-byte aligned, as the safetensors library writes
 * it), then each tensor produced and written one at a time, so a checkpoint larger than memory can be
 * written from a generator (benchmarks' synthetic models written to disk).
 */
import type { Tensor } from "../tensor.js";
import type { Checkpoint } from "./checkpoint.js";

const CODE: Record<string, [string, number]> = { float32: ["F32", 4], bfloat16: ["BF16", 2], float16: ["F16", 2], int32: ["I32", 4] };

export interface TensorToWrite {
  name: string;
  shape: number[];
  dtype: "float32" | "bfloat16" | "float16" | "int32";
  /** Produces the tensor's values (a host tensor of `shape` and `dtype`) when its turn comes. */
  values: () => Promise<Tensor>;
}

export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Promise<number> {
  const { open } = await import("node:fs/promises");
  const header: Record<string, unknown> = Object.keys(metadata).length > 0 ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    const code = CODE[t.dtype];
    if (!code) throw new Error(`writeSafetensors: ${t.name} has dtype ${t.dtype}, not one of ${Object.keys(CODE).join(", ")}`);
    const bytes = t.shape.reduce((a, d) => a * d, 1) * code[1];
    header[t.name] = { dtype: code[0], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const head = new TextEncoder().encode(json);
  const fh = await open(path, "w");
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(head.length), true);
    await fh.write(len);
    await fh.write(head);
    for (const t of tensors) {
      const v = await t.values();
      if (v.dtype !== t.dtype || v.shape.join() !== t.shape.join()) {
        throw new Error(`writeSafetensors: ${t.name} produced ${v.dtype} [${v.shape.join(", ")}], expected ${t.dtype} [${t.shape.join(", ")}]`);
      }
      const s = v.hostStorage();
      await fh.write(new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
    }
    // Written back before anyone maps it: the page cache can then drop its pages on advice (dirty ones it cannot).
    await fh.sync();
  } finally {
    await fh.close();
  }
  return 8 + head.length + offset;
}

/** Any checkpoint (a synthetic one, say) written to `dir` as config.json + model.safetensors, tensor by tensor. */
export async function writeCheckpointDir(dir: string, ckpt: Checkpoint, dtypeOf: (key: string) => TensorToWrite["dtype"]): Promise<number> {
  const { mkdir, writeFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "config.json"), JSON.stringify(ckpt.config, null, 2));
  if (ckpt.generationConfig) await writeFile(join(dir, "generation_config.json"), JSON.stringify(ckpt.generationConfig, null, 2));
  const tensors = ckpt.keys().map((name) => ({ name, shape: [...ckpt.info(name).shape], dtype: dtypeOf(name), values: () => ckpt.tensor(name) }));
  return writeSafetensors(join(dir, "model.safetensors"), tensors);
}
