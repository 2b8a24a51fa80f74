import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { Tensor } from "../../src/tensor.js";
import type { ModelServer } from "../../src/serve/server.js";
import { IM_END } from "../chat/chat-model.js";
import { startServer, tinyChat } from "./helpers.js";

const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "What is the weather in Paris?" },
];

/** The greedy continuation of the same prompt straight from the model (no server): ids and text. */
async function greedyAlone(maxNew: number): Promise<{ ids: number[]; prompt: number[] }> {
  const { model, tokenizer } = await tinyChat();
  const prompt = tokenizer.applyChatTemplate(messages as never, { addGenerationPrompt: true });
  const out = await model.generate(Tensor.from(Int32Array.from(prompt), [1, prompt.length]), { maxNewTokens: maxNew });
  return { ids: Array.from(((await out.data()) as Int32Array).slice(prompt.length)), prompt };
}

describe("OpenAI API through the official client", () => {
  let server: ModelServer;
  let client: OpenAI;
  let url: string;
  before(async () => ({ server, client, url } = await startServer()));
  after(() => server.close());

  it("chat, non-streaming: the greedy answer, usage and the OpenAI shape", async () => {
    const r = await client.chat.completions.create({ model: "tiny-qwen3-moe", messages, max_tokens: 12, temperature: 0 });
    const { ids, prompt } = await greedyAlone(12);
    const { tokenizer } = await tinyChat();
    const want = tokenizer.parseOutput(ids);
    assert.equal(r.object, "chat.completion");
    assert.equal(r.model, "tiny-qwen3-moe");
    assert.equal(r.choices[0]!.message.role, "assistant");
    assert.equal(r.choices[0]!.message.content, want.content);
    assert.equal(r.choices[0]!.finish_reason, ids.includes(IM_END) ? "stop" : "length");
    assert.deepEqual(r.usage, { prompt_tokens: prompt.length, completion_tokens: ids.length, total_tokens: prompt.length + ids.length });
  });

  it("chat, streaming: chunks add up to the non-streamed answer; include_usage ends with the usage", async () => {
    const whole = await client.chat.completions.create({ model: "m", messages, max_completion_tokens: 10, temperature: 0 });
    const stream = await client.chat.completions.create({ model: "m", messages, max_completion_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = "";
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const c of stream) {
      chunks.push(c);
      text += c.choices[0]?.delta.content ?? "";
    }
    assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0]!.id));
    assert.equal(text, whole.choices[0]!.message.content);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    assert.equal(finish!.choices[0]!.finish_reason, whole.choices[0]!.finish_reason);
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, whole.usage);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
  });

  it("completions: text prompt and token ids, whole and streamed, seeded sampling reproducible", async () => {
    const { tokenizer } = await tinyChat();
    const ids = tokenizer.encode("The weather in Paris is");
    const a = await client.completions.create({ model: "m", prompt: "The weather in Paris is", max_tokens: 8, temperature: 0 });
    const b = await client.completions.create({ model: "m", prompt: ids, max_tokens: 8, temperature: 0 });
    assert.equal(a.object, "text_completion");
    assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    assert.equal(a.usage!.prompt_tokens, ids.length);
    let streamed = "";
    for await (const c of await client.completions.create({ model: "m", prompt: "The weather in Paris is", max_tokens: 8, temperature: 0, stream: true })) streamed += c.choices[0]?.text ?? "";
    assert.equal(streamed, a.choices[0]!.text);
    const s1 = await client.completions.create({ model: "m", prompt: "Hello", max_tokens: 8, temperature: 1.5, top_p: 0.9, seed: 7 });
    const s2 = await client.completions.create({ model: "m", prompt: "Hello", max_tokens: 8, temperature: 1.5, top_p: 0.9, seed: 7 });
    assert.equal(s1.choices[0]!.text, s2.choices[0]!.text);
  });

  it("stop strings end the answer before them, also when split across chunks", async () => {
    const base = await client.completions.create({ model: "m", prompt: "Hello", max_tokens: 16, temperature: 0 });
    const text = base.choices[0]!.text;
    assert.ok(text.length >= 6, `enough text to cut: ${JSON.stringify(text)}`);
    const stop = text.slice(3, 6);
    const want = text.slice(0, text.indexOf(stop));
    const cut = await client.completions.create({ model: "m", prompt: "Hello", max_tokens: 16, temperature: 0, stop: [stop, "never-there"] });
    assert.equal(cut.choices[0]!.text, want);
    assert.equal(cut.choices[0]!.finish_reason, "stop");
    let streamed = "";
    let finish: string | null = null;
    for await (const c of await client.completions.create({ model: "m", prompt: "Hello", max_tokens: 16, temperature: 0, stop, stream: true })) {
      streamed += c.choices[0]?.text ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(streamed, want);
    assert.equal(finish, "stop");
  });

  it("models and health", async () => {
    const list = await client.models.list();
    assert.deepEqual(list.data.map((m) => [m.id, m.object, m.owned_by]), [["tiny-qwen3-moe", "model", "moekit"]]);
    const h = (await (await fetch(`${url}/health`)).json()) as { status: string };
    assert.equal(h.status, "ok");
  });

  it("greedy answers under concurrency equal the same requests run alone", async () => {
    const prompts = Array.from({ length: 8 }, (_, i) => `Question ${i}: ${"why ".repeat(1 + ((i * 5) % 13))}?`);
    const ask = (p: string, i: number) => client.chat.completions.create({ model: "m", messages: [{ role: "user", content: p }], max_tokens: 24 + i, temperature: 0 });
    const alone: string[] = [];
    for (const [i, p] of prompts.entries()) alone.push((await ask(p, i)).choices[0]!.message.content ?? "");
    const together = await Promise.all(prompts.map(ask));
    assert.deepEqual(together.map((r) => r.choices[0]!.message.content ?? ""), alone);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const decodes = [...metrics.matchAll(/^moekit_forward_steps_total\{phase="decode",implementation="([^"]+)"\} (\d+)$/gm)];
    assert.ok(decodes.length > 0, metrics);
  });
});
