/** POST /v1/completions: a raw prompt (text or token ids) continued, whole or streamed. */
import type { ServerResponse } from "node:http";
import { OutputStream } from "../../chat/output-stream.js";
import { responseId, stopStrings, submit, usageOf, type SamplingBody, type ServeContext } from "../context.js";
import { sendJson, SseWriter } from "../http/sse.js";
import { completionSchema } from "../http/schemas.js";
import { validateBody } from "../http/validate.js";
import { endFailedStream, generationFailure, runGeneration } from "./run-generation.js";

interface CompletionBody extends SamplingBody {
  prompt: string | [string] | number[];
  echo?: boolean | null;
}

export async function completions(ctx: ServeContext, body: unknown, res: ServerResponse): Promise<number> {
  const b = validateBody<CompletionBody>(completionSchema, body);
  const tok = ctx.tokenizer;
  const p = b.prompt;
  const ids = typeof p === "string" ? tok.encode(p) : typeof p[0] === "string" ? tok.encode(p[0]) : (p as number[]);
  const promptText = typeof p === "string" ? p : typeof p[0] === "string" ? p[0] : tok.decode(p as number[], { skipSpecialTokens: true });
  const output = new OutputStream(tok, { raw: true, stop: stopStrings(b) });
  const gen = submit(ctx, ids, b, res);
  const id = responseId("cmpl");
  const created = Math.floor(Date.now() / 1000);
  const echo = b.echo === true ? promptText : "";
  if (!b.stream) {
    const result = await runGeneration(gen, output);
    const err = generationFailure(result, ctx);
    if (err) throw err;
    ctx.metrics.onUsage(result.promptTokens, result.completionTokens);
    sendJson(res, 200, {
      id,
      object: "text_completion",
      created,
      model: ctx.modelId,
      choices: [{ text: echo + output.result.content, index: 0, logprobs: null, finish_reason: result.reason === "length" ? "length" : "stop" }],
      usage: usageOf(result.promptTokens, result.completionTokens),
    });
    return 200;
  }
  const sse = new SseWriter(res);
  const withUsage = b.stream_options?.include_usage === true;
  const chunk = (text: string, finish: string | null) => ({ id, object: "text_completion", created, model: ctx.modelId, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) });
  if (echo) sse.send(chunk(echo, null));
  const result = await runGeneration(gen, output, (deltas) => {
    for (const d of deltas) if (d.type === "content") sse.send(chunk(d.text, null));
  });
  const ended = endFailedStream(sse, result, ctx);
  if (ended !== undefined) return ended;
  ctx.metrics.onUsage(result.promptTokens, result.completionTokens);
  sse.send(chunk("", result.reason === "length" ? "length" : "stop"));
  if (withUsage) sse.send({ id, object: "text_completion", created, model: ctx.modelId, choices: [], usage: usageOf(result.promptTokens, result.completionTokens) });
  sse.end();
  return 200;
}
