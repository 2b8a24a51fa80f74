/**
 * Next-token choice from one row of logits, in transformers' order: repetition penalty and eos
 * suppression (min_new_tokens) first, then — when sampling — temperature, top-k, top-p, and a draw.
 * All functions work in place on a Float64Array row of scores.
 */
import type { Rng } from "./rng.js";

/** CTRL-style penalty on every token already in the sequence: s < 0 ? s·p : s / p. */
export function applyRepetitionPenalty(scores: Float64Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    if (id < 0 || id >= scores.length) continue;
    const s = scores[id]!;
    scores[id] = s < 0 ? s * penalty : s / penalty;
  }
}

export function suppressTokens(scores: Float64Array, ids: readonly number[]): void {
  for (const id of ids) if (id >= 0 && id < scores.length) scores[id] = -Infinity;
}

export function applyTemperature(scores: Float64Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < scores.length; i++) scores[i] = scores[i]! / temperature;
}

/** Keep the k highest scores (ties with the k-th kept, as torch's threshold does); the rest → −∞. */
export function applyTopK(scores: Float64Array, k: number): void {
  if (k <= 0 || k >= scores.length) return;
  const kth = Float64Array.from(scores).sort((a, b) => b - a)[k - 1]!;
  for (let i = 0; i < scores.length; i++) if (scores[i]! < kth) scores[i] = -Infinity;
}

/** Nucleus filtering: keep the smallest set of top tokens whose probability reaches p (at least one). */
export function applyTopP(scores: Float64Array, p: number): void {
  if (p >= 1) return;
  const probs = softmax(scores);
  const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]! || a - b);
  let cum = 0;
  const keep = new Uint8Array(scores.length);
  for (const i of order) {
    keep[i] = 1;
    cum += probs[i]!;
    if (cum >= p) break;
  }
  for (let i = 0; i < scores.length; i++) if (!keep[i]) scores[i] = -Infinity;
}

export function softmax(scores: Float64Array): Float64Array {
  let max = -Infinity;
  for (const s of scores) if (s > max) max = s;
  const out = new Float64Array(scores.length);
  if (max === -Infinity) return out;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += out[i] = Math.exp(scores[i]! - max);
  for (let i = 0; i < scores.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** Highest score, ties → lowest id. */
export function argmax(scores: Float64Array | Float32Array): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  return best;
}

/** Draw from softmax(scores) with a uniform number from `rng`. */
export function sample(scores: Float64Array, rng: Rng): number {
  const probs = softmax(scores);
  let u = rng();
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! <= 0) continue;
    last = i;
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return last < 0 ? argmax(scores) : last;
}
