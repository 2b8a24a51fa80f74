/**
 * Run-time inputs checked up front with a message naming them: generate options (given ones strictly,
 * generation_config's when used), attention masks in generate and forward, and the exported experts
 * implementations called directly.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { eager } from "../../src/experts/eager.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import { resolveGenerateOptions } from "../../src/generation/options.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { F32, familyDir } from "./model-fixtures.js";

const ids = Tensor.from(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
const mask = (values: number[]) => Tensor.from(Int32Array.from(values), [2, 3]);

describe("run-time inputs", () => {
  it("generate options: every given option is checked before the first forward", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "olmoe"), { backend: "reference" });
    let forwards = 0;
    const forward = model.forward.bind(model);
    model.forward = (...a) => (forwards++, forward(...a));
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ seed: NaN }, /generate: seed must be an integer ≥ 0, got NaN/],
      [{ seed: 1.5 }, /seed must be an integer ≥ 0, got 1\.5/],
      [{ temperature: -5 }, /temperature must be a finite number > 0, got -5/],
      [{ temperature: -5, doSample: true }, /temperature must be a finite number > 0, got -5/],
      [{ temperature: Infinity, doSample: true }, /temperature must be a finite number > 0, got Infinity/],
      [{ padTokenId: 9999 }, /padTokenId must be a token id in \[0, 512\), got 9999/],
      [{ padTokenId: -1 }, /padTokenId must be a token id in \[0, 512\), got -1/],
      [{ eosTokenId: [1, 600] }, /eosTokenId\[1\] must be a token id in \[0, 512\), got 600/],
      [{ eosTokenId: "2" }, /eosTokenId must be a token id in \[0, 512\), got "2"/],
      [{ maxNewTokens: "5" }, /maxNewTokens must be an integer ≥ 0, got "5"/],
      [{ maxNewTokens: 2 ** 60 }, /maxNewTokens must be an integer ≥ 0, got 1152921504606847000/],
      [{ topK: 1.5 }, /topK must be an integer ≥ 0, got 1\.5/],
      [{ repetitionPenalty: 0 }, /repetitionPenalty must be a finite number > 0, got 0/],
      [{ doSample: "yes" }, /doSample must be true or false, got "yes"/],
      [{ onToken: 5 }, /onToken must be a function, got 5/],
      [{ attentionMask: Tensor.from(Float32Array.from([1, 0.5, 1, 1, 1, 1]), [2, 3]) }, /attentionMask must be an int32 \[2, 3\] tensor like inputIds, got Tensor\(\[2, 3\], float32\)/],
      [{ attentionMask: mask([1, 2, 1, 1, 1, 1]) }, /attentionMask\[0, 1\] is 2, not 0 or 1/],
      [{ attentionMask: mask([1, 1, 1, 0, 0, 0]) }, /attentionMask row 1 masks every token/],
      [{ attentionMask: [1, 1, 1] }, /attentionMask must be an int32 \[2, 3\] tensor like inputIds, got an array/],
    ];
    for (const [opts, re] of bad) await assert.rejects(model.generate(ids, opts as never), re, JSON.stringify(opts));
    assert.equal(forwards, 0, "no forward ran");
    const ok = await model.generate(ids, { maxNewTokens: 2, padTokenId: 511, attentionMask: mask([0, 1, 1, 1, 1, 1]) });
    assert.deepEqual([...ok.shape], [2, 5]);
  });

  it("generation_config values are checked when used, named as their fields", () => {
    assert.throws(() => resolveGenerateOptions({}, { do_sample: true, temperature: -1 }, {}), /temperature must be > 0 when sampling, got -1/);
    assert.throws(() => resolveGenerateOptions({}, { top_k: "50" }, {}), /top_k must be a non-negative integer, got "50"/);
    assert.throws(() => resolveGenerateOptions({}, { do_sample: "true" }, {}), /do_sample must be true or false/);
    // a greedy config's temperature is unused; a pad id outside the vocabulary falls back to eos
    const r = resolveGenerateOptions({}, { temperature: 0, pad_token_id: 1000, eos_token_id: 7 }, {}, 512);
    assert.equal(r.padTokenId, 7);
  });

  it("forward: float, non-binary or all-zero masks are refused", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "olmoe"), { backend: "reference" });
    await assert.rejects(model.forward(ids, { attentionMask: Tensor.from(new Float32Array(6).fill(1), [2, 3]) }), /forward: attentionMask must be int32 \(0 for padding, 1 for tokens\), got float32/);
    await assert.rejects(model.forward(ids, { attentionMask: mask([1, 1, 1, 1, -1, 1]) }), /forward: attentionMask\[1, 1\] is -1, not 0 or 1/);
    await assert.rejects(model.forward(ids, { attentionMask: mask([0, 0, 0, 1, 1, 1]) }), /forward: attentionMask row 0 masks every token/);
    await assert.rejects(model.forward(null as never), /forward: inputIds must be an int32 \[B, S\] tensor, got null/);
  });

  it("the exported eager() checks its arguments", async () => {
    const e = 4;
    const h = 8;
    const i = 6;
    const w: ExpertsWeights = {
      numExperts: e,
      hiddenSize: h,
      intermediateSize: i,
      gateUp: Tensor.from(new Float32Array(e * 2 * i * h), [e, 2 * i, h]),
      down: Tensor.from(new Float32Array(e * h * i), [e, h, i]),
      gate: { kind: "concatenated", act: "silu" },
    };
    const hidden = Tensor.from(new Float32Array(2 * h), [2, h]);
    const weights = Tensor.from(new Float32Array(4).fill(0.5), [2, 2]);
    await assert.rejects(eager(w, hidden, Tensor.from(Int32Array.from([0, 9, 1, 2]), [2, 2]), weights, referenceBackend), /experts: topkIndex\[0, 1\] = 9 is outside \[0, 4\)/);
    await assert.rejects(eager(w, hidden, Tensor.from(Int32Array.from([0, -1, 1, 2]), [2, 2]), weights, referenceBackend), /topkIndex\[0, 1\] = -1 is outside/);
    await assert.rejects(eager(w, null as never, Tensor.from(Int32Array.from([0, 1, 1, 2]), [2, 2]), weights, referenceBackend), /experts: hidden must be a Tensor, got null/);
    const out = await eager(w, hidden, Tensor.from(Int32Array.from([0, 1, 1, 2]), [2, 2]), weights, referenceBackend);
    assert.deepEqual([...out.shape], [2, h]);
  });
});
