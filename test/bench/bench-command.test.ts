import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { COLUMNS, type BenchRecord } from "../../src/bench/record.js";
import type { ModelRow } from "../../src/bench/model-bench.js";
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
  it("--scope model: one row per case and dtype with its floor, llama.cpp skipped with --model", async () => {
    const file = join(tmpdir(), `moekit-model-scope-${process.pid}.json`);
    const argv = ["--scope", "model", "--backend", "reference", "--model", fixtureDir("qwen2_moe"), "--grid", "1x3,2x4", "--impl", "grouped_mm",
      "--new-tokens", "3", "--contexts", "40", "--context-new", "2", "--dtype", "float32,q8_0", "--peer", "llama.cpp",
      "--iters", "1", "--warmup", "0", "--probe-mib", "1", "--json", file];
    const r = await run(argv);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /peer llama\.cpp skipped: it runs on the synthetic Qwen1\.5-MoE-A2\.7B only \(no --model\)/);
    const rows = JSON.parse(await readFile(file, "utf8")) as ModelRow[];
    await rm(file, { force: true });
    const labels = ["prefill 1×3 ms", "prefill 2×4 ms", "decode tok/s (16-token prompt, 3 new)", "prefill 40 ms (chunks of 512)", "decode tok/s at context 40 (2 new)"];
    assert.deepEqual(rows.map((x) => `${x.dtype}|${x.row}`), ["float32", "q8_0"].flatMap((d) => labels.map((l) => `${d}|${l}`)));
    for (const row of rows) {
      assert.equal(row.engine, "moekit");
      assert.ok(row.value > 0 && row.floor > 0 && row.flops > 0 && row.bytes > 0, JSON.stringify(row));
      assert.ok(row.gemm_ceiling_gflops > 0 && row.bandwidth_ceiling_gbps > 0);
      const share = row.metric === "prefill_ms" ? row.floor / row.value : row.value / row.floor;
      assert.equal(row.share_of_floor, share);
      assert.equal(row.speed_vs_llama_cpp, null);
    }
    // q8_0 rows read fewer weight bytes per decode token than float32 ones (34 bytes per 32 values against 128)
    const bytes = (d: string) => rows.find((x) => x.dtype === d && x.metric === "decode_tok_s")!.bytes;
    assert.ok(bytes("q8_0") < 0.5 * bytes("float32"), `${bytes("q8_0")} vs ${bytes("float32")}`);
    assert.match(r.stdout, /\| case \| dtype \| moekit \| floor \| moekit share of floor \| llama\.cpp \|/);
    assert.match(r.stdout, /\| decode tok\/s at context 40 \(2 new\) \| q8_0 \| /);
  });
  it("--help prints the usage", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: moekit bench/);
  });
});
