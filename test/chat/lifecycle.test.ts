import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { progressFetch, type ProgressInfo } from "../../src/pretrained/progress.js";
import { Tensor } from "../../src/tensor.js";
import { F32, familyDir } from "../models/model-fixtures.js";

const dir = familyDir(F32, "qwen3_moe");
const prompt = () => Tensor.from(Int32Array.from([5, 17, 300, 42]), [1, 4]);

describe("AbortSignal", () => {
  it("stream stops at the next token boundary; generate returns the tokens made so far", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" });
    const full = Array.from((await (await model.generate(prompt(), { maxNewTokens: 8, eosTokenId: null })).data()) as Int32Array);
    const ctl = new AbortController();
    const seen: number[] = [];
    for await (const t of model.stream(prompt(), { maxNewTokens: 8, eosTokenId: null, signal: ctl.signal })) {
      seen.push(t[0]!);
      if (seen.length === 3) ctl.abort();
    }
    assert.deepEqual(seen, full.slice(4, 7));
    const ctl2 = new AbortController();
    const out = await model.generate(prompt(), { maxNewTokens: 8, eosTokenId: null, signal: ctl2.signal, onToken: (_t, step) => (step === 1 ? ctl2.abort() : undefined) });
    assert.deepEqual(Array.from((await out.data()) as Int32Array), full.slice(0, 6));
    const pre = new AbortController();
    pre.abort();
    assert.equal((await model.generate(prompt(), { signal: pre.signal })).shape[1], 4, "an aborted signal generates nothing");
    await assert.rejects(model.generate(prompt(), { signal: "stop" as never }), /signal must be an AbortSignal/);
  });
});

describe("dispose", () => {
  it("frees the model: later calls say it was disposed; a second dispose does nothing", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference" });
    assert.equal(model.disposed, false);
    model.dispose();
    model.dispose();
    assert.equal(model.disposed, true);
    await assert.rejects(model.generate(prompt(), { maxNewTokens: 2 }), /was disposed/);
  });

  it("hands every device weight to backend.dispose exactly once", async () => {
    const { ReferenceBackend } = await import("../../src/backends/reference/index.js");
    class Counting extends ReferenceBackend {
      freed = new Set<Tensor>();
      twice = 0;
      dispose(t: Tensor) {
        if (this.freed.has(t)) this.twice++;
        this.freed.add(t);
      }
    }
    const b = new Counting();
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: b });
    const embed = model.parts.embedTokens;
    const experts = model.moeBlocks()[0]!.experts;
    model.dispose();
    assert.ok(b.freed.has(embed), "the embedding table is released");
    assert.ok([...b.freed].some((t) => t.shape.length === 3 && t.shape[0] === 8), `an experts stack is released (${experts.implementation})`);
    assert.ok(b.freed.size > 20, `${b.freed.size} tensors released`);
    assert.equal(b.twice, 0);
  });
});

describe("progressCallback", () => {
  it("reports initiate, growing progress up to the file's bytes, done, then ready", async () => {
    const events: ProgressInfo[] = [];
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", progressCallback: (e) => events.push(e) });
    const statuses = events.map((e) => e.status);
    assert.equal(statuses[0], "initiate");
    assert.equal(statuses.at(-1), "ready");
    assert.equal(statuses.at(-2), "done");
    const progress = events.filter((e): e is Extract<ProgressInfo, { status: "progress" }> => e.status === "progress");
    assert.ok(progress.length > 10);
    assert.ok(progress.every((e, i) => e.file === "model.safetensors" && (i === 0 || e.loaded > progress[i - 1]!.loaded)));
    const ckpt = await Checkpoint.open(dir);
    const used = ckpt.keys().filter((k) => !model.unusedKeys.includes(k));
    const bytes = used.reduce((s, k) => s + ckpt.info(k).end - ckpt.info(k).begin, 0);
    assert.equal(progress.at(-1)!.loaded, bytes, "every used tensor's stored bytes counted once");
    assert.ok(progress.at(-1)!.total >= bytes);
    assert.deepEqual(events.at(-1), { status: "ready", name: dir, model: "qwen3_moe" });
  });

  it("a throwing callback does not break the load", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: "reference", progressCallback: () => {
      throw new Error("ui gone");
    } });
    assert.equal(model.modelType, "qwen3_moe");
  });

  it("downloads: counts a response's bytes as its body is read, named by the repo path", async () => {
    const body = new Uint8Array(1000).fill(7);
    const fake = (async () => new Response(new Blob([body]).stream(), { headers: { "content-length": "1000" } })) as unknown as typeof fetch;
    const events: ProgressInfo[] = [];
    const f = progressFetch("org/model", (e) => events.push(e), fake);
    const res = await f("https://hub.example/org/model/resolve/main/sub/model-00001.safetensors");
    assert.equal(events.length, 1);
    const got = new Uint8Array(await res.arrayBuffer());
    assert.equal(got.length, 1000);
    const last = events.filter((e) => e.status === "progress").at(-1) as Extract<ProgressInfo, { status: "progress" }>;
    assert.deepEqual([last.loaded, last.total, last.progress, last.file], [1000, 1000, 100, "sub/model-00001.safetensors"]);
    assert.deepEqual(events.map((e) => e.status).filter((s, i, a) => a.indexOf(s) === i), ["initiate", "progress", "done"]);
  });
});
