/** How the batching engine prefills: chunks that need no logits skip the lm head; requests that arrive together share prefill forwards (non-deterministic mode). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BatchEngine, type StepInfo } from "../../src/serve/engine/scheduler.js";
import { Tensor } from "../../src/tensor.js";
import { tinyChat } from "./helpers.js";

const prompt = (i: number, n: number) => Array.from({ length: n }, (_, j) => 10 + ((i * 37 + j * 11) % 200));

/** The greedy tokens of each prompt, generated alone by the model's own loop. */
async function alone(prompts: number[][], maxNewTokens: number): Promise<number[][]> {
  const { model } = await tinyChat();
  const out: number[][] = [];
  for (const p of prompts) {
    const ids = await model.generate(Tensor.from(Int32Array.from(p), [1, p.length]), { maxNewTokens, doSample: false, eosTokenId: [] });
    out.push(Array.from((await ids.data()) as Int32Array).slice(p.length));
  }
  return out;
}

async function served(engine: BatchEngine, prompts: number[][], maxNewTokens: number): Promise<number[][]> {
  const gens = prompts.map((p) => engine.submit(p, { maxNewTokens, doSample: false, eosTokenId: [] }));
  return Promise.all(
    gens.map(async (g) => {
      const tokens: number[] = [];
      for await (const t of g.tokens) tokens.push(t);
      return tokens;
    }),
  );
}

describe("batching engine: prefill", () => {
  it("forward with logits: false fills the cache and returns [B, 0, V]; the next step's logits equal a one-shot forward's", async () => {
    const { model } = await tinyChat();
    const ids = prompt(1, 9);
    const cache = model.newCache();
    const first = await model.forward(Tensor.from(Int32Array.from(ids.slice(0, 6)), [1, 6]), { cache, logitsToKeep: 1, logits: false });
    assert.deepEqual(first.logits.shape, [1, 0, model.vocabSize]);
    assert.equal(cache.lengthOf(cache.sequences[0]!), 6);
    const rest = await model.forward(Tensor.from(Int32Array.from(ids.slice(6)), [1, 3]), { cache, logitsToKeep: 1 });
    const whole = await model.forward(Tensor.from(Int32Array.from(ids), [1, ids.length]), { logitsToKeep: 1 });
    const a = (await rest.logits.data()) as Float32Array;
    const b = (await whole.logits.data()) as Float32Array;
    assert.equal(a.length, model.vocabSize);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-4, `chunked prefill logits differ from one-shot by ${worst}`);
    await assert.rejects(model.forward(Tensor.from(Int32Array.from(ids), [1, ids.length]), { logits: "no" as unknown as boolean }), /logits must be true or false/);
  });

  it("a prompt prefilled in chunks asks for logits only with its last chunk; the tokens equal the lone generation", async () => {
    const { model } = await tinyChat();
    const calls: (boolean | undefined)[] = [];
    const spy = Object.create(model) as typeof model;
    spy.forward = (ids, opts) => {
      calls.push(opts?.logits);
      return model.forward(ids, opts);
    };
    const engine = new BatchEngine(spy, { prefillChunk: 4 });
    const prompts = [prompt(2, 10)];
    const got = await served(engine, prompts, 5);
    await engine.close();
    // 10 prompt tokens in chunks of 4: 4, 4 (no logits), 2 (logits), then 4 decode steps
    assert.deepEqual(calls, [false, false, undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(got, await alone(prompts, 5));
  });

  it("non-deterministic: prompts that arrive together share prefill forwards (cut to the shortest chunk); greedy tokens equal the lone ones", async () => {
    const { model } = await tinyChat();
    const steps: StepInfo[] = [];
    const engine = new BatchEngine(model, { deterministic: false, prefillChunk: 64, onStep: (s) => steps.push(s) });
    const prompts = [prompt(3, 7), prompt(4, 12), prompt(5, 9), prompt(6, 12)];
    const got = await served(engine, prompts, 6);
    await engine.close();
    const prefills = steps.filter((s) => s.phase === "prefill").map((s) => [s.rows, s.tokens / s.rows]);
    // all four at offset 0 cut to 7; then the three longer ones at 7 cut to 2 (9 − 7); then the two of 12 at 9 cut to 3
    assert.deepEqual(prefills, [
      [4, 7],
      [3, 2],
      [2, 3],
    ]);
    assert.deepEqual(got, await alone(prompts, 6));
  });

  it("deterministic: every prompt is prefilled alone, whatever else waits", async () => {
    const { model } = await tinyChat();
    const steps: StepInfo[] = [];
    const engine = new BatchEngine(model, { prefillChunk: 64, onStep: (s) => steps.push(s) });
    const prompts = [prompt(7, 5), prompt(8, 5), prompt(9, 6)];
    const got = await served(engine, prompts, 4);
    await engine.close();
    assert.deepEqual(
      steps.filter((s) => s.phase === "prefill").map((s) => s.rows),
      [1, 1, 1],
    );
    assert.deepEqual(got, await alone(prompts, 4));
  });
});
