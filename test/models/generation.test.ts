import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  sample,
  suppressTokens,
} from "../../src/generation/logits-processors.js";
import { seededRng } from "../../src/generation/rng.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { F32, familyDir } from "./model-fixtures.js";

const prompt = () => Tensor.from(Int32Array.from([5, 17, 300, 42, 7, 99]), [1, 6]);
const load = () => AutoModelForCausalLM.fromPretrained(familyDir(F32, "mixtral"), { backend: "reference" });
const tail = async (t: Tensor, from: number) => Array.from(((await t.data()) as Int32Array).slice(from));

describe("logits processors", () => {
  it("repetition penalty divides positive and multiplies negative scores of seen tokens, once each", () => {
    const s = Float64Array.from([2, -2, 3, 1]);
    applyRepetitionPenalty(s, [0, 1, 1], 2);
    assert.deepEqual(Array.from(s), [1, -4, 3, 1]);
  });

  it("temperature, top-k, top-p and suppression", () => {
    const s = Float64Array.from([1, 4, 2, 3]);
    applyTemperature(s, 2);
    assert.deepEqual(Array.from(s), [0.5, 2, 1, 1.5]);
    applyTopK(s, 2);
    assert.deepEqual(Array.from(s), [-Infinity, 2, -Infinity, 1.5]);
    const p = Float64Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    applyTopP(p, 0.75);
    assert.deepEqual(Array.from(p, (x) => x !== -Infinity), [true, true, false, false]);
    const q = Float64Array.from([0, 1, 2]);
    suppressTokens(q, [2]);
    assert.equal(argmax(q), 1);
  });

  it("sampling follows the distribution (seeded)", () => {
    const rng = seededRng(1);
    const s = Float64Array.from([Math.log(0.7), Math.log(0.2), Math.log(0.1), -Infinity]);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sample(s, rng)]!++;
    assert.equal(counts[3], 0);
    assert.ok(Math.abs(counts[0]! / 20000 - 0.7) < 0.02 && Math.abs(counts[1]! / 20000 - 0.2) < 0.02, `counts ${counts}`);
  });
});

describe("generate", () => {
  it("seeded sampling is reproducible; top-k 1 equals greedy", async () => {
    const model = await load();
    const opts = { maxNewTokens: 6, doSample: true, temperature: 1.3, topK: 40, topP: 0.95, seed: 11, eosTokenId: null };
    const a = await tail(await model.generate(prompt(), opts), 6);
    const b = await tail(await model.generate(prompt(), opts), 6);
    assert.deepEqual(a, b);
    const others = await Promise.all([12, 13, 14].map(async (seed) => tail(await model.generate(prompt(), { ...opts, seed }), 6)));
    assert.ok(others.some((o) => o.join() !== a.join()), "other seeds give other samples");
    const greedy = await tail(await model.generate(prompt(), { maxNewTokens: 6, eosTokenId: null }), 6);
    const top1 = await tail(await model.generate(prompt(), { maxNewTokens: 6, doSample: true, topK: 1, seed: 3, eosTokenId: null }), 6);
    assert.deepEqual(top1, greedy);
  });

  it("streams each step (async iterator and onToken) with the tokens generate returns", async () => {
    const model = await load();
    const seen: number[] = [];
    const out = await tail(await model.generate(prompt(), { maxNewTokens: 5, eosTokenId: null, onToken: (t, step) => void seen.push(step, t[0]!) }), 6);
    assert.deepEqual(seen, out.flatMap((t, i) => [i, t]));
    const streamed: number[] = [];
    for await (const t of model.stream(prompt(), { maxNewTokens: 5, eosTokenId: null })) streamed.push(t[0]!);
    assert.deepEqual(streamed, out);
  });

  it("stops on eos; a finished row is filled with the pad id while others continue", async () => {
    const model = await load();
    const greedy = await tail(await model.generate(prompt(), { maxNewTokens: 4, eosTokenId: null }), 6);
    const eos = greedy[1]!;
    const stopped = await tail(await model.generate(prompt(), { maxNewTokens: 4, eosTokenId: eos }), 6);
    assert.deepEqual(stopped, greedy.slice(0, 2), "ends right after the eos token");
    const other = Tensor.from(Int32Array.from([8, 8, 9, 10, 11, 12]), [1, 6]);
    const otherGreedy = await tail(await model.generate(other, { maxNewTokens: 4, eosTokenId: null }), 6);
    assert.ok(!otherGreedy.slice(0, 3).includes(eos), "fixture assumption: the second prompt does not hit that eos early");
    const both = Tensor.from(Int32Array.from([...(await prompt().data()), ...(await other.data())]), [2, 6]);
    const out = (await (await model.generate(both, { maxNewTokens: 4, eosTokenId: eos, padTokenId: 0 })).data()) as Int32Array;
    assert.deepEqual(Array.from(out.slice(6, 10)), [greedy[0], eos, 0, 0]);
    assert.deepEqual(Array.from(out.slice(16, 20)), otherGreedy);
  });

  it("defaults come from generation_config.json (eos) and maxNewTokens 0 returns the prompt", async () => {
    const model = await load();
    assert.equal(model.generationConfig?.eos_token_id, 2);
    const out = await model.generate(prompt(), { maxNewTokens: 0 });
    assert.deepEqual(Array.from((await out.data()) as Int32Array), Array.from((await prompt().data()) as Int32Array));
  });
});
