/**
 * A 16-bit KV cache (kvCacheDtype "bfloat16" / "float16") on every fixture family, cpu backend: the cached
 * prefill and 8 decode steps (fed the fixture's greedy ids) give logits within TOL of the float32 cache's
 * (max |Δ| over max |logit| of the step), and greedy generation gives the fixture's ids. The reference
 * backend (which widens the 16-bit rows) agrees with the cpu kernel on a 16-bit cache.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import type { KvCacheDtype } from "../../src/models/cache/kv-dtype.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";
import { optionalCpu } from "../helpers/optional-cpu.js";

/**
 * Largest relative logit change allowed against the float32 cache. Measured over the fixture families
 * (2026-12-06, 31 families): bfloat16 worst 2.7e-3 (flex_olmo; median ~5e-4), float16 worst 4.2e-4 (flex_olmo);
 * the bounds leave ~2x headroom. MOEKIT_PRINT_KV_TOL=1 prints each family's value.
 */
const TOL: Record<Exclude<KvCacheDtype, "float32">, number> = { bfloat16: 6e-3, float16: 1e-3 };

const { cpu, why } = await optionalCpu();

type Model = Awaited<ReturnType<typeof AutoModelForCausalLM.fromPretrained>>;

/** Last-position logits of the cached prefill of `prompt`, then of each of `ids` fed one by one. */
async function cachedLogits(model: Model, prompt: Tensor, ids: Int32Array, kvCacheDtype: KvCacheDtype): Promise<Float32Array[]> {
  const cache = model.newCache({ kvCacheDtype });
  assert.equal(cache.kvCacheDtype, kvCacheDtype);
  const out: Float32Array[] = [];
  let next = prompt;
  for (let step = 0; step <= ids.length; step++) {
    const { logits } = await model.forward(next, { cache, logitsToKeep: 1 });
    out.push(((await logits.data()) as Float32Array).slice());
    if (step < ids.length) next = Tensor.from(Int32Array.of(ids[step]!), [1, 1]);
  }
  return out;
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}

describe("16-bit KV cache on the fixture families (cpu backend)", { skip: cpu ? false : `cpu backend unavailable: ${why}` }, () => {
  const worst: Record<string, number> = { bfloat16: 0, float16: 0 };
  for (const family of F32.families) {
    it(`${family}: bfloat16 / float16 cache logits near the float32 cache's, greedy ids as transformers`, async () => {
      const ex = await expectedTensors(F32, family);
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: cpu! });
      const s = ex.input_ids!.shape[1]!;
      const prompt = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
      const greedy = (await ex.greedy_ids!.data()) as Int32Array;
      const base = await cachedLogits(model, prompt, greedy, "float32");
      for (const dt of ["bfloat16", "float16"] as const) {
        const got = await cachedLogits(model, prompt, greedy, dt);
        const rel = Math.max(...got.map((g, i) => relDiff(g, base[i]!)));
        worst[dt] = Math.max(worst[dt]!, rel);
        if (process.env.MOEKIT_PRINT_KV_TOL) console.log(`kv16 ${family} ${dt} ${rel.toExponential(2)}`);
        assert.ok(rel <= TOL[dt], `${family} ${dt}: logits move by ${rel} of their largest, more than ${TOL[dt]}`);
        const out = (await (await model.generate(prompt, { maxNewTokens: 8, minNewTokens: 8, kvCacheDtype: dt })).data()) as Int32Array;
        assert.deepEqual(Array.from(out.slice(s)), Array.from(greedy), `${family} ${dt} greedy`);
      }
    });
  }
  it("the 16-bit caches change the logits (they are not silently float32)", () => {
    assert.ok(worst.bfloat16! > 0 && worst.float16! > 0, `worst changes ${JSON.stringify(worst)}`);
    assert.ok(worst.bfloat16! > worst.float16!, "bfloat16 keeps 8 bits of mantissa, float16 11");
  });
});

describe("16-bit KV cache: the reference backend agrees with the cpu kernel", { skip: cpu ? false : `cpu backend unavailable: ${why}` }, () => {
  it("olmoe and qwen2_moe: bfloat16 and float16 cache logits, cpu against reference", async () => {
    for (const family of ["olmoe", "qwen2_moe"]) {
      const ex = await expectedTensors(F32, family);
      const s = ex.input_ids!.shape[1]!;
      const prompt = Tensor.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s), [1, s]);
      const greedy = (await ex.greedy_ids!.data()) as Int32Array;
      const onCpu = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: cpu! });
      const onRef = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: referenceBackend });
      for (const dt of ["bfloat16", "float16"] as const) {
        const a = await cachedLogits(onCpu, prompt, greedy, dt);
        const b = await cachedLogits(onRef, prompt, greedy, dt);
        a.forEach((row, i) => assertClose(row, b[i]!, 1e-4, `${family} ${dt} step ${i}`));
      }
    }
  });

  it("ragged sequences stepping together on a bfloat16 cache (read in place) match each run alone", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "qwen2_moe"), { backend: cpu!, kvCacheDtype: "bfloat16" });
    assert.equal(model.kvCacheDtype, "bfloat16");
    const ids = (rows: number[][]) => Tensor.from(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
    const A = [5, 17, 200, 33, 8, 91, 4];
    const B = [300, 2, 77, 12, 150, 9, 61, 240, 18, 3, 44];
    const aloneLast = async (seq: number[]) => {
      const cache = model.newCache();
      await model.forward(ids([seq.slice(0, -1)]), { cache });
      return (await (await model.forward(ids([seq.slice(-1)]), { cache })).logits.data()) as Float32Array;
    };
    const cache = model.newCache();
    assert.equal(cache.kvCacheDtype, "bfloat16", "the model's default");
    const [a, b] = [cache.addSequence(), cache.addSequence()];
    await model.forward(ids([A.slice(0, 5)]), { cache, sequences: [a] });
    await model.forward(ids([B.slice(0, 9)]), { cache, sequences: [b] });
    await model.forward(ids([[A[5]!], [B[9]!]]), { cache, sequences: [a, b] });
    const out = (await (await model.forward(ids([[A[6]!], [B[10]!]]), { cache, sequences: [a, b] })).logits.data()) as Float32Array;
    const v = model.vocabSize;
    assertClose(out.subarray(0, v), await aloneLast(A), 1e-4, "A in the batch");
    assertClose(out.subarray(v, 2 * v), await aloneLast(B), 1e-4, "B in the batch");
  });

  it("a cache budget counts 2 bytes a key / value in a 16-bit cache", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "olmoe"), { backend: cpu! });
    const f32 = model.newCache().bytesPerToken;
    assert.equal(model.newCache({ kvCacheDtype: "bfloat16" }).bytesPerToken * 2, f32);
    assert.throws(() => model.newCache({ kvCacheDtype: "int8" as KvCacheDtype }), /cache: kvCacheDtype must be one of float32, bfloat16, float16, got "int8"/);
    await assert.rejects(model.generate(Tensor.from(Int32Array.of(1, 2), [1, 2]), { kvCacheDtype: "fp8" as KvCacheDtype }), /generate: kvCacheDtype must be one of/);
  });
});
