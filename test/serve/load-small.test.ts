/** The load and fault test in small (bench/serve/load.ts is the full one, run by hand): the tiny chat model, in process. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { faultTraffic, referenceAnswers, type Prompt } from "../../bench/serve/traffic.js";
import { startServer } from "./helpers.js";

describe("load and faults (small)", () => {
  it("120 requests from 8 clients, 10% malformed, 10% disconnecting: no hang, every 400 well-formed, greedy answers equal the lone ones, caches freed", async () => {
    const { server, url } = await startServer({ maxBatch: 6, maxQueue: 64, prefillChunk: 16 });
    try {
      const prompts: Prompt[] = Array.from({ length: 10 }, (_, i) => ({ text: `Prompt ${i}: ${"tell me more ".repeat(1 + i)}`, maxTokens: 6 + (i % 4) * 5 }));
      const references = await referenceAnswers(url, prompts);
      const r = await faultTraffic({ url, prompts, references, requests: 120, clients: 8, malformedFraction: 0.1, disconnectFraction: 0.1, timeoutMs: 30_000, seed: 3 });
      assert.equal(r.sent, 120);
      assert.equal(r.hung, 0);
      assert.deepEqual(r.failed, []);
      assert.deepEqual(r.badRejections, []);
      assert.deepEqual(r.mismatches, []);
      assert.ok(r.rejected400 >= 5 && r.disconnected >= 5 && r.completed >= 80, JSON.stringify({ ...r, mismatches: r.mismatches.length }));
      assert.equal(r.completed + r.rejected400 + r.disconnected, 120);
      await server.engine.idle();
      assert.equal(server.engine.cache.sequences.length, 0);
      assert.equal(server.engine.cache.bytesInUse, 0);
    } finally {
      await server.close();
    }
  });
});
