/**
 * `moekit bench --scope model` without timings: option parsing, the cases and their floors, the table's
 * shape, the llama.cpp peer's skip message and case arguments, and the GGUF cache (its keying, and that a
 * quantized GGUF holds the bytes moekit's quantize-at-load makes). Where node-llama-cpp is installed, a
 * tiny run with the peer puts llama.cpp rows beside moekit's.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { llamaCppInstalled } from "../../bench/peers/llama-cpp/node-llama-cpp.js";
import { benchCacheDir, ensureSyntheticGguf, syntheticGgufName } from "../../src/bench/gguf-cache.js";
import { LLAMA_CPP_INSTALL, llamaCppCaseArgs, llamaCppMissing } from "../../src/bench/llama-cpp-peer.js";
import { fillSpeedRatios, positionsFor, runModelBench, type ModelRow } from "../../src/bench/model-bench.js";
import { modelCases, rowLabel } from "../../src/bench/model-cases.js";
import { decodeWork, modelBytes, prefillWork, rowFloor } from "../../src/bench/model-floor.js";
import { expectedActiveExperts } from "../../src/bench/work-model.js";
import { modelBenchConfig, modelSource } from "../../src/bench/model-run.js";
import { memoryLines, modelTable } from "../../src/bench/model-table.js";
import { ensureQuantizedCheckpoint, quantizedCheckpointName } from "../../src/bench/quantized-cache.js";
import { parseBenchArgs } from "../../src/bench/options.js";
import { qwen2MoeTensors } from "../../src/bench/qwen-synthetic.js";
import { SyntheticProvider } from "../../src/bench/synthetic.js";
import { widenToF32 } from "../../src/dtype.js";
import { GgufFile } from "../../src/loading/gguf/reader.js";
import { FileSource } from "../../src/loading/node-files.js";
import { quantizeTensor } from "../../src/models/build/quantize.js";
import { Tensor } from "../../src/tensor.js";

/** Small dims whose rows are whole 256-blocks, so every block format applies as at real dims. */
const DIMS = {
  hidden_size: 256,
  intermediate_size: 256,
  moe_intermediate_size: 256,
  shared_expert_intermediate_size: 256,
  num_experts: 4,
  num_experts_per_tok: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 64,
  vocab_size: 512,
};

describe("bench --scope model options", () => {
  it("defaults: prefill 1x128 and 4x128, decode 16+64, contexts 4096 and 32768", () => {
    const { options } = parseBenchArgs(["--scope", "model"]);
    assert.deepEqual(options.grid, [{ batch: 1, seq: 128 }, { batch: 4, seq: 128 }]);
    assert.equal(options.promptLen, 16);
    assert.equal(options.newTokens, 64);
    assert.deepEqual(options.contexts, [4096, 32768]);
    assert.equal(options.contextNew, 16);
    assert.equal(options.dtypes, undefined);
    // experts keeps its own default grid
    assert.equal(parseBenchArgs([]).options.grid.length, 4);
  });
  it("--dtype takes a list of float and quantized dtypes for the model scope, one dtype elsewhere", () => {
    const { options } = parseBenchArgs(["--scope", "model", "--dtype", "bfloat16,q8_0,q4_0,q4_k_m,mxfp4", "--peer", "llama.cpp", "--contexts", "none", "--new-tokens", "0"]);
    assert.deepEqual(options.dtypes, ["bfloat16", "q8_0", "q4_0", "q4_k_m", "mxfp4"]);
    assert.deepEqual(options.peers, ["llama.cpp"]);
    assert.deepEqual(options.contexts, []);
    assert.equal(options.newTokens, 0);
    assert.deepEqual(parseBenchArgs(["--scope", "model", "--grid", "none"]).options.grid, []);
    assert.throws(() => parseBenchArgs(["--grid", "none"]), /--grid: 'none' is not a point/);
    assert.equal(parseBenchArgs(["--scope", "experts", "--dtype", "q4_0"]).options.dtype, "q4_0");
    assert.throws(() => parseBenchArgs(["--scope", "block", "--dtype", "bfloat16,q8_0"]), /--dtype takes a list for --scope model only; --scope block takes one dtype/);
    assert.throws(() => parseBenchArgs(["--scope", "model", "--dtype", "q3_k"]), /--dtype must be one of .*q4_k_m.*, got 'q3_k'/);
    assert.throws(() => parseBenchArgs(["--scope", "model", "--dtype", "q8_0,q8_0"]), /--dtype lists a dtype twice/);
    assert.throws(() => parseBenchArgs(["--scope", "model", "--contexts", "4096,lots"]), /--contexts must be an integer ≥ 1, got 'lots'/);
    assert.throws(() => parseBenchArgs(["--peer", "llama"]), /--peer must be one of transformers, onnxruntime, llama\.cpp, got 'llama'/);
  });
});

describe("bench --scope model cases and floors", () => {
  const cases = modelCases({ prefill: [{ batch: 1, seq: 128 }, { batch: 4, seq: 128 }], prompt: 16, newTokens: 64, contexts: [4096, 32768], contextNew: 16 });
  it("lists the cases in table order and sizes the synthetic context to the longest", () => {
    assert.deepEqual(cases.map((c) => c.kind), ["prefill", "prefill", "decode", "context", "context"]);
    assert.equal(positionsFor(cases), 32768 + 16 + 1);
    assert.equal(positionsFor(cases.slice(0, 3)), 8192);
    assert.equal(rowLabel(cases[3]!, "decode_tok_s"), "decode tok/s at context 4096 (16 new)");
    assert.equal(rowLabel(cases[1]!, "prefill_ms"), "prefill 4×128 ms");
  });
  it("counts the real Qwen1.5-MoE's bytes per decode token: top-4 of 60 experts, the lm head, KV at 2 bytes", async () => {
    const ckpt = await modelSource({ layers: 2, positions: 40000, seed: 0, dtype: "bfloat16" });
    const m = modelBytes(ckpt, "bfloat16");
    const expert = 3 * 2048 * 1408 * 2;
    assert.equal(m.expertBytes, 2 * expert);
    assert.equal(m.lmHeadBytes, 151936 * 2048 * 2);
    assert.equal(m.embedRowBytes, 2048 * 2);
    const d0 = decodeWork(m, 0);
    const d1 = decodeWork(m, 1000);
    assert.equal(d1.bytes - d0.bytes, 2 * 2 * 16 * 128 * 1000 * 2);
    // ≈ 966 MB per token as issue 15 counts it (attention + shared expert + 4 experts per layer, lm head)
    assert.ok(Math.abs(d0.bytes / 1e6 - 966) < 15, `${d0.bytes / 1e6} MB`);
    // q4_0: the lm head stays q6_k as llama.cpp keeps it, matrices take 18 bytes per 32 values
    const q = modelBytes(ckpt, "q4_0");
    assert.equal(q.lmHeadBytes, (151936 * 2048 / 256) * 210);
    assert.equal(q.expertBytes, (2 * 3 * 2048 * 1408 / 32) * 18);
    // a prefill floor is bounded by the slower ceiling: at 1 GFLOP/s compute binds, at 1 GB/s... both scale
    const ceil = { gemmGflops: 500, gemmShape: "", bandwidthGBs: 50, bandwidthMethod: "" };
    const f = rowFloor(m, cases[1]!, "prefill_ms", ceil);
    const w = prefillWork(m, 4, 128);
    assert.equal(f.value, Math.max(w.flops / 500e6, w.bytes / 50e6));
    // the last layer's feed-forward counts for the 4 last positions only: router 60×2048 + shared gate 1×2048,
    // shared expert 3×5632×2048, top-4 experts of 3×1408×2048 each
    const lastFfn = 60 * 2048 + 2048 + 3 * 5632 * 2048 + 4 * 3 * 1408 * 2048;
    assert.equal(m.lastFfnMacs + m.topK * m.lastExpertMacs, lastFfn);
    assert.equal(m.lastExpertBytes, expert);
    const everyPosition = 2 * 512 * (m.denseMacs + m.topK * m.expertMacs) + 2 * 4 * m.lmHeadMacs + 4 * 2 * 16 * 128 * ((4 * 128 * 129) / 2);
    assert.equal(w.flops, everyPosition - 2 * (512 - 4) * lastFfn);
    const active = (n: number) => expectedActiveExperts(n, 4, 60);
    assert.ok(Math.abs(w.bytes - (m.denseBytes + active(512) * expert + active(4) * expert + m.lmHeadBytes + 512 * m.embedRowBytes + m.otherBytes)) < 1);
    const dec = rowFloor(m, cases[2]!, "decode_tok_s", ceil);
    assert.equal(dec.bound, "bandwidth");
    assert.equal(dec.value, 50e9 / decodeWork(m, 16 + 32).bytes);
  });
});

function row(p: Partial<ModelRow>): ModelRow {
  return {
    model: "m", case: "c", row: "r", metric: "prefill_ms", dtype: "bfloat16", engine: "moekit", detail: "", threads: 2, layers: 2, value: 1, runs: [1],
    floor: 1, floor_bound: "compute", share_of_floor: 1, flops: 1, bytes: 1, gemm_ceiling_gflops: 1, bandwidth_ceiling_gbps: 1,
    speed_vs_llama_cpp: null, load_ms: 0, peak_mem_mb: 0, quant_source: null, weights_mb: null, activations_mb: null, runtime_mb: null, loaded_rss_mb: null,
    load_peak_mem_mb: null, run_peak_mem_mb: null, mem_ratio: null, ...p,
  };
}

describe("bench --scope model table", () => {
  it("puts llama.cpp beside moekit per row and dtype with the speed ratio (> 1: moekit faster)", () => {
    const rows = [
      row({ row: "prefill 1×128 ms", value: 100, runs: [90, 100, 120], floor: 50, share_of_floor: 0.5 }),
      row({ row: "decode tok/s", metric: "decode_tok_s", value: 40, runs: [40], floor: 50, floor_bound: "bandwidth", share_of_floor: 0.8 }),
      row({ row: "prefill 1×128 ms", engine: "llama.cpp", value: 150, runs: [150], floor: 55, share_of_floor: 55 / 150 }),
      row({ row: "decode tok/s", metric: "decode_tok_s", engine: "llama.cpp", value: 32, runs: [32], floor: 52, floor_bound: "bandwidth", share_of_floor: 32 / 52 }),
      row({ row: "decode tok/s", metric: "decode_tok_s", dtype: "q4_0", value: 60, runs: [60], floor: 120, floor_bound: "bandwidth", share_of_floor: 0.5 }),
    ];
    fillSpeedRatios(rows);
    assert.equal(rows[0]!.speed_vs_llama_cpp, 1.5);
    assert.equal(rows[1]!.speed_vs_llama_cpp, 1.25);
    assert.equal(rows[4]!.speed_vs_llama_cpp, null);
    const lines = modelTable(rows).split("\n");
    assert.equal(lines.length, 2 + 3);
    assert.equal(lines[0], "| case | dtype | moekit | floor | moekit share of floor | llama.cpp | floor | llama.cpp share of floor | moekit/llama.cpp speed |");
    assert.equal(lines[2], "| prefill 1×128 ms | bfloat16 | 100 (90–120) | 50 (GEMM) | 50% | 150 | 55 (GEMM) | 37% | 1.50 |");
    assert.equal(lines[3], "| decode tok/s | bfloat16 | 40.0 | 50.0 (read) | 80% | 32.0 | 52.0 (read) | 62% | 1.25 |");
    assert.equal(lines[4], "| decode tok/s | q4_0 | 60.0 | 120.0 (read) | 50% | – | – | – | – |");
  });
});

describe("llama.cpp peer", () => {
  it("is skipped with one line saying how to install it when node-llama-cpp is absent", () => {
    const msg = llamaCppMissing({ script: new URL(import.meta.url).pathname, pkg: "/nonexistent/node-llama-cpp/package.json" });
    assert.equal(msg, `node-llama-cpp is not installed (it is an optional peer, not a dependency of moekit); install it with: ${LLAMA_CPP_INSTALL}`);
    assert.match(llamaCppMissing({ script: "/nonexistent/run.ts", pkg: "/nonexistent/p.json" })!, /run\.ts is missing/);
  });
  it("runs each case through run.ts with that case's arguments", () => {
    const o = { gguf: "m.gguf", threads: 2, warmup: 1, iters: 3, seed: 0 };
    const base = ["--model", "m.gguf", "--threads", "2", "--runs", "3", "--warmup", "1", "--seed", "0"];
    assert.deepEqual(llamaCppCaseArgs({ kind: "prefill", batch: 4, seq: 128 }, o), [...base, "--case", "prefill", "--grid", "4x128"]);
    assert.deepEqual(llamaCppCaseArgs({ kind: "decode", prompt: 16, newTokens: 64 }, o), [...base, "--case", "decode", "--prompt", "16", "--new", "64"]);
    assert.deepEqual(llamaCppCaseArgs({ kind: "context", context: 4096, newTokens: 16 }, o), [...base, "--case", "context", "--context", "4096", "--new", "16"]);
  });
});

describe("the peer's GGUF cache", () => {
  let dir = "";
  before(() => (dir = mkdtempSync(join(tmpdir(), "moekit-gguf-cache-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = { ...modelBenchConfig(2, 8192, DIMS), dtype: "bfloat16" };

  it("keys files by seed, dtype and every config field, not by key order", () => {
    const name = syntheticGgufName(cfg, "q8_0", 0);
    assert.match(name, /^qwen2moe-synthetic-2l-q8_0-seed0-[0-9a-f]{16}\.gguf$/);
    assert.equal(syntheticGgufName(Object.fromEntries(Object.entries(cfg).reverse()), "q8_0", 0), name);
    const others = [
      syntheticGgufName(cfg, "q8_0", 1),
      syntheticGgufName(cfg, "q4_0", 0),
      syntheticGgufName({ ...cfg, hidden_size: 512 }, "q8_0", 0),
      syntheticGgufName({ ...cfg, max_position_embeddings: 40000 }, "q8_0", 0),
      syntheticGgufName(modelBenchConfig(3, 8192, DIMS), "q8_0", 0),
    ];
    assert.equal(new Set([name, ...others]).size, 6);
    assert.equal(benchCacheDir({ MOEKIT_BENCH_CACHE: "/x/y" }), "/x/y");
    assert.equal(benchCacheDir({ XDG_CACHE_HOME: "/c" }), "/c/moekit/bench");
  });

  it("writes a file once, then reuses it; a quantized one holds the bytes moekit's quantize-at-load makes", async () => {
    const first = await ensureSyntheticGguf(cfg, "q4_k_m", 5, dir);
    assert.equal(first.written, true);
    const mtime = statSync(first.path).mtimeMs;
    const again = await ensureSyntheticGguf(cfg, "q4_k_m", 5, dir);
    assert.deepEqual(again, { path: first.path, written: false });
    assert.equal(statSync(first.path).mtimeMs, mtime);

    const g = await GgufFile.open(new FileSource(first.path));
    assert.equal(g.integer("general.file_type"), 15);
    // llama.cpp's Q4_K_M mix as moekit applies it: q6_k for attention v and ffn down in layer 1 (use_more_bits), q4_k elsewhere, lm head q6_k
    assert.equal(g.info("blk.0.attn_v.weight").format, "q4_k");
    assert.equal(g.info("blk.1.attn_v.weight").format, "q6_k");
    assert.equal(g.info("blk.0.ffn_down_exps.weight").format, "q4_k");
    assert.equal(g.info("blk.1.ffn_down_exps.weight").format, "q6_k");
    assert.equal(g.info("blk.1.ffn_down_shexp.weight").format, "q6_k");
    assert.equal(g.info("blk.0.ffn_gate_exps.weight").format, "q4_k");
    assert.equal(g.info("output.weight").format, "q6_k");
    assert.equal(g.info("token_embd.weight").format, "bfloat16");
    assert.equal(g.info("blk.0.ffn_gate_inp.weight").format, "float32");

    const provider = new SyntheticProvider(qwen2MoeTensors(cfg), "bfloat16", 5);
    const e3 = await provider.tensor("model.layers.1.mlp.experts.3.down_proj.weight");
    const want = quantizeTensor(new Tensor(e3.shape, "float32", widenToF32(e3.storage as Uint16Array, "bfloat16")), "q6_k", "e3").storage as Uint8Array;
    const stack = (await g.tensorBytes("blk.1.ffn_down_exps.weight")).bytes;
    assert.deepEqual(stack.subarray(3 * want.length, 4 * want.length), want);
  });

  it("mxfp4 puts routed experts in mxfp4 and the other matrices in q8_0", async () => {
    const { path } = await ensureSyntheticGguf(cfg, "mxfp4", 0, dir);
    const g = await GgufFile.open(new FileSource(path));
    assert.equal(g.info("blk.0.ffn_up_exps.weight").format, "mxfp4");
    assert.equal(g.info("blk.0.attn_q.weight").format, "q8_0");
    assert.equal(g.info("output.weight").format, "q8_0");
  });
});

describe("bench --scope model with the llama.cpp peer (tiny dims)", () => {
  it("puts llama.cpp rows beside moekit's, in the same run", async (t) => {
    if (!llamaCppInstalled()) {
      t.skip(`node-llama-cpp is not installed (optional peer; ${LLAMA_CPP_INSTALL})`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "moekit-model-peer-"));
    const notes: string[] = [];
    try {
      const rows = await runModelBench(
        {
          dims: DIMS, layers: 2, dtypes: ["q4_0"], backend: "cpu", threads: 1, warmup: 0, iters: 1, seed: 0, probeMiB: 1, llamaCpp: true,
          cacheDir: dir, prefill: [{ batch: 2, seq: 8 }], prompt: 4, newTokens: 3, contexts: [600], contextNew: 2,
        },
        { note: (l) => notes.push(l), step: () => undefined },
      );
      assert.deepEqual(notes, []);
      const key = (r: ModelRow) => `${r.engine}|${r.dtype}|${r.row}`;
      const labels = ["prefill 2×8 ms", "decode tok/s (4-token prompt, 3 new)", "prefill 600 ms (chunks of 512)", "decode tok/s at context 600 (2 new)"];
      assert.deepEqual(rows.map(key), ["q4_0"].flatMap((d) => ["moekit", "llama.cpp"].flatMap((e) => labels.map((l) => `${e}|${d}|${l}`))));
      for (const r of rows) {
        assert.ok(r.value > 0 && r.floor > 0, key(r));
        if (r.engine === "moekit") assert.ok(r.speed_vs_llama_cpp! > 0, key(r));
        else assert.match(r.detail, /^node-llama-cpp 3\.21\.1$/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bench --scope model --quant-source file (tiny dims)", () => {
  it("writes the quantized checkpoint once, keyed by source and dtype", async () => {
    const cfg = modelBenchConfig(2, 64, DIMS);
    const src = { config: cfg, layers: 2, seed: 0 };
    const name = quantizedCheckpointName(src, "q4_0");
    assert.match(name, /^qwen2moe-synthetic-2l-q4_0-seed0-[0-9a-f]{16}\.moekit$/);
    assert.equal(quantizedCheckpointName({ ...src, config: Object.fromEntries(Object.entries(cfg).reverse()) }, "q4_0"), name);
    assert.notEqual(quantizedCheckpointName({ ...src, seed: 1 }, "q4_0"), name);
    assert.match(quantizedCheckpointName(src, "q8_0"), /-q8_0-seed0-/);
    assert.match(quantizedCheckpointName({ ...src, model: "/some/dir" }, "q4_0"), /^checkpoint-2l-q4_0-[0-9a-f]{16}\.moekit$/);
    const dir = mkdtempSync(join(tmpdir(), "moekit-quant-cache-"));
    try {
      const ckpt = await modelSource({ layers: 2, positions: 64, seed: 0, dtype: "q4_0", dims: DIMS });
      const first = await ensureQuantizedCheckpoint(ckpt, src, "q4_0", dir);
      assert.equal(first.written, true);
      assert.ok(statSync(join(first.path, "model.safetensors")).size > 0);
      const again = await ensureQuantizedCheckpoint(ckpt, src, "q4_0", dir);
      assert.deepEqual(again, { path: first.path, written: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("loads the same quantized model as quantize at load: the same weights, each with its memory line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-model-file-"));
    try {
      const run = (quantSource: "load" | "file") =>
        runModelBench(
          {
            dims: DIMS, layers: 2, dtypes: ["q4_0"], backend: "cpu", threads: 1, warmup: 0, iters: 1, seed: 0, probeMiB: 1, llamaCpp: false,
            cacheDir: dir, prefill: [{ batch: 2, seq: 8 }], prompt: 4, newTokens: 0, contexts: [], contextNew: 2, quantSource,
          },
          { note: (l) => assert.fail(l), step: () => undefined },
        );
      const [file] = await run("file");
      const [load] = await run("load");
      assert.equal(file!.quant_source, "file");
      assert.equal(load!.quant_source, "load");
      assert.ok(file!.weights_mb! > 0);
      assert.equal(file!.weights_mb, load!.weights_mb);
      for (const r of [file!, load!]) {
        assert.ok(r.peak_mem_mb >= r.run_peak_mem_mb! && r.peak_mem_mb >= r.load_peak_mem_mb!, "the peak covers loading and the cases");
        assert.ok(Math.abs(r.mem_ratio! - r.peak_mem_mb / (r.weights_mb! + r.activations_mb!)) < 1e-9, `${r.mem_ratio}`);
      }
      assert.match(memoryLines([file!])[0]!, /^- q4_0 \(its `moekit quantize` checkpoint, mapped\): weights \d[\d,]* MB \+ activations/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
