/**
 * The cases of `moekit bench --scope model`: prefill B×S from an empty cache (ms until every sequence
 * has its first token), decode (a short prompt, then cached one-token greedy steps: tok/s), and long
 * context (a prompt of N tokens prefilled in chunks of CONTEXT_CHUNK, timed once, then decode steps at
 * that context). Each case gives one or two rows of the table.
 */
export type ModelCase =
  | { kind: "prefill"; batch: number; seq: number }
  | { kind: "decode"; prompt: number; newTokens: number }
  | { kind: "context"; context: number; newTokens: number };

/** Tokens per forward when a long prompt is prefilled (llama.cpp's default ubatch). */
export const CONTEXT_CHUNK = 512;

/** What one row measures: a latency (lower is better) or a rate (higher is better). */
export type RowMetric = "prefill_ms" | "decode_tok_s";

export function caseName(c: ModelCase): string {
  if (c.kind === "prefill") return `prefill ${c.batch}x${c.seq}`;
  if (c.kind === "decode") return `decode ${c.prompt}+${c.newTokens}`;
  return `context ${c.context}`;
}

/** The table label of a row of case `c`. */
export function rowLabel(c: ModelCase, metric: RowMetric): string {
  if (c.kind === "prefill") return `prefill ${c.batch}×${c.seq} ms`;
  if (c.kind === "decode") return `decode tok/s (${c.prompt}-token prompt, ${c.newTokens} new)`;
  return metric === "prefill_ms" ? `prefill ${c.context} ms (chunks of ${CONTEXT_CHUNK})` : `decode tok/s at context ${c.context} (${c.newTokens} new)`;
}

/** Tokens a case needs the model's context to hold. */
export function positionsNeeded(c: ModelCase): number {
  if (c.kind === "prefill") return c.seq + 1;
  if (c.kind === "decode") return c.prompt + c.newTokens + 1;
  return c.context + c.newTokens + 1;
}

export interface ModelCaseOptions {
  /** prefill points */
  prefill: { batch: number; seq: number }[];
  /** decode: prompt tokens and timed steps (no decode case when newTokens is 0) */
  prompt: number;
  newTokens: number;
  /** long-context points (prefill at that length, then `contextNew` decode steps) */
  contexts: number[];
  contextNew: number;
}

export function modelCases(o: ModelCaseOptions): ModelCase[] {
  const out: ModelCase[] = o.prefill.map((p) => ({ kind: "prefill", batch: p.batch, seq: p.seq }));
  if (o.newTokens > 0) out.push({ kind: "decode", prompt: o.prompt, newTokens: o.newTokens });
  for (const context of o.contexts) out.push({ kind: "context", context, newTokens: o.contextNew });
  return out;
}
