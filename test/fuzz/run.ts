/**
 * The fuzz corpus from the command line (CI, the AddressSanitizer run):
 *   node --import tsx test/fuzz/run.ts [--seed N] [--workers N] [--filter TEXT] [--sample N] [--all] [--verbose]
 * --sample N keeps the cases that load and run (they reach the native addon) and every N-th refusal.
 * Exits non-zero when a case fails that known-failures.ts does not list, or a listed one passes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildCorpus, verdicts } from "./corpus.js";
import { runPool } from "./pool.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "11" },
    workers: { type: "string", default: "2" },
    filter: { type: "string" },
    sample: { type: "string", default: "1" },
    timeout: { type: "string", default: "20000" },
    all: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});
const seed = Number(values.seed);
const workers = Number(values.workers);
const sample = Number(values.sample);
if (!Number.isInteger(seed) || !Number.isInteger(workers) || workers < 1 || !Number.isInteger(sample) || sample < 1) {
  console.error("fuzz: --seed, --workers and --sample must be integers (workers and sample ≥ 1)");
  process.exit(2);
}
const tmp = await mkdtemp(join(tmpdir(), "moekit-fuzz-"));
try {
  const all = await buildCorpus({ seed, tmp, includeSkipped: values.all });
  const filtered = values.filter ? all.filter((c) => c.id.includes(values.filter!)) : all;
  let refusals = 0;
  const chosen = filtered.filter((c) => c.expect !== "error" || refusals++ % sample === 0);
  const baselines = new Set(chosen.map((c) => c.baseline));
  const cases = all.filter((c) => chosen.includes(c) || baselines.has(c.id));
  const t0 = performance.now();
  const outcomes = await runPool(cases, {
    workers,
    timeoutMs: Number(values.timeout),
    killAboveBytes: 3 * 2 ** 30,
    recycleAboveBytes: 2 ** 30,
    recycleAfterJobs: 60,
    onOutcome: (job, o) => values.verbose && console.log(`${o.status.padEnd(6)} ${o.ms.toFixed(0).padStart(6)} ms  ${job.id}${o.reply?.message ? `  — ${o.reply.message.slice(0, 160)}` : ""}`),
  });
  const seconds = (performance.now() - t0) / 1000;
  const vs = verdicts(cases, outcomes);
  const count = (s: string) => outcomes.filter((o) => o.status === s).length;
  const peak = Math.max(...outcomes.map((o) => o.reply?.maxRssBytes ?? 0));
  const slowest = vs.reduce((a, v) => (v.outcome.ms > a.outcome.ms ? v : a));
  console.log(
    `fuzz: ${cases.length} cases (seed ${seed}, ${workers} workers) in ${seconds.toFixed(1)} s: ${count("ok")} loaded, ${count("error")} refused, ` +
      `${count("crash")} crashed, ${count("hang")} hung, ${count("memory")} over memory; peak child memory ${(peak / 2 ** 20).toFixed(0)} MiB; ` +
      `slowest ${slowest.id} ${(slowest.outcome.ms / 1000).toFixed(1)} s`,
  );
  const unexpected = vs.filter((v) => v.failure && !v.known);
  const fixed = vs.filter((v) => !v.failure && v.known);
  const known = vs.filter((v) => v.failure && v.known);
  if (known.length) console.log(`fuzz: ${known.length} known failures (test/fuzz/known-failures.ts)`);
  if (values.verbose) for (const v of known) console.log(`  known  ${v.id}: ${v.failure}`);
  for (const v of unexpected) console.log(`FAIL ${v.id}: ${v.failure}`);
  for (const v of fixed) console.log(`FIXED ${v.id} passes now: remove it from known-failures.ts (${v.known})`);
  process.exitCode = unexpected.length || fixed.length ? 1 : 0;
} finally {
  await rm(tmp, { recursive: true, force: true });
}
