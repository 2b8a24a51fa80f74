/**
 * The model cache on webgpu: keys and values stay GPU tensors grown by concatenation; ragged batches,
 * sequences leaving and joining give the reference backend's logits. Skips when no adapter exists.
 */
import { after, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { F32, familyDir } from "../models/model-fixtures.js";
import { webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip } = await webgpuOrSkip();
const ids = (rows: number[][]) => Tensor.from(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);

/** Ragged prefills, a batched step, a sequence leaving and one joining: every call's logits. */
async function script(model: MoeForCausalLM): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const run = async (rows: number[][], sequences: number[]) => {
    const { logits } = await model.forward(ids(rows), { cache, sequences });
    out.push((await logits.data()) as Float32Array);
  };
  const cache = model.newCache();
  const [a, b] = [cache.addSequence(), cache.addSequence()];
  await run([[3, 14, 15, 92, 65]], [a]);
  await run([[35, 89, 79, 32, 38, 46, 26, 43, 38]], [b]);
  await run([[27, 18], [28, 18]], [a, b]);
  await run([[45], [90]], [a, b]);
  cache.removeSequence(a);
  const c = cache.addSequence();
  await run([[23, 53, 60]], [c]);
  await run([[28], [74]], [b, c]);
  return out;
}

if (skip) {
  it("webgpu model cache", { skip }, () => {});
} else {
  const b = gpu!;
  after(() => b.destroy());
  for (const family of ["deepseek_v3", "gpt_oss"]) {
    it(`${family}: ragged sequences on webgpu give the reference backend's logits`, async () => {
      const dir = familyDir(F32, family);
      const want = await script(await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" }));
      const got = await script(await AutoModelForCausalLM.fromPretrained(dir, { backend: b }));
      want.forEach((w, i) => assertClose(got[i]!, w, 1e-4, `${family} call ${i}`));
    });
  }
}
