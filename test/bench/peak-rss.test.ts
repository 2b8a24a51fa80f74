import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { peakRssBytes, resetPeakRss } from "../../src/bench/peak-rss.js";

/** Touches `mib` MiB in a worker thread that then exits, so the memory is gone again afterwards. */
function transientAllocation(mib: number): Promise<void> {
  const code = `const b = Buffer.alloc(${mib} << 20, 1); require("node:worker_threads").parentPort.postMessage(b[b.length - 1]);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once("message", () => void w.terminate().then(() => resolve(), reject));
    w.once("error", reject);
  });
}

describe("peak resident memory of a phase", () => {
  it("is at least the resident size read just before it", () => {
    // (resident size first: read after the mark, it may have grown in between — another thread allocating)
    const rss = process.memoryUsage().rss;
    assert.ok(peakRssBytes() >= rss * 0.99);
  });

  it("forgets an earlier peak after a reset (Linux) and then follows new allocations", { skip: process.platform !== "linux" }, async () => {
    await transientAllocation(192);
    const old = peakRssBytes();
    assert.ok(old - process.memoryUsage().rss >= 96 << 20, `the 192 MiB the worker touched are in the old mark (${old}) but no longer resident`);
    assert.equal(resetPeakRss(), true);
    const start = peakRssBytes();
    assert.ok(start < old - (64 << 20), `after the reset the mark (${start}) starts below the old peak (${old})`);
    const more = Buffer.alloc(64 << 20, 2);
    const after = peakRssBytes();
    assert.ok(after - start >= 60 << 20, `a 64 MiB buffer touched after the reset raises the mark (${start} → ${after})`);
    assert.equal(more[more.length - 1], 2);
  });
});
