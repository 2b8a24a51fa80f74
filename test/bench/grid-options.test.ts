import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_GRID, parseGrid } from "../../src/bench/grid.js";
import { parseBenchArgs } from "../../src/bench/options.js";
import { latencyStats, median } from "../../src/bench/stats.js";

describe("bench grid", () => {
  it("parses the default table and decode points", () => {
    assert.deepEqual(parseGrid(DEFAULT_GRID), [
      { batch: 1, seq: 16 }, { batch: 1, seq: 128 }, { batch: 4, seq: 16 }, { batch: 4, seq: 128 },
    ]);
    assert.deepEqual(parseGrid(" 1x1, 4X1 "), [{ batch: 1, seq: 1 }, { batch: 4, seq: 1 }]);
  });
  it("rejects bad points with clear errors", () => {
    assert.throws(() => parseGrid(""), /--grid must list points/);
    assert.throws(() => parseGrid("1x16,foo"), /'foo' is not a point like 4x128/);
    assert.throws(() => parseGrid("0x16"), /at least 1/);
    assert.throws(() => parseGrid("1x16,1x16"), /listed twice/);
    assert.throws(() => parseGrid("1x-3"), /not a point/);
  });
});

describe("bench options", () => {
  it("has the documented defaults", () => {
    const { options, outputs, help } = parseBenchArgs([]);
    assert.equal(help, false);
    assert.equal(options.scope, "experts");
    assert.equal(options.grid.length, 4);
    assert.equal(options.layers, 2);
    assert.equal(options.iters, 5);
    assert.equal(options.warmup, 1);
    assert.equal(options.impls, undefined);
    assert.equal(options.backend, undefined);
    assert.deepEqual(options.peers, []);
    assert.deepEqual(outputs, { json: undefined, markdown: undefined, svg: undefined });
  });
  it("parses every option", () => {
    const { options, outputs } = parseBenchArgs([
      "--model", "m", "--scope", "block", "--grid", "1x1", "--impl", "grouped_mm, auto", "--backend", "reference", "--dtype", "float32",
      "--threads", "2", "--warmup", "0", "--iters", "3", "--layers", "1", "--peer", "transformers", "--peer", "onnxruntime",
      "--json", "a.json", "--markdown", "a.md", "--svg", "a.svg",
    ]);
    assert.equal(options.model, "m");
    assert.equal(options.scope, "block");
    assert.deepEqual(options.impls, ["grouped_mm", "auto"]);
    assert.equal(options.backend, "reference");
    assert.equal(options.dtype, "float32");
    assert.equal(options.threads, 2);
    assert.equal(options.warmup, 0);
    assert.deepEqual(options.peers, ["transformers", "onnxruntime"]);
    assert.deepEqual(outputs, { json: "a.json", markdown: "a.md", svg: "a.svg" });
  });
  it("rejects bad options with clear errors", () => {
    assert.throws(() => parseBenchArgs(["--scope", "layer"]), /--scope must be one of experts, block, model, got 'layer'/);
    assert.throws(() => parseBenchArgs(["--iters", "0"]), /--iters must be an integer ≥ 1, got '0'/);
    assert.throws(() => parseBenchArgs(["--layers", "two"]), /--layers must be an integer/);
    assert.throws(() => parseBenchArgs(["--backend", "gpu"]), /--backend must be one of reference, cpu/);
    assert.throws(() => parseBenchArgs(["--dtype", "int8"]), /--dtype must be one of/);
    assert.throws(() => parseBenchArgs(["--kv-cache-dtype", "q8_0"]), /--kv-cache-dtype must be one of auto, float32, bfloat16, float16, got 'q8_0'/);
    assert.equal(parseBenchArgs(["--scope", "model", "--kv-cache-dtype", "float16"]).options.kvCacheDtype, "float16");
    assert.throws(() => parseBenchArgs(["--peer", "vllm"]), /--peer must be one of transformers, onnxruntime/);
    assert.throws(() => parseBenchArgs(["--frobnicate"]), /Unknown option '--frobnicate'.*--help/);
    assert.throws(() => parseBenchArgs(["--impl", ","]), /at least one implementation/);
    assert.throws(() => parseBenchArgs(["--grid", "16"]), /'16' is not a point/);
  });
});

describe("latency statistics", () => {
  it("mean, median and p90 (linear interpolation)", () => {
    const s = latencyStats([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
    assert.equal(s.mean, 5.5);
    assert.equal(s.median, 5.5);
    assert.ok(Math.abs(s.p90 - 9.1) < 1e-12);
    assert.equal(s.min, 1);
    assert.throws(() => latencyStats([]), /at least one/);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});
