import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { COLUMNS, type BenchRecord } from "../../src/bench/record.js";
import { findCausalLm } from "../../src/bench/model-scope.js";
import { benchCommand } from "../../src/cli/bench.js";
import { fixtureDir } from "../helpers/fixtures.js";

/** Run benchCommand capturing what it writes to stdout and stderr. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await benchCommand(argv);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

const IMPLS = ["eager", "batched_mm", "grouped_mm", "auto"];

describe("moekit bench on the qwen2_moe fixture (reference backend)", () => {
  let dir: string;
  let result: { code: number; stdout: string; stderr: string };
  let records: BenchRecord[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moekit-bench-"));
    result = await run([
      "--model", fixtureDir("qwen2_moe"), "--backend", "reference", "--grid", "1x2,2x3", "--iters", "2", "--warmup", "1", "--probe-mib", "4",
      "--peer", "onnxruntime", "--json", join(dir, "r.json"), "--markdown", join(dir, "r.md"), "--svg", join(dir, "r.svg"),
    ]);
    records = JSON.parse(await readFile(join(dir, "r.json"), "utf8")) as BenchRecord[];
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("exits 0 with one record per (grid point × implementation), auto included", () => {
    assert.equal(result.code, 0, result.stderr);
    assert.equal(records.length, 2 * IMPLS.length);
    assert.deepEqual([...new Set(records.map((r) => r.implementation))], IMPLS);
    assert.deepEqual([...new Set(records.map((r) => `${r.batch_size}x${r.seq_length}`))], ["1x2", "2x3"]);
  });

  it("has every column with sane values", () => {
    for (const r of records) {
      for (const c of COLUMNS) assert.ok(c in r, `column ${c}`);
      assert.equal(r.backend, "reference");
      assert.equal(r.scope, "experts");
      assert.equal(r.layers, 2);
      assert.equal(r.iters, 2);
      assert.equal(r.tokens, r.batch_size * r.seq_length);
      for (const c of ["mean_ms", "median_ms", "p90_ms", "min_ms", "tokens_per_s", "gflops", "gbps", "flop_per_iter", "bytes_per_iter",
        "gemm_ceiling_gflops", "bandwidth_ceiling_gbps", "frac_gemm_ceiling", "frac_bandwidth_ceiling", "weights_mb", "peak_mem_mb"] as const) {
        assert.ok(Number.isFinite(r[c]) && r[c] > 0, `${c} = ${r[c]}`);
      }
      assert.ok(r.p90_ms >= r.median_ms, "p90 >= median");
      assert.ok(r.max_ms >= r.p90_ms && r.median_ms >= r.min_ms);
      assert.ok(r.peak_mem_mb > r.weights_mb, "peak memory above the weights' size");
      assert.ok(r.peak_mem_mb < 4000, "a fixture case stays small");
      assert.ok(r.ratio_to_best >= 1 - 1e-12);
      assert.equal(r.peer, null);
      assert.equal(r.auto_choice === null, r.implementation !== "auto");
    }
    const auto = records.filter((r) => r.implementation === "auto");
    for (const r of auto) assert.ok(["batched_mm", "grouped_mm"].includes(r.auto_choice!));
  });

  it("prints the markdown table, writes the same to --markdown, and an SVG", async () => {
    assert.match(result.stdout, /\| Batch Size \| Seq Length \| Implementation \| Mean Latency \(ms\) \| Median Latency \(ms\) \| P90 Latency \(ms\) \| Peak Mem \(MB\) \|/);
    assert.match(result.stdout, /Ceilings measured at start: GEMM [\d.]+ GFLOP\/s/);
    assert.ok(result.stdout.includes(await readFile(join(dir, "r.md"), "utf8")), "--markdown holds the printed table");
    const svg = await readFile(join(dir, "r.svg"), "utf8");
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal((svg.match(/<polyline /g) ?? []).length, IMPLS.length);
  });

  it("skips a peer that cannot run with one line saying why", () => {
    // Without bench/peers/onnxruntime installed (a clean clone) the reason is the missing package; with it, --model.
    assert.match(result.stderr, /peer onnxruntime skipped: (onnxruntime-node is not installed|it runs on the embedded synthetic Qwen1.5-MoE dims only \(no --model\))/);
  });
});

describe("moekit bench errors", () => {
  it("bad options exit 2 with a clear message", async () => {
    const r = await run(["--grid", "1x16,oops"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^moekit bench: --grid: 'oops' is not a point like 4x128/);
    const u = await run(["--impl", "nope", "--backend", "reference", "--model", fixtureDir("qwen2_moe")]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /unknown experts implementation "nope": valid are 'eager', 'batched_mm', 'grouped_mm', 'auto'/);
  });
  it("a missing checkpoint fails with its path", async () => {
    const r = await run(["--model", "/nonexistent/ckpt", "--backend", "reference", "--grid", "1x1", "--iters", "1", "--probe-mib", "1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /checkpoint directory '\/nonexistent\/ckpt' does not exist/);
  });
  it("--scope model times the whole forward, or says clearly that AutoModelForCausalLM is missing", async () => {
    const argv = ["--scope", "model", "--backend", "reference", "--model", fixtureDir("qwen2_moe"), "--grid", "1x3", "--impl", "grouped_mm",
      "--iters", "1", "--warmup", "0", "--probe-mib", "1", "--json", join(tmpdir(), `moekit-model-scope-${process.pid}.json`)];
    const r = await run(argv);
    if (!(await findCausalLm())) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--scope model needs AutoModelForCausalLM/);
      return;
    }
    assert.equal(r.code, 0, r.stderr);
    const file = argv[argv.length - 1]!;
    const [rec] = JSON.parse(await readFile(file, "utf8")) as BenchRecord[];
    await rm(file, { force: true });
    assert.equal(rec!.scope, "model");
    assert.ok(rec!.median_ms > 0 && rec!.flop_per_iter > 0 && rec!.peak_mem_mb > rec!.weights_mb);
  });
  it("--help prints the usage", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: moekit bench/);
  });
});
