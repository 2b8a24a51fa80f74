import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { ModelCache } from "../../src/models/cache/model-cache.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { narrowFromF32, widenToF32 } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";

/** Row r of the fixture's input ids, then more ids (ids in [0, 512)), as a plain list. */
async function tokens(family: string, r: number, n: number): Promise<number[]> {
  const ids = (await expectedTensors(F32, family)).input_ids!;
  const s = ids.shape[1]!;
  const row = Array.from(((await ids.data()) as Int32Array).subarray(r * s, (r + 1) * s));
  while (row.length < n) row.push((row[row.length - 1]! * 7 + 11 * row.length) % 500);
  return row.slice(0, n);
}

const ids = (rows: number[][]) => Tensor.from(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);

/** Logits [S, V] of positions [from, to) of `seq` run alone, without a cache. */
async function alone(model: MoeForCausalLM, seq: number[], from: number, to: number): Promise<Float32Array> {
  const logits = (await (await model.forward(ids([seq.slice(0, to)]))).logits.data()) as Float32Array;
  return logits.subarray(from * model.vocabSize, to * model.vocabSize);
}

function row(logits: Float32Array, r: number, width: number): Float32Array {
  return logits.subarray(r * width, (r + 1) * width);
}

describe("model cache: ragged sequences on whole models (reference backend)", () => {
  for (const family of F32.families) {
    it(`${family}: sequences of different lengths step together, leave and join, and match running alone`, async () => {
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, family), { backend: "reference" });
      const v = model.vocabSize;
      const A = await tokens(family, 0, 12);
      const B = await tokens(family, 1, 14);
      const cache = model.newCache();
      const a = cache.addSequence();
      const b = cache.addSequence();
      await model.forward(ids([A.slice(0, 5)]), { cache, sequences: [a] });
      await model.forward(ids([B.slice(0, 9)]), { cache, sequences: [b] });
      assert.deepEqual([cache.lengthOf(a), cache.lengthOf(b), cache.length], [5, 9, 9]);

      // two tokens each, then one: A at 5.., B at 9..
      let out = (await (await model.forward(ids([A.slice(5, 7), B.slice(9, 11)]), { cache, sequences: [a, b] })).logits.data()) as Float32Array;
      assertClose(row(out, 0, 2 * v), await alone(model, A, 5, 7), 1e-4, `${family} A 5..7`);
      assertClose(row(out, 1, 2 * v), await alone(model, B, 9, 11), 1e-4, `${family} B 9..11`);
      out = (await (await model.forward(ids([[A[7]!], [B[11]!]]), { cache, sequences: [a, b] })).logits.data()) as Float32Array;
      assertClose(row(out, 0, v), await alone(model, A, 7, 8), 1e-4, `${family} A 7`);
      assertClose(row(out, 1, v), await alone(model, B, 11, 12), 1e-4, `${family} B 11`);

      // A leaves; C joins (a prefix of A) and steps with B, in the other order
      const held = cache.bytesInUse;
      cache.removeSequence(a);
      assert.equal(cache.bytesInUse, held - 8 * cache.bytesPerToken - cache.bytesPerSequence, "a leaving frees its tokens (and its state layers' states)");
      await assert.rejects(model.forward(ids([[A[8]!]]), { cache, sequences: [a] }), /no sequence 0 \(live: 1\)/);
      const c = cache.addSequence();
      assert.deepEqual(cache.sequences, [b, c]);
      await model.forward(ids([A.slice(0, 3)]), { cache, sequences: [c] });
      out = (await (await model.forward(ids([[A[3]!], [B[12]!]]), { cache, sequences: [c, b] })).logits.data()) as Float32Array;
      assertClose(row(out, 0, v), await alone(model, A, 3, 4), 1e-4, `${family} C 3`);
      assertClose(row(out, 1, v), await alone(model, B, 12, 13), 1e-4, `${family} B 12`);
      assert.deepEqual([cache.lengthOf(b), cache.lengthOf(c)], [13, 4]);
    });
  }

  it("a left-padded prompt keeps its padding in the cache: later calls need no mask", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "qwen2_moe"), { backend: "reference" });
    const v = model.vocabSize;
    const A = await tokens("qwen2_moe", 0, 8);
    const B = await tokens("qwen2_moe", 1, 8);
    const cache = model.newCache();
    const mask = Tensor.from(Int32Array.from([1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1]), [2, 6]);
    await model.forward(ids([A.slice(0, 6), [0, 0, ...B.slice(0, 4)]]), { cache, attentionMask: mask });
    const out = (await (await model.forward(ids([[A[6]!], [B[4]!]]), { cache })).logits.data()) as Float32Array;
    assertClose(row(out, 0, v), await alone(model, A, 6, 7), 1e-4, "unpadded row");
    assertClose(row(out, 1, v), await alone(model, B, 4, 5), 1e-4, "padded row, mask taken from the cache");
  });

  it("a memory budget: canReserve, a clear error, and nothing changed by the refused call", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "deepseek_v3"), { backend: "reference" });
    const probe = model.newCache();
    const cfg = model.config;
    const m = cfg.mla!;
    assert.equal(probe.bytesPerToken, cfg.numLayers * cfg.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim + m.vHeadDim) * 4, "MLA keys and values per token");
    const cache = model.newCache({ budgetBytes: 10 * probe.bytesPerToken });
    const A = await tokens("deepseek_v3", 0, 12);
    await model.forward(ids([A.slice(0, 8)]), { cache });
    assert.equal(cache.bytesInUse, 8 * cache.bytesPerToken);
    assert.equal(cache.canReserve(2), true);
    assert.equal(cache.canReserve(3), false);
    await assert.rejects(model.forward(ids([A.slice(8, 11)]), { cache }), /cache budget exceeded: appending 3 token\(s\) to 1 sequence\(s\) needs .* of the .* budget is free .*raise budgetBytes/);
    assert.equal(cache.length, 8, "the refused call appended nothing");
    const out = (await (await model.forward(ids([A.slice(8, 10)]), { cache })).logits.data()) as Float32Array;
    assertClose(out, await alone(model, A, 8, 10), 1e-4, "the cache still continues correctly");
    assert.throws(() => model.newCache({ budgetBytes: 0 }), /budgetBytes must be a positive number/);
  });

  it("generate uses the model's cache: rows of a left-padded batch continue as alone", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "gpt_oss"), { backend: "reference" });
    const A = await tokens("gpt_oss", 0, 10);
    const B = await tokens("gpt_oss", 1, 7);
    const opts = { maxNewTokens: 4, minNewTokens: 4, doSample: false } as const;
    const mask = Tensor.from(Int32Array.from([...new Array<number>(10).fill(1), 0, 0, 0, ...new Array<number>(7).fill(1)]), [2, 10]);
    const both = (await (await model.generate(ids([A, [0, 0, 0, ...B]]), { ...opts, attentionMask: mask })).data()) as Int32Array;
    const a = (await (await model.generate(ids([A]), opts)).data()) as Int32Array;
    const b = (await (await model.generate(ids([B]), opts)).data()) as Int32Array;
    assert.deepEqual(Array.from(both.slice(10, 14)), Array.from(a.slice(10)));
    assert.deepEqual(Array.from(both.slice(24, 28)), Array.from(b.slice(7)));
  });
});

/** Values exactly representable in float16, as float32 (host rows) or float16 (concatenated tensors, as on webgpu). */
function randomKV(seed: number, batch: number, s: number, heads: number, dim: number, dtype: "float32" | "float16" = "float32"): Tensor {
  const n = batch * s * heads * dim;
  const half = narrowFromF32(Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 0.37)), "float16") as Uint16Array;
  const shape = [batch, s, heads, dim];
  return dtype === "float16" ? Tensor.from(half, shape, "float16") : Tensor.from(widenToF32(half, "float16"), shape);
}

describe("model cache: storage", () => {
  const specs = [
    { kind: "attention", keyWidth: 6, valueWidth: 4 },
    { kind: "attention", keyWidth: 6, valueWidth: 4 },
  ] as const;

  /** A scripted run over two layers: aligned batch, ragged batch, an uncommitted call, a sequence leaving. */
  async function script(dtype: "float32" | "float16"): Promise<Float32Array[]> {
    const b = referenceBackend;
    const cache = new ModelCache([...specs]);
    const outs: Float32Array[] = [];
    let seed = 1;
    const call = async (seqs: number[] | undefined, batch: number, s: number, commit = true) => {
      const step = cache.begin(batch, s, seqs);
      for (let layer = 0; layer < 2; layer++) {
        const { k, v } = step.appendKV(b, layer, randomKV(seed++, batch, s, 3, 2, dtype), randomKV(seed++, batch, s, 2, 2, dtype));
        outs.push((await k.data()) as Float32Array, (await v.data()) as Float32Array);
      }
      if (commit) step.commit();
    };
    await call(undefined, 2, 3); // two new sequences, 3 tokens each
    await call(undefined, 2, 1);
    const c = cache.addSequence();
    await call([c], 1, 2);
    await call([0, c, 1], 3, 1); // ragged: 4, 2, 4
    await call([c, 1], 2, 2, false); // not committed: overwritten by the next call
    await call([c, 1], 2, 1);
    cache.removeSequence(0);
    await call([1, c], 2, 1);
    await call([1, c], 2, 40); // grows the host buffers
    assert.deepEqual([cache.lengthOf(1), cache.lengthOf(c)], [47, 45]);
    return outs;
  }

  it("host row buffers and concatenated tensors hand out the same keys and values", async () => {
    const host = await script("float32");
    const device = await script("float16");
    assert.equal(host.length, device.length);
    host.forEach((h, i) => assert.deepEqual(Array.from(device[i]!), Array.from(h), `output ${i}`));
  });

  it("ragged rows are right-aligned after zero rows", async () => {
    const cache = new ModelCache([{ kind: "attention", keyWidth: 1, valueWidth: 1 }]);
    const [a, b] = [cache.addSequence(), cache.addSequence()];
    const put = (seqs: number[], vals: number[][]) => {
      const step = cache.begin(seqs.length, vals[0]!.length, seqs);
      const t = Tensor.from(Float32Array.from(vals.flat()), [seqs.length, vals[0]!.length, 1, 1]);
      const { k } = step.appendKV(referenceBackend, 0, t, t);
      step.commit();
      return k;
    };
    put([a], [[1, 2, 3]]);
    put([b], [[7]]);
    const k = put([a, b], [[4], [8]]);
    assert.deepEqual([...k.shape], [2, 4, 1, 1]);
    assert.deepEqual(Array.from((await k.data()) as Float32Array), [1, 2, 3, 4, 0, 0, 7, 8]);
    const mask = await cache.begin(2, 1, [a, b]).keyMask();
    assert.deepEqual(Array.from((await mask!.data()) as Int32Array), [1, 1, 1, 1, 1, 0, 0, 1, 1, 1]);
  });

  it("batch 1 on a host backend: keys are a view of the buffer, not a copy", async () => {
    const cache = new ModelCache([{ kind: "attention", keyWidth: 2, valueWidth: 2 }]);
    const step1 = cache.begin(1, 3);
    const first = step1.appendKV(referenceBackend, 0, randomKV(1, 1, 3, 1, 2), randomKV(2, 1, 3, 1, 2));
    step1.commit();
    const step2 = cache.begin(1, 1);
    const second = step2.appendKV(referenceBackend, 0, randomKV(3, 1, 1, 1, 2), randomKV(4, 1, 1, 1, 2));
    const buf = (t: Tensor) => (t.storage as Float32Array).buffer;
    assert.equal(buf(second.k), buf(first.k), "the same buffer");
    assert.deepEqual(Array.from((second.k.storage as Float32Array).subarray(0, 6)), Array.from(first.k.storage as Float32Array), "earlier rows untouched");
  });

  it("bad use gets clear errors", () => {
    assert.throws(() => new ModelCache([{ kind: "attention", keyWidth: 0, valueWidth: 2 }]), /layer 0 must be .* positive integer sizes/);
    const cache = new ModelCache([{ kind: "attention", keyWidth: 2, valueWidth: 2 }, { kind: "state", shape: [2] }]);
    assert.throws(() => cache.begin(2, 1, [0]), /inputIds has 2 row\(s\) but sequences names 1/);
    const a = cache.addSequence();
    assert.throws(() => cache.begin(1, 1, [a, a].slice(0, 1).concat([a])), /inputIds has 1 row\(s\) but sequences names 2/);
    assert.throws(() => cache.begin(2, 1, [a, a]), /names a sequence twice/);
    const step = cache.begin(1, 1, [a]);
    const t = randomKV(1, 1, 1, 1, 2);
    assert.throws(() => step.appendKV(referenceBackend, 1, t, t), /layer 1 is a state layer, not an attention layer/);
    assert.throws(() => step.appendKV(referenceBackend, 0, randomKV(1, 1, 1, 1, 3), t), /keeps keys of width 2 .* got 3/);
    assert.throws(() => step.readState(referenceBackend, 0), /layer 0 is an attention layer, not a state layer/);
    cache.begin(1, 1, [a]);
    assert.throws(() => step.commit(), /stale/);
    assert.throws(() => cache.removeSequence(7), /no sequence 7/);
    assert.throws(() => cache.canReserve(-1), /non-negative integers/);
  });
});

/**
 * A test double of a recurrent layer (hybrid families come later): its state is the running sum of its
 * inputs x [B, S, 2], kept in a state slot of the cache.
 */
function runningSum(b: Backend, step: ReturnType<ModelCache["begin"]>, layer: number, x: Tensor): Tensor {
  const prev = step.readState(b, layer);
  const [batch, s] = x.shape as [number, number];
  const xs = x.storage as Float32Array;
  const sums = Float32Array.from(prev.storage as Float32Array);
  for (let r = 0; r < batch; r++) for (let t = 0; t < s; t++) for (let j = 0; j < 2; j++) sums[r * 2 + j]! += xs[(r * s + t) * 2 + j]!;
  const next = Tensor.from(sums, [batch, 2]);
  step.writeState(b, layer, next);
  return next;
}

describe("model cache: fixed-size state slots", () => {
  it("a recurrent layer's state follows each sequence through joins, leaves and uncommitted calls", async () => {
    const cache = new ModelCache([{ kind: "state", shape: [2] }, { kind: "attention", keyWidth: 2, valueWidth: 2 }]);
    assert.equal(cache.bytesPerSequence, 8);
    assert.equal(cache.bytesPerToken, 16);
    const b = referenceBackend;
    const x = (vals: number[][]) => Tensor.from(Float32Array.from(vals.flat(2)), [vals.length, vals[0]!.length / 2, 2]);
    const [p, q] = [cache.addSequence(), cache.addSequence()];
    assert.equal(cache.bytesInUse, 16, "each sequence holds its state slot");
    let step = cache.begin(2, 2, [p, q]);
    assert.deepEqual(Array.from((await runningSum(b, step, 0, x([[1, 2, 3, 4], [10, 20, 30, 40]])).data()) as Float32Array), [4, 6, 40, 60]);
    step.commit();
    step = cache.begin(1, 1, [q]);
    runningSum(b, step, 0, x([[100, 100]])); // not committed
    const r = cache.addSequence();
    step = cache.begin(2, 1, [r, q]);
    assert.deepEqual(Array.from((await step.readState(b, 0).data()) as Float32Array), [0, 0, 40, 60], "a new sequence starts at zeros; the uncommitted write is gone");
    runningSum(b, step, 0, x([[5, 5], [1, 1]]));
    step.commit();
    cache.removeSequence(p);
    step = cache.begin(2, 1, [q, r]);
    assert.deepEqual(Array.from((await step.readState(b, 0).data()) as Float32Array), [41, 61, 5, 5]);
    assert.throws(() => step.writeState(b, 0, Tensor.from(new Float32Array(3), [1, 3])), /keeps states \[2, 2\] .* got \[1, 3\]/);
    assert.equal(cache.bytesInUse, 2 * 8 + (3 + 1) * 16);
  });
});
