import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { resolveBackend } from "../../src/backends/by-name.js";
import { generationReport, parseGenerationArgs, runGenerationBench } from "../../src/bench/generation-command.js";
import { measureGeneration, seededPrompt, type GenerationSpec } from "../../src/bench/generation.js";
import { olmoe1b7bConfig, olmoeTensors } from "../../src/bench/olmoe-synthetic.js";
import { syntheticCheckpoint } from "../../src/bench/synthetic.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { fixtureDir } from "../helpers/fixtures.js";

const OLMOE = fixtureDir("olmoe");

const tinySpec = (impl: string): GenerationSpec => ({
  model: OLMOE,
  layers: 2,
  impl,
  backend: "reference",
  promptLen: 8,
  newTokens: 1,
  runs: 1,
  warmup: 0,
  breakdown: true,
  seed: 0,
});

describe("generation bench engine on the olmoe fixture", () => {
  it("reports positive prefill and decode rates and a breakdown that adds up", async () => {
    for (const impl of ["eager", "grouped_mm", "auto"]) {
      const r = await measureGeneration(tinySpec(impl));
      assert.equal(r.model_type, "olmoe");
      assert.equal(r.implementation, impl);
      assert.equal(r.prompt_len, 8);
      assert.equal(r.new_tokens, 1);
      assert.ok(r.prefill_ms > 0 && r.prefill_tokens_per_s > 0, `${impl} prefill ${r.prefill_tokens_per_s} tok/s`);
      assert.ok(r.decode_ms_per_token > 0 && r.decode_tokens_per_s > 0, `${impl} decode ${r.decode_tokens_per_s} tok/s`);
      assert.ok(r.peak_mem_mb > 0 && r.weights_mb > 0);
      if (impl === "auto") assert.ok(r.auto_choice?.decode, "auto says what it ran");
      const b = r.breakdown!;
      assert.equal(b.decode_steps, 1);
      for (const phase of [b.prefill, b.decode]) {
        const parts = new Set(phase.parts.map((p) => p.part));
        for (const p of ["attention", "experts", "router", "lm_head", "norms", "rest"] as const) assert.ok(parts.has(p), `${impl}: part ${p}`);
        const sum = phase.parts.reduce((a, p) => a + p.ms, 0);
        assert.ok(Math.abs(sum - phase.totalMs) <= 0.05 * phase.totalMs + 0.5, `${impl}: parts ${sum} ms vs total ${phase.totalMs} ms`);
        assert.ok(phase.ops.some((o) => o.part === "attention" && o.op === "attention"));
      }
    }
  });

  it("runs each implementation in a child process and formats a report", async () => {
    const o = parseGenerationArgs(["--model", OLMOE, "--backend", "reference", "--prompt-len", "6", "--new-tokens", "2", "--runs", "1", "--warmup", "0", "--impl", "batched_mm"]);
    assert.equal(o.inProcess, false);
    const records = await runGenerationBench(o);
    assert.equal(records.length, 1);
    assert.ok(records[0]!.decode_tokens_per_s > 0);
    const md = generationReport(records);
    assert.match(md, /\| batched_mm \|/);
    assert.match(md, /Where the time goes, batched_mm/);
    assert.throws(() => parseGenerationArgs(["--new-tokens", "0"]), /--new-tokens must be an integer ≥ 1/);
  });
});

describe("synthetic OLMoE-1B-7B", () => {
  it("has the real dimensions", () => {
    const c = olmoe1b7bConfig(2);
    assert.equal(c.model_type, "olmoe");
    assert.equal(c.hidden_size, 2048);
    assert.equal(c.num_experts, 64);
    assert.equal(c.intermediate_size, 1024);
    assert.equal(c.num_experts_per_tok, 8);
    assert.equal(c.num_attention_heads, 16);
    assert.equal(c.vocab_size, 50304);
    assert.equal(c.num_hidden_layers, 2);
    assert.throws(() => olmoe1b7bConfig(0), /--layers must be a positive integer/);
  });

  it("loads through AutoModelForCausalLM with every tensor used (shrunk dims)", async () => {
    const cfg = { ...olmoe1b7bConfig(2), hidden_size: 32, intermediate_size: 8, num_experts: 6, num_experts_per_tok: 2, num_attention_heads: 4, num_key_value_heads: 4, vocab_size: 40 };
    const ck = syntheticCheckpoint("tiny olmoe", cfg, olmoeTensors(cfg), "bfloat16", 3);
    assert.equal(ck.info("model.layers.1.self_attn.q_norm.weight").shape[0], 32);
    const model = await AutoModelForCausalLM.fromPretrained(ck, { backend: referenceBackend });
    assert.deepEqual(model.unusedKeys, []);
    const { logits } = await model.forward(seededPrompt(5, 40, 0));
    assert.deepEqual([...logits.shape], [1, 5, 40]);
    for (const v of await logits.data()) assert.ok(Number.isFinite(v));
  });
});

describe("KV cache past its first capacity (long decode, as the bench runs)", () => {
  it("cached single-token steps equal recomputing the sequence, batch 1 and 2, reference and cpu", async () => {
    const cpu = await resolveBackend("cpu", { threads: 2 }).catch(() => undefined);
    const backends = [referenceBackend, ...(cpu ? [cpu] : [])];
    for (const backend of backends) {
      const model = await AutoModelForCausalLM.fromPretrained(OLMOE, { backend, expertsImplementation: "grouped_mm" });
      for (const batch of [1, 2]) {
        const s = 40;
        const ids = Int32Array.from({ length: batch * s }, (_, i) => (i * 37 + 11) % model.vocabSize);
        const full = (await (await model.forward(Tensor.from(ids, [batch, s]))).logits.data()) as Float32Array;
        const cache = model.newCache();
        const v = model.vocabSize;
        const cols = (from: number, to: number) => {
          const out = new Int32Array(batch * (to - from));
          for (let r = 0; r < batch; r++) out.set(ids.subarray(r * s + from, r * s + to), r * (to - from));
          return Tensor.from(out, [batch, to - from]);
        };
        // prefill 5, single steps across capacities 16 and 32, then a chunk of 3 that grows it again
        const cuts = [0, 5, ...Array.from({ length: 30 }, (_, i) => 6 + i), 37, s];
        for (let i = 0; i + 1 < cuts.length; i++) {
          const [from, to] = [cuts[i]!, cuts[i + 1]!];
          const got = (await (await model.forward(cols(from, to), { cache })).logits.data()) as Float32Array;
          const want = new Float32Array(batch * (to - from) * v);
          for (let r = 0; r < batch; r++) want.set(full.subarray((r * s + from) * v, (r * s + to) * v), r * (to - from) * v);
          assertClose(got, want, 1e-4, `${backend.name} batch ${batch} positions ${from}..${to}`);
        }
        assert.equal(cache.length, s);
      }
    }
  });
});
