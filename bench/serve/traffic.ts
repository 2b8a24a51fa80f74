/**
 * Load generation against an OpenAI-compatible server on loopback, with the official openai client
 * (raw fetch for the malformed bodies): reference answers run one at a time, streams timed token by
 * token, and a fault mix — well-formed greedy requests (streamed or not), malformed ones that must get
 * a 400, and clients that disconnect mid-stream — from N concurrent clients, every request bounded in time.
 */
import OpenAI from "openai";

export interface Prompt {
  text: string;
  maxTokens: number;
}

const key = (p: Prompt) => `${p.maxTokens}\u0000${p.text}`;

function client(url: string, timeoutMs: number): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: timeoutMs });
}

/** Seeded mulberry32 (the traffic mix is reproducible). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each prompt's greedy answer with nothing else running (one request at a time). */
export async function referenceAnswers(url: string, prompts: Prompt[], timeoutMs = 600_000): Promise<Map<string, string>> {
  const c = client(url, timeoutMs);
  const out = new Map<string, string>();
  for (const p of prompts) {
    const r = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: p.text }], max_tokens: p.maxTokens, temperature: 0 });
    out.set(key(p), r.choices[0]!.message.content ?? "");
  }
  return out;
}

export interface StreamTiming {
  /** ms from request to the first token */
  ttft: number;
  /** ms between consecutive streamed pieces */
  gaps: number[];
  /** absolute times (performance.now) of the first and last piece */
  first: number;
  last: number;
  completionTokens: number;
  text: string;
}

/** One greedy streamed chat request, timed piece by piece (usage from the last chunk). */
export async function timedStream(url: string, p: Prompt, timeoutMs = 600_000): Promise<StreamTiming> {
  const c = client(url, timeoutMs);
  const t0 = performance.now();
  const stream = await c.chat.completions.create({ model: "m", messages: [{ role: "user", content: p.text }], max_tokens: p.maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } });
  const times: number[] = [];
  let text = "";
  let tokens = 0;
  for await (const chunk of stream) {
    const piece = chunk.choices[0]?.delta.content;
    if (piece) {
      times.push(performance.now());
      text += piece;
    }
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  return { ttft: times[0]! - t0, gaps: times.slice(1).map((t, i) => t - times[i]!), first: times[0]!, last: times.at(-1)!, completionTokens: tokens, text };
}

export interface FaultSpec {
  url: string;
  prompts: Prompt[];
  references: Map<string, string>;
  requests: number;
  clients: number;
  malformedFraction: number;
  disconnectFraction: number;
  /** a request not settled within this is counted as hung */
  timeoutMs: number;
  seed: number;
}

export interface Mismatch {
  prompt: Prompt;
  got: string;
  want: string;
  streamed: boolean;
}

export interface FaultResult {
  sent: number;
  /** well-formed requests answered in full */
  completed: number;
  matched: number;
  mismatches: Mismatch[];
  /** malformed requests answered 400 with an OpenAI error body */
  rejected400: number;
  /** malformed requests answered otherwise */
  badRejections: string[];
  disconnected: number;
  /** well-formed requests that failed (status and message) */
  failed: string[];
  hung: number;
  wallMs: number;
}

const MALFORMED: string[] = [
  '{"model": "m", "messages": [{"role": "user", "content": "Hi"}',
  '{"model": "m", "messages": [{"role": "user", "content": "Hi"}], "temperature": "hot"}',
  '{"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": -3}',
  '{"model": "m"}',
  '{"model": "m", "messages": [{"role": "robot", "content": "Hi"}]}',
  '{"model": "m", "messages": "Hi"}',
  "not json at all",
  '{"model": "m", "messages": [{"role": "user", "content": "Hi"}], "top_p": 7}',
];

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T | "hung"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p.finally(() => clearTimeout(timer)), new Promise<"hung">((resolve) => (timer = setTimeout(() => (onTimeout(), resolve("hung")), ms)))]);
}

/** The fault mix from `clients` concurrent clients until `requests` were sent. */
export async function faultTraffic(spec: FaultSpec): Promise<FaultResult> {
  const r = rng(spec.seed);
  const res: FaultResult = { sent: 0, completed: 0, matched: 0, mismatches: [], rejected400: 0, badRejections: [], disconnected: 0, failed: [], hung: 0, wallMs: 0 };
  const t0 = performance.now();
  const one = async (): Promise<void> => {
    const u = r();
    const ac = new AbortController();
    const c = client(spec.url, spec.timeoutMs * 2);
    if (u < spec.malformedFraction) {
      const body = MALFORMED[Math.floor(r() * MALFORMED.length)]!;
      const outcome = await withTimeout(
        fetch(`${spec.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: ac.signal }).then(async (x) => ({ status: x.status, json: (await x.json()) as { error?: { message?: string; type?: string } } })),
        spec.timeoutMs,
        () => ac.abort(),
      ).catch((e: Error) => ({ status: -1, json: { error: { message: e.message, type: "client error" } } }));
      if (outcome === "hung") res.hung++;
      else if (outcome.status === 400 && typeof outcome.json.error?.message === "string" && outcome.json.error.type === "invalid_request_error") res.rejected400++;
      else res.badRejections.push(`${outcome.status}: ${JSON.stringify(outcome.json).slice(0, 200)}`);
      return;
    }
    const p = spec.prompts[Math.floor(r() * spec.prompts.length)]!;
    const messages = [{ role: "user" as const, content: p.text }];
    if (u < spec.malformedFraction + spec.disconnectFraction) {
      const after = 1 + Math.floor(r() * 3);
      const outcome = await withTimeout(
        (async () => {
          const stream = await c.chat.completions.create({ model: "m", messages, max_tokens: p.maxTokens, temperature: 0, stream: true }, { signal: ac.signal });
          let n = 0;
          for await (const _chunk of stream) if (++n >= after) break; // leaving the loop aborts the request
        })(),
        spec.timeoutMs,
        () => ac.abort(),
      ).catch(() => undefined);
      if (outcome === "hung") res.hung++;
      else res.disconnected++;
      return;
    }
    const streamed = r() < 0.5;
    const outcome = await withTimeout(
      (async () => {
        if (!streamed) return (await c.chat.completions.create({ model: "m", messages, max_tokens: p.maxTokens, temperature: 0 }, { signal: ac.signal })).choices[0]!.message.content ?? "";
        let text = "";
        for await (const chunk of await c.chat.completions.create({ model: "m", messages, max_tokens: p.maxTokens, temperature: 0, stream: true }, { signal: ac.signal })) text += chunk.choices[0]?.delta.content ?? "";
        return text;
      })(),
      spec.timeoutMs,
      () => ac.abort(),
    ).catch((e: Error & { status?: number }) => ({ error: `${e.status ?? "?"}: ${e.message}` }));
    if (outcome === "hung") res.hung++;
    else if (typeof outcome !== "string") res.failed.push(outcome.error);
    else {
      res.completed++;
      const want = spec.references.get(key(p));
      if (outcome === want) res.matched++;
      else res.mismatches.push({ prompt: p, got: outcome, want: want ?? "(no reference)", streamed });
    }
  };
  const worker = async () => {
    while (res.sent < spec.requests) {
      res.sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: spec.clients }, worker));
  res.wallMs = performance.now() - t0;
  return res;
}

/** Resident memory of the server, from its /metrics. */
export async function serverRss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1]);
}

export function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}
