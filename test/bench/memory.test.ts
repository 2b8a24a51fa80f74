/**
 * The benchmarks' memory accounting (src/bench/memory.ts): the weights as held (block formats at the format
 * table's block sizes, shared buffers once), the ratio peak / (weights + activations), and the synthetic experts
 * generated quantized (the same blocks as quantizing the float tensors, no float left behind).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FORMATS } from "../../src/formats/table.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { memoryAccount, memoryLine, touchWeights, weightBytes } from "../../src/bench/memory.js";
import { moeMatrixFormats, moeDecoderTensors } from "../../src/bench/moe-tensors.js";
import { memoryLines } from "../../src/bench/model-table.js";
import type { ModelRow } from "../../src/bench/model-bench.js";
import { parseBenchArgs } from "../../src/bench/options.js";
import { uniformStorage, uniformWidened } from "../../src/bench/random.js";
import { SyntheticProvider } from "../../src/bench/synthetic.js";
import { widenToF32 } from "../../src/dtype.js";
import { tensorsOf } from "../../src/models/causal-lm.js";
import { formatFor, quantizeTensor, type MatrixRole, type QuantDType } from "../../src/models/build/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { familyDir, K256 } from "../models/model-fixtures.js";

/** Bytes of a tensor from the format table alone: whole blocks of blockElems values in blockBytes bytes. */
const tableBytes = (t: Tensor) => (t.size / FORMATS[t.dtype].blockElems) * FORMATS[t.dtype].blockBytes;

/**
 * The k256 qwen2_moe fixture's weights from its config (hidden 256, 4 heads of 64, 2 kv heads, 4 experts of 256,
 * shared expert 512, vocab 512, 2 layers) and the format table: embeddings, norms, biases and routers bf16 as stored,
 * every other matrix in the format quantize at load gives it.
 */
function expectedBytes(dtype: QuantDType): number {
  const b = (f: keyof typeof FORMATS, rows: number, cols: number) => rows * (cols / FORMATS[f].blockElems) * FORMATS[f].blockBytes;
  const q = (role: MatrixRole, layer: number, rows: number, cols: number) => b(formatFor(dtype, role, layer, cols, { numLayers: 2, numExperts: 4 })!, rows, cols);
  let n = b("bfloat16", 512, 256) + b("bfloat16", 1, 256) + q("output", -1, 512, 256);
  for (let l = 0; l < 2; l++) {
    n += 2 * b("bfloat16", 1, 256) + b("bfloat16", 1, 512) + b("bfloat16", 4, 256) + b("bfloat16", 1, 256);
    n += q("attn_q", l, 256, 256) + q("attn_k", l, 128, 256) + q("attn_v", l, 128, 256) + q("attn_output", l, 256, 256);
    n += 4 * (q("exps_gate_up", l, 512, 256) + q("exps_down", l, 256, 256)) + q("ffn_gate_up", l, 1024, 256) + q("ffn_down", l, 256, 512);
  }
  return n;
}

describe("weights as held", () => {
  for (const dtype of ["q8_0", "q4_0", "q4_k_m", "mxfp4"] as QuantDType[]) {
    it(`the k256 qwen2_moe fixture quantized at load to ${dtype}: the sum of its weights' block sizes`, async () => {
      const model = await AutoModelForCausalLM.fromPretrained(familyDir(K256, "qwen2_moe"), { backend: "reference", dtype });
      try {
        const p = model.parts;
        const weights = [...tensorsOf([p.embedTokens, p.layers, p.norm, p.lmHead])];
        assert.equal(weightBytes(weights), expectedBytes(dtype));
        // summing each tensor would count twice what the views share (each layer's routed and shared experts as one stack
        // for the experts' pass; mxfp4's shared expert is q8_0, so it stays apart)
        const summed = weights.reduce((a, t) => a + tableBytes(t), 0);
        if (dtype === "mxfp4") assert.equal(summed, expectedBytes(dtype));
        else assert.ok(summed > expectedBytes(dtype), `${summed} > ${expectedBytes(dtype)}`);
        // the routed experts of each layer: 4 experts × (2·256 gate|up + 256 down) rows of 256 values
        const experts = model.moeBlocks().map((b) => b.experts.weights);
        const format = experts[0]!.down.dtype;
        const perLayer = (rowsOf: (f: string) => number) => 4 * (2 * 256 * rowsOf(experts[0]!.gateUp!.dtype) + 256 * rowsOf(format));
        const rowBytes = (f: string) => (256 / FORMATS[f as "q4_0"].blockElems) * FORMATS[f as "q4_0"].blockBytes;
        if (dtype === "q4_0") assert.equal(weightBytes(experts.flatMap((w) => [w.gateUp!, w.down])), 2 * perLayer(() => 8 * 18));
        assert.equal(weightBytes(experts.flatMap((w) => [w.gateUp!, w.down])), experts.reduce((a, w) => a + 4 * (512 * rowBytes(w.gateUp!.dtype) + 256 * rowBytes(w.down.dtype)), 0));
        // the float model is larger than every quantized one
        const bf16 = weights.reduce((a, t) => a + t.size * 2, 0);
        assert.ok(expectedBytes(dtype) < bf16, `${dtype}: ${expectedBytes(dtype)} < ${bf16}`);
      } finally {
        model.dispose();
      }
    });
  }

  it("counts each byte of a buffer once: shared tensors, views of one buffer, strided segments", () => {
    const a = new Uint16Array(64 * 32);
    const whole = new Tensor([64, 32], "bfloat16", a);
    assert.equal(weightBytes([whole, whole]), 64 * 32 * 2);
    // rows 0..15 and 8..23 of the same buffer as a view, beside the whole tensor: still the buffer once
    const view = new Tensor([24, 32], "bfloat16", new SegmentedStorage([{ data: a, byteOffset: 0, rows: 16 }, { data: a, byteOffset: 8 * 64, rows: 8 }]));
    assert.equal(weightBytes([view]), 16 * 64);
    assert.equal(weightBytes([view, whole]), 64 * 32 * 2);
    // the first 8 columns of each of 10 rows of a [10, 32] bf16 matrix: 10 × 16 bytes
    const cols = new Tensor([10, 8], "bfloat16", new SegmentedStorage([{ data: a, byteOffset: 0, rows: 10, rowStride: 64 }]));
    assert.equal(weightBytes([cols]), 10 * 16);
    const q = new Tensor([4, 64], "q4_0", new Uint8Array(4 * 2 * 18));
    assert.equal(weightBytes([q, cols]), 144 + 160);
  });

  it("touches every page of the weights and returns a checksum of what it read", () => {
    const b = new Uint8Array(3 * 4096 + 10).fill(0);
    b[0] = 1;
    b[4096] = 2;
    b[8192] = 3;
    b[b.length - 1] = 4;
    assert.equal(touchWeights([new Tensor([1, b.length / 2], "bfloat16", new Uint16Array(b.buffer))]), 1 + 2 + 3 + 4 + 0);
  });
});

describe("peak / (weights + activations)", () => {
  const MB = 1e6;
  it("activations are what the run adds after loading; the peak covers loading and the run", () => {
    const a = memoryAccount({ runtimeBytes: 70 * MB, weightBytes: 1500 * MB, loadPeakBytes: 1600 * MB, loadedRssBytes: 1580 * MB, runPeakBytes: 1780 * MB });
    assert.equal(a.activationBytes, 200 * MB);
    assert.equal(a.peakBytes, 1780 * MB);
    assert.equal(a.ratio, 1780 / 1700);
    assert.equal(
      memoryLine(a),
      "weights 1,500 MB + activations 200 MB; peak RSS 1,780 MB (load 1,600, run 1,780) = 1.05× weights + activations; runtime 70 MB, RSS after load 1,580 MB",
    );
    // a load transient above the run's peak is the peak; a run below the loaded size adds no activations
    const b = memoryAccount({ runtimeBytes: 70 * MB, weightBytes: 1500 * MB, loadPeakBytes: 2850 * MB, loadedRssBytes: 1580 * MB, runPeakBytes: 1500 * MB });
    assert.equal(b.activationBytes, 0);
    assert.equal(b.ratio, 2850 / 1500);
  });
  it("refuses a sample that is not byte counts, by name", () => {
    assert.throws(() => memoryAccount({ runtimeBytes: 1, weightBytes: NaN, loadPeakBytes: 1, loadedRssBytes: 1, runPeakBytes: 1 }), /memory sample: weightBytes is NaN/);
    assert.throws(() => memoryAccount({ runtimeBytes: -1, weightBytes: 1, loadPeakBytes: 1, loadedRssBytes: 1, runPeakBytes: 1 }), /runtimeBytes is -1/);
  });
  it("the model table's memory lines: moekit's accounting per dtype, llama.cpp's peak beside it", () => {
    const base = { model: "m", case: "c", row: "r", metric: "prefill_ms" as const, engine: "moekit" as ModelRow["engine"], detail: "", threads: 2, layers: 2, value: 1, runs: [1], floor: 1, floor_bound: "compute" as const, share_of_floor: 1, flops: 1, bytes: 1, gemm_ceiling_gflops: 1, bandwidth_ceiling_gbps: 1, speed_vs_llama_cpp: null, load_ms: 0 } satisfies Partial<ModelRow>;
    const rows: ModelRow[] = [
      { ...base, dtype: "q4_0", peak_mem_mb: 1773, quant_source: "file", weights_mb: 1520, activations_mb: 180, runtime_mb: 69, loaded_rss_mb: 1593, load_peak_mem_mb: 71, run_peak_mem_mb: 1773, mem_ratio: 1773 / 1700 },
      { ...base, dtype: "q4_0", engine: "llama.cpp" as const, peak_mem_mb: 1688.4, quant_source: null, weights_mb: null, activations_mb: null, runtime_mb: null, loaded_rss_mb: null, load_peak_mem_mb: null, run_peak_mem_mb: null, mem_ratio: null },
    ];
    assert.deepEqual(memoryLines(rows), [
      "- q4_0 (its `moekit quantize` checkpoint, mapped): weights 1,520 MB + activations 180 MB; peak RSS 1,773 MB (load 71, run 1,773) = 1.04× weights + activations; runtime 69 MB, RSS after load 1,593 MB; llama.cpp peak RSS 1,688 MB",
    ]);
  });
  it("--quant-source takes load or file", () => {
    assert.equal(parseBenchArgs(["--scope", "model", "--quant-source", "file"]).options.quantSource, "file");
    assert.equal(parseBenchArgs(["--scope", "model"]).options.quantSource, undefined);
    assert.throws(() => parseBenchArgs(["--quant-source", "disk"]), /--quant-source must be one of load, file, got 'disk'/);
  });
});

describe("synthetic experts generated quantized", () => {
  const cfg = { model_type: "qwen2_moe", hidden_size: 256, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64, num_hidden_layers: 2, num_experts: 4 };
  const specs = moeDecoderTensors(cfg, { experts: 4, expertWidth: 256, qkvBias: true, sharedExpert: { width: 512, gated: true } });

  it("picks quantize at load's formats for expert and shared-expert matrices only", () => {
    const f = moeMatrixFormats(cfg, "q4_k_m");
    // q4_k_m: ffn down projections of the layers llama.cpp's use_more_bits picks in q6_k (of 2 layers: layer 1)
    assert.equal(f("model.layers.0.mlp.experts.3.down_proj.weight", [256, 256]), "q4_k");
    assert.equal(f("model.layers.1.mlp.experts.3.down_proj.weight", [256, 256]), "q6_k");
    assert.equal(f("model.layers.1.mlp.experts.0.gate_proj.weight", [256, 256]), "q4_k");
    assert.equal(f("model.layers.1.mlp.shared_expert.down_proj.weight", [256, 512]), "q6_k");
    assert.equal(f("model.layers.0.mlp.gate.weight", [4, 256]), undefined);
    assert.equal(f("model.layers.0.mlp.shared_expert_gate.weight", [1, 256]), undefined);
    assert.equal(f("model.layers.0.self_attn.q_proj.weight", [256, 256]), undefined);
    assert.equal(moeMatrixFormats(cfg, "mxfp4")("model.layers.0.mlp.shared_expert.up_proj.weight", [512, 256]), "q8_0");
  });

  for (const dtype of ["q4_k_m", "mxfp4", "q8_0"] as QuantDType[]) {
    it(`${dtype}: each matrix holds the blocks quantizing its bf16 values makes`, async () => {
      const formats = moeMatrixFormats(cfg, dtype);
      const quantized = new SyntheticProvider(specs, "bfloat16", 7, formats);
      const float = new SyntheticProvider(specs, "bfloat16", 7);
      for (const name of ["model.layers.1.mlp.experts.2.down_proj.weight", "model.layers.0.mlp.experts.0.up_proj.weight", "model.layers.1.mlp.shared_expert.gate_proj.weight"]) {
        const q = await quantized.tensor(name);
        const shape = quantized.info(name).shape;
        const want = quantizeTensor(await float.tensor(name), formats(name, shape)!, name);
        assert.equal(q.dtype, want.dtype, name);
        assert.deepEqual(q.hostStorage(), want.hostStorage(), name);
        assert.equal(quantized.info(name).end, weightBytes([q]), name);
      }
      const router = await quantized.tensor("model.layers.0.mlp.gate.weight");
      assert.equal(router.dtype, "bfloat16");
    });
  }

  it("widens the generated 16-bit values exactly, into the buffer given", () => {
    const out = new Float32Array(1000);
    for (const dtype of ["bfloat16", "float16", "float32"] as const) {
      const got = uniformWidened(999, 11, 0.25, dtype, out);
      assert.equal(got.buffer, out.buffer);
      assert.deepEqual(got, widenToF32(uniformStorage(999, 11, 0.25, dtype), dtype));
    }
    assert.throws(() => uniformWidened(2000, 1, 1, "bfloat16", out), /2000 values do not fit a buffer of 1000/);
  });
});
