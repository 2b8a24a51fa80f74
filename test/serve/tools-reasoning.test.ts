import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { ModelServer } from "../../src/serve/server.js";
import { IM_END } from "../chat/chat-model.js";
import { ScriptedModel, tinyChat } from "./helpers.js";

const WEATHER: OpenAI.Chat.ChatCompletionTool = {
  type: "function",
  function: { name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};
const SCRIPT = '<think>\nThe user wants the weather; call the tool.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';

describe("reasoning and tool calls (Qwen3 template, hermes format)", () => {
  let server: ModelServer;
  let client: OpenAI;
  let model: ScriptedModel;
  before(async () => {
    const { tokenizer } = await tinyChat();
    model = new ScriptedModel(512, [...tokenizer.encode(SCRIPT, { addSpecialTokens: false }), IM_END], { eos_token_id: IM_END });
    server = new ModelServer({ model, tokenizer, modelId: "scripted" });
    const { url } = await server.listen(0);
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(() => server.close());

  it("non-streaming: reasoning_content apart, tool_calls with JSON-string arguments, finish_reason tool_calls", async () => {
    const r = await client.chat.completions.create({ model: "scripted", messages: [{ role: "user", content: "Weather in Paris?" }], tools: [WEATHER] });
    const m = r.choices[0]!.message as OpenAI.Chat.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(m.reasoning_content, "The user wants the weather; call the tool.");
    assert.equal(m.content, null);
    assert.equal(m.tool_calls!.length, 1);
    const call = m.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.type, "function");
    assert.equal(call.function.name, "get_weather");
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
    assert.match(call.id, /^call_/);
    assert.equal(r.choices[0]!.finish_reason, "tool_calls");
  });

  it("streaming: reasoning deltas, then one tool_calls delta; the tool round trip renders (OpenAI-style messages)", async () => {
    const stream = await client.chat.completions.create({ model: "scripted", messages: [{ role: "user", content: "Weather in Paris?" }], tools: [WEATHER], stream: true });
    let reasoning = "";
    const calls: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const c of stream) {
      const d = c.choices[0]?.delta as (OpenAI.Chat.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string }) | undefined;
      reasoning += d?.reasoning_content ?? "";
      calls.push(...(d?.tool_calls ?? []));
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(reasoning, "The user wants the weather; call the tool.");
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.index, 0);
    assert.equal(calls[0]!.function!.name, "get_weather");
    assert.equal(finish, "tool_calls");
    // the client sends the call back as OpenAI does (content null, arguments a JSON string) with the tool's result
    const second = await client.chat.completions.create({
      model: "scripted",
      tools: [WEATHER],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: null, tool_calls: [{ id: calls[0]!.id!, type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }] },
        { role: "tool", tool_call_id: calls[0]!.id!, content: "22 C, sunny" },
      ],
    });
    assert.equal(second.choices[0]!.finish_reason, "tool_calls");
    const { tokenizer } = await tinyChat();
    const rendered = tokenizer.applyChatTemplate(
      [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: "", tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }] },
        { role: "tool", content: "22 C, sunny" },
      ],
      { addGenerationPrompt: true, tools: [WEATHER as never] },
    );
    assert.equal(second.usage!.prompt_tokens, rendered.length, "the converted messages render as the template's own form");
  });

  it("tool_choice none leaves the tools out of the prompt", async () => {
    const withTools = await client.chat.completions.create({ model: "scripted", messages: [{ role: "user", content: "Hi" }], tools: [WEATHER], max_tokens: 1 });
    const none = await client.chat.completions.create({ model: "scripted", messages: [{ role: "user", content: "Hi" }], tools: [WEATHER], tool_choice: "none", max_tokens: 1 });
    assert.ok(none.usage!.prompt_tokens < withTools.usage!.prompt_tokens);
  });
});
