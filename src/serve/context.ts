/** What every route reads: the engine, the tokenizer, the served model's name, defaults, metrics. */
import type { ServerResponse } from "node:http";
import type { MoekitTokenizer } from "../text/tokenizer-interface.js";
import { QueueFullError, RequestRejectedError, type BatchEngine, type Generation, type SubmitOptions } from "./engine/scheduler.js";
import { badRequest, HttpError } from "./http/errors.js";
import type { ServeMetrics } from "./metrics.js";

export interface ServeContext {
  engine: BatchEngine;
  tokenizer: MoekitTokenizer;
  modelId: string;
  /** Unix seconds when the server started (the model's `created`). */
  created: number;
  metrics: ServeMetrics;
  /** max_tokens when a request gives none. */
  maxTokens: number;
  /** Per-request limit, from submit to the last token. */
  timeoutMs: number;
  /** Chat template variables every request gets (enable_thinking, ...); a request's chat_template_kwargs override them. */
  templateKwargs: Record<string, unknown>;
}

/** The sampling fields OpenAI requests share. */
export interface SamplingBody {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
}

export function stopStrings(b: SamplingBody): string[] {
  return b.stop === undefined || b.stop === null ? [] : typeof b.stop === "string" ? [b.stop] : b.stop;
}

/** temperature 0 is greedy; a positive one samples (with top_p); absent, the model's generation_config decides. */
export function submitOptions(ctx: ServeContext, b: SamplingBody, signal: AbortSignal): SubmitOptions {
  const o: SubmitOptions = { maxNewTokens: b.max_completion_tokens ?? b.max_tokens ?? ctx.maxTokens, signal, timeoutMs: ctx.timeoutMs };
  if (b.temperature === 0) o.doSample = false;
  else if (typeof b.temperature === "number") {
    o.doSample = true;
    o.temperature = b.temperature;
  }
  if (typeof b.top_p === "number") o.topP = b.top_p;
  if (typeof b.seed === "number") o.seed = b.seed;
  return o;
}

/** Queue the prompt; a client that goes away cancels its sequence at the next step. */
export function submit(ctx: ServeContext, ids: number[], b: SamplingBody, res: ServerResponse): Generation {
  const ac = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  try {
    return ctx.engine.submit(ids, submitOptions(ctx, b, ac.signal));
  } catch (e) {
    if (e instanceof QueueFullError) throw new HttpError(429, e.message, "rate_limit_error", null, "queue_full");
    if (e instanceof RequestRejectedError) throw badRequest(e.message, null, "invalid_value");
    throw e;
  }
}

export function usageOf(promptTokens: number, completionTokens: number): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

let counter = 0;
export function responseId(prefix: string): string {
  counter = (counter + 1) % 1e9;
  return `${prefix}-${Date.now().toString(36)}${counter.toString(36).padStart(4, "0")}`;
}

export const timeoutError = (ms: number) => new HttpError(408, `The request did not finish within ${ms / 1000} s (the server's per-request timeout).`, "timeout_error", null, "request_timeout");
