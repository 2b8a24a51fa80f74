/** POST /v1/completions: a raw prompt (text or token ids) continued, whole or streamed. */
import type { ServerResponse } from "node:http";
import { OutputStream } from "../../chat/output-stream.js";
import { responseId, stopStrings, submit, timeoutError, usageOf, type SamplingBody, type ServeContext } from "../context.js";
import { HttpError } from "../http/errors.js";
import { sendJson, SseWriter } from "../http/sse.js";
import { completionSchema } from "../http/schemas.js";
import { validateBody } from "../http/validate.js";

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
  const fail = (reason: string, message?: string) =>
    reason === "timeout" ? timeoutError(ctx.timeoutMs) : reason === "error" ? new HttpError(500, `Generation failed: ${message ?? "unknown error"}`, "server_error", null, "generation_failed") : undefined;
  if (!b.stream) {
    for await (const t of gen.tokens) {
      output.push(t);
      if (output.stopped) {
        gen.cancel();
        break;
      }
    }
    const result = await gen.done;
    output.finish();
    const err = fail(result.reason, result.error?.message);
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
  for await (const t of gen.tokens) {
    for (const d of output.push(t)) if (d.type === "content") sse.send(chunk(d.text, null));
    if (output.stopped) {
      gen.cancel();
      break;
    }
  }
  const result = await gen.done;
  for (const d of output.finish()) if (d.type === "content") sse.send(chunk(d.text, null));
  const err = fail(result.reason, result.error?.message);
  if (err) {
    sse.send(err.body());
    sse.end();
    return err.status;
  }
  if (!sse.open) return 499;
  ctx.metrics.onUsage(result.promptTokens, result.completionTokens);
  sse.send(chunk("", result.reason === "length" ? "length" : "stop"));
  if (withUsage) sse.send({ id, object: "text_completion", created, model: ctx.modelId, choices: [], usage: usageOf(result.promptTokens, result.completionTokens) });
  sse.end();
  return 200;
}
