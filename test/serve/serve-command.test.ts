import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import OpenAI from "openai";
import { chatModelDir } from "../chat/chat-model.js";

describe("moekit serve", () => {
  it("serves the model on the port it prints, answers the openai client, stops on SIGTERM", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/chat/cli-entry.ts", "serve", chatModelDir(), "--port", "0", "--backend", "reference", "--model-id", "tiny", "--max-batch", "4"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    try {
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
      assert.deepEqual((await client.models.list()).data.map((m) => m.id), ["tiny"]);
      const r = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hi" }], max_tokens: 3, temperature: 0 });
      const n = r.usage!.completion_tokens;
      assert.ok(n >= 1 && n <= 3, `${n} tokens`);
      assert.equal(r.choices[0]!.finish_reason, n === 3 ? "length" : "stop");
    } finally {
      const code = await new Promise<number | null>((resolve) => {
        child.on("exit", (c) => resolve(c));
        child.kill("SIGTERM");
      });
      assert.equal(code, 0, err);
      assert.match(err, /stopping/);
    }
  });

  it("bad flags are clear errors", async () => {
    const { main } = await import("../../src/cli/main.js");
    const errors: string[] = [];
    const orig = console.error;
    console.error = (s: string) => errors.push(s);
    try {
      assert.equal(await main(["serve", chatModelDir(), "--port", "http"]), 1);
      assert.equal(await main(["serve", chatModelDir(), "--max-batch", "0"]), 1);
      assert.equal(await main(["serve"]), 1);
    } finally {
      console.error = orig;
    }
    assert.match(errors[0]!, /--port must be a port number, got 'http'/);
    assert.match(errors[1]!, /--max-batch must be an integer ≥ 1, got '0'/);
    assert.match(errors[2]!, /missing the model directory/);
  });
});
