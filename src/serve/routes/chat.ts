/** POST /v1/chat/completions: the chat template, generation, then content / reasoning / tool calls, whole or streamed. */
import type { ServerResponse } from "node:http";
import { OutputStream } from "../../chat/output-stream.js";
import { templateMessages, type OpenAIMessage } from "../../chat/openai-messages.js";
import type { ToolDefinition } from "../../text/chat-template.js";
import type { OutputDelta } from "../../text/output/types.js";
import type { ChatToolCall } from "../../text/chat-template.js";
import type { GenerationResult } from "../engine/scheduler.js";
import { responseId, stopStrings, submit, usageOf, type SamplingBody, type ServeContext } from "../context.js";
import { badRequest } from "../http/errors.js";
import { sendJson, SseWriter } from "../http/sse.js";
import { chatCompletionSchema } from "../http/schemas.js";
import { validateBody } from "../http/validate.js";
import { endFailedStream, generationFailure, runGeneration } from "./run-generation.js";

interface ChatBody extends SamplingBody {
  messages: OpenAIMessage[];
  tools?: ToolDefinition[] | null;
  tool_choice?: string | object | null;
  reasoning_effort?: string | null;
  chat_template_kwargs?: Record<string, unknown> | null;
}

interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

function openAIToolCall(c: ChatToolCall, n: number): OpenAIToolCall {
  const args = c.function.arguments;
  return { id: c.id ?? `call_${n}_${Math.random().toString(36).slice(2, 10)}`, type: "function", function: { name: c.function.name, arguments: typeof args === "string" ? args : JSON.stringify(args) } };
}

/** OpenAI's finish_reason: tool calls made, the token limit, or a natural stop (eos or a stop string). */
function finishReason(result: GenerationResult, toolCalls: number): "stop" | "length" | "tool_calls" {
  if (toolCalls > 0) return "tool_calls";
  return result.reason === "length" ? "length" : "stop";
}

export async function chatCompletions(ctx: ServeContext, body: unknown, res: ServerResponse): Promise<number> {
  const b = validateBody<ChatBody>(chatCompletionSchema, body);
  const tok = ctx.tokenizer;
  if (tok.chatTemplate === undefined) throw badRequest("This model's tokenizer has no chat template; use /v1/completions with a prompt.", "messages", "no_chat_template");
  const tools = b.tool_choice === "none" || !b.tools || b.tools.length === 0 ? undefined : b.tools;
  const kwargs: Record<string, unknown> = { ...ctx.templateKwargs, ...(b.chat_template_kwargs ?? {}) };
  if (b.reasoning_effort) kwargs.reasoning_effort = b.reasoning_effort;
  let prompt: string;
  try {
    prompt = tok.applyChatTemplate(templateMessages(b.messages), { ...kwargs, addGenerationPrompt: true, ...(tools ? { tools } : {}), tokenize: false });
  } catch (e) {
    throw badRequest(`The chat template could not render these messages: ${(e as Error).message}`, "messages", "invalid_value");
  }
  const ids = tok.encode(prompt, { addSpecialTokens: false });
  const output = new OutputStream(tok, { prompt, tools, stop: stopStrings(b) });
  const gen = submit(ctx, ids, b, res);
  const id = responseId("chatcmpl");
  const created = Math.floor(Date.now() / 1000);
  if (!b.stream) {
    const result = await runGeneration(gen, output);
    const err = generationFailure(result, ctx);
    if (err) throw err;
    const parsed = output.result;
    const calls = parsed.toolCalls.map(openAIToolCall);
    ctx.metrics.onUsage(result.promptTokens, result.completionTokens);
    sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model: ctx.modelId,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: parsed.content === "" && calls.length > 0 ? null : parsed.content,
            ...(parsed.reasoningContent !== undefined ? { reasoning_content: parsed.reasoningContent } : {}),
            ...(calls.length > 0 ? { tool_calls: calls } : {}),
          },
          logprobs: null,
          finish_reason: finishReason(result, calls.length),
        },
      ],
      usage: usageOf(result.promptTokens, result.completionTokens),
    });
    return 200;
  }
  const sse = new SseWriter(res);
  const withUsage = b.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ id, object: "chat.completion.chunk", created, model: ctx.modelId, system_fingerprint: null, choices, ...(withUsage ? { usage: null } : {}), ...extra });
  let calls = 0;
  const send = (deltas: OutputDelta[]) => {
    for (const d of deltas) {
      const delta =
        d.type === "content" ? { content: d.text } : d.type === "reasoning" ? { reasoning_content: d.text } : { tool_calls: [{ index: calls, ...openAIToolCall(d.call, calls++) }] };
      sse.send(chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]));
    }
  };
  sse.send(chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]));
  const result = await runGeneration(gen, output, send);
  const ended = endFailedStream(sse, result, ctx);
  if (ended !== undefined) return ended;
  ctx.metrics.onUsage(result.promptTokens, result.completionTokens);
  sse.send(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason(result, calls) }]));
  if (withUsage) sse.send({ ...chunk([]), usage: usageOf(result.promptTokens, result.completionTokens) });
  sse.end();
  return 200;
}
