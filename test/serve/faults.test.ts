import assert from "node:assert/strict";
import { describe, it } from "node:test";
import OpenAI from "openai";
import { startServer } from "./helpers.js";

const user = [{ role: "user" as const, content: "Hi" }];

async function post(url: string, path: string, body: string): Promise<{ status: number; json: { error: { message: string; type: string; param: string | null; code: string | null } } }> {
  const r = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: r.status, json: (await r.json()) as never };
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("request validation", () => {
  it("malformed JSON, wrong types, out-of-range values, missing fields → 400 naming the parameter; unknown fields are ignored", async () => {
    const { server, url, client } = await startServer();
    try {
      const bad = await post(url, "/v1/chat/completions", '{"model": "m", "messages": [');
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, "invalid_json");
      assert.equal(bad.json.error.type, "invalid_request_error");
      const cases: [unknown, string, string][] = [
        [{ model: "m", messages: user, temperature: "hot" }, "temperature", "invalid_type"],
        [{ model: "m", messages: user, temperature: 2.5 }, "temperature", "invalid_value"],
        [{ model: "m", messages: user, max_tokens: 0 }, "max_tokens", "invalid_value"],
        [{ model: "m", messages: user, max_tokens: 1.5 }, "max_tokens", "invalid_type"],
        [{ model: "m", messages: user, top_p: 0 }, "top_p", "invalid_value"],
        [{ model: "m", messages: user, n: 2 }, "n", "invalid_value"],
        [{ model: "m", messages: user, stop: ["a", "b", "c", "d", "e"] }, "stop", "invalid_value"],
        [{ model: "m", messages: [{ role: "wizard", content: "x" }] }, "messages[0].role", "invalid_value"],
        [{ model: "m", messages: [{ role: "user", content: 5 }] }, "messages[0].content", "invalid_type"],
        [{ model: "m", messages: [] }, "messages", "invalid_value"],
        [{ model: "m" }, "messages", "missing_required_parameter"],
        [{ model: "m", messages: user, stream: "yes" }, "stream", "invalid_type"],
        [{ model: "m", messages: user, tools: [{ type: "function", function: { description: "no name" } }] }, "tools[0].function.name", "missing_required_parameter"],
      ];
      for (const [body, param, code] of cases) {
        const r = await post(url, "/v1/chat/completions", JSON.stringify(body));
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.json.error.param, param, JSON.stringify(r.json));
        assert.equal(r.json.error.code, code, JSON.stringify(r.json));
        assert.ok(r.json.error.message.length > 10);
      }
      const c = await post(url, "/v1/completions", JSON.stringify({ model: "m", prompt: [1, 99999], max_tokens: 2 }));
      assert.equal(c.status, 400);
      assert.match(c.json.error.message, /outside the model's vocabulary/);
      const long = await post(url, "/v1/completions", JSON.stringify({ model: "m", prompt: Array(300).fill(1), max_tokens: 2 }));
      assert.match(long.json.error.message, /context is 256/);
      // the official client raises BadRequestError with the body
      await assert.rejects(client.chat.completions.create({ model: "m", messages: user, temperature: -1 }), (e: unknown) => e instanceof OpenAI.BadRequestError && /temperature/.test(e.message));
      const ok = await client.chat.completions.create({ model: "m", messages: user, max_tokens: 2, temperature: 0, logit_bias: { 5: 1 } }, { body: { model: "m", messages: user, max_tokens: 2, temperature: 0, some_future_field: { x: 1 } } } as never);
      assert.equal(ok.choices.length, 1);
      assert.equal((await fetch(`${url}/v1/nothing`)).status, 404);
      assert.equal((await fetch(`${url}/v1/chat/completions`)).status, 405);
    } finally {
      await server.close();
    }
  });
});

describe("load limits and faults", () => {
  it("a full queue answers 429; the requests admitted finish", async () => {
    const { server, client } = await startServer({ maxBatch: 1, maxQueue: 2 });
    try {
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => client.chat.completions.create({ model: "m", messages: user, max_tokens: 20, temperature: 0 })));
      const limited = results.filter((r) => r.status === "rejected" && r.reason instanceof OpenAI.RateLimitError);
      const done = results.filter((r) => r.status === "fulfilled");
      assert.ok(limited.length >= 1, `${limited.length} refused`);
      assert.ok(done.length >= 3, `${done.length} answered`);
      assert.equal(limited.length + done.length, 8);
    } finally {
      await server.close();
    }
  });

  it("a client that disconnects mid-stream frees its sequence at the next step", async () => {
    const { server, client } = await startServer();
    try {
      const stream = await client.chat.completions.create({ model: "m", messages: user, max_tokens: 200, temperature: 0, stream: true }, { body: { model: "m", messages: user, max_tokens: 200, temperature: 0, stream: true } } as never);
      let n = 0;
      for await (const _c of stream) if (++n === 3) break; // leaving the loop aborts the request
      await until("the sequence to leave", () => server.engine.activeSequences === 0);
      assert.equal(server.engine.cache.sequences.length, 0);
      assert.equal(server.engine.cache.bytesInUse, 0);
      // the server still answers
      const r = await client.chat.completions.create({ model: "m", messages: user, max_tokens: 3, temperature: 0 });
      assert.equal(r.choices.length, 1);
    } finally {
      await server.close();
    }
  });

  it("a request past its timeout ends: 408 whole, an error event when streamed; the cache is freed", async () => {
    const { server, client } = await startServer({ timeoutMs: 150 });
    try {
      const big = { model: "m", messages: user, max_tokens: 5000, temperature: 0, eos: null };
      await assert.rejects(client.chat.completions.create({ ...big, max_tokens: 230 } as never), (e: unknown) => e instanceof OpenAI.APIError && e.status === 408 && /timeout/.test(e.message));
      const stream = await client.chat.completions.create({ model: "m", messages: user, max_tokens: 230, temperature: 0, stream: true });
      await assert.rejects(
        (async () => {
          for await (const _c of stream);
        })(),
        /did not finish within 0.15 s/,
      );
      await until("the sequences to leave", () => server.engine.activeSequences === 0);
      assert.equal(server.engine.cache.bytesInUse, 0);
    } finally {
      await server.close();
    }
  });

  it("a KV budget makes requests wait rather than fail; one that can never fit is refused", async () => {
    const { model } = await (await import("./helpers.js")).tinyChat();
    const perToken = model.newCache().bytesPerToken;
    const { server, client } = await startServer({ cacheBudgetBytes: perToken * 120 });
    try {
      const r = await Promise.all(Array.from({ length: 4 }, () => client.completions.create({ model: "m", prompt: "Hello there", max_tokens: 60, temperature: 0 })));
      assert.ok(r.every((x) => x.choices[0]!.text === r[0]!.choices[0]!.text));
      await assert.rejects(client.completions.create({ model: "m", prompt: "Hello", max_tokens: 200 }), (e: unknown) => e instanceof OpenAI.BadRequestError && /cache budget/.test(e.message));
    } finally {
      await server.close();
    }
  });

  it("metrics: queue depth, active sequences, tokens/s, the experts implementation per phase, requests", async () => {
    const { server, client, url } = await startServer();
    try {
      await client.chat.completions.create({ model: "m", messages: user, max_tokens: 5, temperature: 0 });
      await post(url, "/v1/chat/completions", "{");
      const text = await (await fetch(`${url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
      assert.equal(value("moekit_queue_depth"), 0);
      assert.equal(value("moekit_active_sequences"), 0);
      assert.ok(value("moekit_decode_tokens_per_second") > 0);
      assert.ok(value("moekit_generated_tokens_total") >= 1);
      assert.match(text, /^moekit_forward_steps_total\{phase="prefill",implementation="grouped_mm"\} [1-9]/m);
      assert.match(text, /^moekit_experts_implementation\{phase="decode",implementation="grouped_mm"\} 1$/m);
      assert.match(text, /^moekit_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} 1$/m);
      assert.match(text, /^moekit_requests_total\{endpoint="\/v1\/chat\/completions",status="400"\} 1$/m);
      assert.ok(value("process_resident_memory_bytes") > 1e6);
      assert.match(text, /^# TYPE moekit_queue_depth gauge$/m);
    } finally {
      await server.close();
    }
  });
});
