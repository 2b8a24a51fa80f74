import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";

const IMPLS = ["eager", "batched_mm", "grouped_mm"];

/** Columns [from, to) of an int32 [B, S] tensor. */
async function cols(ids: Tensor, from: number, to: number): Promise<Tensor> {
  const [b, s] = ids.shape as [number, number];
  const v = (await ids.data()) as Int32Array;
  const out = new Int32Array(b * (to - from));
  for (let r = 0; r < b; r++) out.set(v.subarray(r * s + from, r * s + to), r * (to - from));
  return Tensor.from(out, [b, to - from]);
}

/** Logits [B, S, V] of positions [from, to). */
function positions(logits: Float32Array, b: number, s: number, v: number, from: number, to: number): Float32Array {
  const out = new Float32Array(b * (to - from) * v);
  for (let r = 0; r < b; r++) out.set(logits.subarray((r * s + from) * v, (r * s + to) * v), r * (to - from) * v);
  return out;
}

/** Prefill 7, two single-token steps, then a chunk of 3: each call's logits must equal the full recompute. */
async function checkCachedDecode(model: MoeForCausalLM, ids: Tensor, what: string): Promise<void> {
  const [b, s] = ids.shape as [number, number];
  const v = model.vocabSize;
  const full = (await (await model.forward(ids)).logits.data()) as Float32Array;
  const cache = model.newCache();
  const cuts = [0, 7, 8, 9, s];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [from, to] = [cuts[i]!, cuts[i + 1]!];
    const { logits } = await model.forward(await cols(ids, from, to), { cache });
    assert.equal(cache.length, to);
    assertClose(await logits.data(), positions(full, b, s, v, from, to), 1e-4, `${what} positions ${from}..${to}`);
  }
}

for (const family of F32.families) {
  describe(`${family}: KV cache and padding`, () => {
    it("cached decode equals recomputing the whole sequence, for every experts implementation", async () => {
      const ex = await expectedTensors(F32, family);
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: "reference", expertsImplementation: "eager" });
      for (const impl of IMPLS) {
        model.setExpertsImplementation(impl);
        assert.equal(model.getExpertsImplementation(), impl);
        await checkCachedDecode(model, ex.input_ids!, `${family} ${impl}`);
      }
    });

    it("left padding with an attention mask matches the unpadded prompt (forward and generate)", async () => {
      const ex = await expectedTensors(F32, family);
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: "reference" });
      const s = ex.input_ids!.shape[1]!;
      const ids = (await ex.input_ids!.data()) as Int32Array;
      const pad = 4;
      const short = ids.slice(s + pad, 2 * s); // row 1 without its first `pad` tokens
      const batched = Tensor.from(Int32Array.from([...ids.slice(0, s), ...new Array<number>(pad).fill(0), ...short]), [2, s]);
      const mask = Tensor.from(Int32Array.from([...new Array<number>(s).fill(1), ...new Array<number>(pad).fill(0), ...new Array<number>(s - pad).fill(1)]), [2, s]);
      const v = model.vocabSize;
      const padded = (await (await model.forward(batched, { attentionMask: mask })).logits.data()) as Float32Array;
      const alone = (await (await model.forward(Tensor.from(short, [1, s - pad]))).logits.data()) as Float32Array;
      assertClose(padded.subarray((s + pad) * v, 2 * s * v), alone, 1e-4, `${family} padded row logits`);
      const row0 = (await (await model.forward(Tensor.from(ids.slice(0, s), [1, s]))).logits.data()) as Float32Array;
      assertClose(padded.subarray(0, s * v), row0, 1e-4, `${family} unpadded row logits`);

      const opts = { maxNewTokens: 5, minNewTokens: 5, doSample: false } as const;
      const both = (await (await model.generate(batched, { ...opts, attentionMask: mask })).data()) as Int32Array;
      const one = (await (await model.generate(Tensor.from(short, [1, s - pad]), opts)).data()) as Int32Array;
      const zero = (await (await model.generate(Tensor.from(ids.slice(0, s), [1, s]), opts)).data()) as Int32Array;
      assert.deepEqual(Array.from(both.slice(2 * s + 5, 2 * s + 10)), Array.from(one.slice(s - pad)), "padded row continues as alone");
      assert.deepEqual(Array.from(both.slice(s, s + 5)), Array.from(zero.slice(s)), "full row continues as alone");
    });
  });
}
