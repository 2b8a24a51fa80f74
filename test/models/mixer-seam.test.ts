/**
 * The sequence-mixer seam with a toy state mixer (a decaying running sum of its inputs, skipping
 * padding) in place of layer 0's attention: the cache keeps its state, cached decode equals
 * recomputation, padding leaves the state alone, and a registered kind name is unique.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { DecoderLayer } from "../../src/models/layers/decoder-layer.js";
import { readMixerState, writeMixerState, type MixerContext, type SequenceMixer } from "../../src/models/layers/mixers/mixer.js";
import { mixerKinds, registerMixer } from "../../src/models/layers/mixers/registry.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { expectedTensors, F32, familyDir } from "./model-fixtures.js";

/** s ← s/2 + x_t at every real token (padding keeps s); output s. State [H]. */
class RunningSum implements SequenceMixer {
  constructor(
    readonly layer: number,
    readonly hidden: number,
  ) {}
  cacheSpec() {
    return { kind: "state" as const, shape: [this.hidden] };
  }
  async forward(b: Backend, x: Tensor, ctx: MixerContext): Promise<Tensor> {
    const [batch, seq] = x.shape as [number, number];
    const mask = ctx.tokenMask ? ((await ctx.tokenMask.data()) as Int32Array) : undefined;
    let s = readMixerState(b, ctx, this.layer, batch, [this.hidden]);
    const outs: Tensor[] = [];
    for (let t = 0; t < seq; t++) {
      const xt = b.slice(x, 1, t, 1).reshape([batch, this.hidden]);
      const on = Float32Array.from({ length: batch }, (_, r) => (mask ? mask[r * seq + t]! : 1));
      const step = b.add(b.scale(s, -0.5), xt);
      s = b.add(s, b.mul(step, b.fromHost(on, [batch, 1], "float32")));
      outs.push(s.reshape([batch, 1, this.hidden]));
    }
    writeMixerState(b, ctx, this.layer, s);
    return b.scale(b.concat(outs, 1), 0.1);
  }
}

async function toyModel(): Promise<MoeForCausalLM> {
  const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "qwen3_moe"), { backend: "reference" });
  const l0 = model.parts.layers[0]!;
  model.parts.layers[0] = new DecoderLayer(0, l0.norms, new RunningSum(0, model.config.hiddenSize), l0.ffn);
  return model;
}

async function cols(ids: Tensor, from: number, to: number): Promise<Tensor> {
  const [b, s] = ids.shape as [number, number];
  const v = (await ids.data()) as Int32Array;
  const out = new Int32Array(b * (to - from));
  for (let r = 0; r < b; r++) out.set(v.subarray(r * s + from, r * s + to), r * (to - from));
  return Tensor.from(out, [b, to - from]);
}

describe("sequence-mixer seam", () => {
  it("a state layer's cache holds a fixed-size state; cached decode equals recomputation", async () => {
    const model = await toyModel();
    const ids = (await expectedTensors(F32, "qwen3_moe")).input_ids!;
    const [b, s] = ids.shape as [number, number];
    const v = model.vocabSize;
    const full = (await (await model.forward(ids)).logits.data()) as Float32Array;
    const cache = model.newCache();
    assert.deepEqual(cache.layers[0], { kind: "state", shape: [model.config.hiddenSize] });
    assert.equal(cache.bytesPerSequence, model.config.hiddenSize * 4);
    for (const [from, to] of [[0, 5], [5, 6], [6, s]] as const) {
      const { logits } = await model.forward(await cols(ids, from, to), { cache });
      const got = (await logits.data()) as Float32Array;
      for (let r = 0; r < b; r++) {
        assertClose(got.subarray(r * (to - from) * v, (r + 1) * (to - from) * v), full.subarray((r * s + from) * v, (r * s + to) * v), 1e-4, `row ${r} positions ${from}..${to}`);
      }
    }
    // the toy mixer changes the model: without its state the decode would differ
    const fresh = await model.forward(await cols(ids, s - 1, s));
    const cached = full.subarray((s - 1) * v, s * v);
    assert.ok((await fresh.logits.data()).some((x, i) => Math.abs(x - cached[i]!) > 1e-3), "state matters");
  });

  it("left padding leaves the state unchanged (padded row equals the row alone)", async () => {
    const model = await toyModel();
    const ids = (await (await expectedTensors(F32, "qwen3_moe")).input_ids!.data()) as Int32Array;
    const s = 12;
    const pad = 3;
    const short = ids.slice(pad, s);
    const batched = Tensor.from(Int32Array.from([...ids.slice(0, s), 0, 0, 0, ...short]), [2, s]);
    const mask = Tensor.from(Int32Array.from([...new Array<number>(s).fill(1), 0, 0, 0, ...new Array<number>(s - pad).fill(1)]), [2, s]);
    const v = model.vocabSize;
    const cache = model.newCache();
    const padded = (await (await model.forward(batched, { attentionMask: mask, cache })).logits.data()) as Float32Array;
    const alone = (await (await model.forward(Tensor.from(short, [1, s - pad]))).logits.data()) as Float32Array;
    assertClose(padded.subarray((s + pad) * v, 2 * s * v), alone, 1e-4, "padded row");
    // one more token on both rows: the padded row's cached state continues as the row alone
    const next = Tensor.from(Int32Array.from([7, 7]), [2, 1]);
    const step = (await (await model.forward(next, { cache })).logits.data()) as Float32Array;
    const aloneNext = (await (await model.forward(Tensor.from(Int32Array.from([...short, 7]), [1, s - pad + 1]))).logits.data()) as Float32Array;
    assertClose(step.subarray(v, 2 * v), aloneNext.subarray((s - pad) * v), 1e-4, "padded row, next token");
  });

  it("a mixer kind registers once", () => {
    const kind = "toy-running-sum";
    const factory = { kind, tensors: () => [], load: () => Promise.reject(new Error("unused")) };
    registerMixer(factory);
    assert.ok(mixerKinds().includes(kind));
    assert.throws(() => registerMixer(factory), /mixer kind 'toy-running-sum' is registered twice/);
  });
});
