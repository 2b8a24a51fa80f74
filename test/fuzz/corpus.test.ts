// A sample of the fuzz corpus (every base case and every 8th other case) so `npm test` exercises the
// harness and the worst inputs; the whole corpus runs with `npm run fuzz` (in .ci/run).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildCorpus, verdicts } from "./corpus.js";
import { runPool } from "./pool.js";

test("fuzz corpus sample: clean errors or correct results, no crash, hang or memory blow-up", { timeout: 180_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), "moekit-fuzz-"));
  try {
    const all = await buildCorpus({ seed: 11, tmp });
    const sample = all.filter((c, i) => c.id.endsWith("/base") || c.id.includes("/huge-1.6M") || i % 8 === 0);
    const outcomes = await runPool(sample, { workers: 2, timeoutMs: 20_000, killAboveBytes: 3 * 2 ** 30, recycleAboveBytes: 2 ** 30, recycleAfterJobs: 60 });
    const vs = verdicts(sample, outcomes);
    assert.ok(sample.length > 60 && outcomes.some((o) => o.status === "ok") && outcomes.some((o) => o.status === "error"), "the sample holds loads and refusals");
    assert.deepEqual(vs.filter((v) => v.failure && !v.known).map((v) => `${v.id}: ${v.failure}`), []);
    assert.deepEqual(vs.filter((v) => !v.failure && v.known).map((v) => `${v.id} passes now: remove it from known-failures.ts`), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
