/**
 * Writes the synthetic Qwen1.5-MoE-A2.7B (skewed-model.ts) to disk, as a Hugging Face directory (config.json +
 * model.safetensors, one tensor per expert) and/or as a GGUF llama.cpp loads (the same weights):
 *
 *   node --import tsx bench/offload/write-model.ts --layers 2 [--vocab N] [--skew 1] [--dtype bfloat16] [--seed 0] [--dir DIR] [--gguf FILE]
 */
import { parseArgs } from "node:util";
import { qwen2MoeGgufPlan, qwenGgufTensorBytes, type GgufTensorSource } from "../../src/bench/qwen-gguf.js";
import { isDType } from "../../src/formats/table.js";
import { writeGgufFile } from "../../src/loading/gguf/file-writer.js";
import { writeSafetensors } from "../../src/loading/safetensors-writer.js";
import { SkewedProvider, skewedConfig } from "./skewed-model.js";

const { values } = parseArgs({
  options: {
    layers: { type: "string", default: "2" },
    vocab: { type: "string" },
    skew: { type: "string", default: "0" },
    dtype: { type: "string", default: "bfloat16" },
    seed: { type: "string", default: "0" },
    dir: { type: "string" },
    gguf: { type: "string" },
  },
});
if (!values.dir && !values.gguf) throw new Error("give --dir DIR (Hugging Face layout) and/or --gguf FILE");
if (!isDType(values.dtype) || !["float32", "bfloat16", "float16"].includes(values.dtype)) throw new Error(`--dtype must be float32, bfloat16 or float16, got ${values.dtype}`);
const cfg = skewedConfig({ layers: Number(values.layers), vocab: values.vocab ? Number(values.vocab) : undefined, dtype: values.dtype });
const provider = new SkewedProvider(cfg, Number(values.skew), Number(values.seed));
if (values.dir) {
  const { mkdir, writeFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const t0 = performance.now();
  await mkdir(values.dir, { recursive: true });
  await writeFile(join(values.dir, "config.json"), JSON.stringify(cfg, null, 2));
  const dtype = values.dtype as "bfloat16";
  const bytes = await writeSafetensors(
    join(values.dir, "model.safetensors"),
    provider.keys().map((name) => ({ name, shape: provider.info(name).shape, dtype, values: () => provider.tensor(name) })),
  );
  console.log(`wrote ${values.dir}: ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
if (values.gguf) {
  const t0 = performance.now();
  const plan = qwen2MoeGgufPlan(cfg, values.dtype as "float32" | "bfloat16" | "float16");
  await writeGgufFile(values.gguf, plan.metadata, plan.tensors, (t) => qwenGgufTensorBytes(provider, t as GgufTensorSource));
  console.log(`wrote ${values.gguf}: ${plan.tensors.length} tensors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
