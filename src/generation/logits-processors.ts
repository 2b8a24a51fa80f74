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
  const kth = kthLargest(scores, k);
  for (let i = 0; i < scores.length; i++) if (scores[i]! < kth) scores[i] = -Infinity;
}

/**
 * The k-th largest score (duplicates counted). Small k: one pass keeping the k largest seen, ascending,
 * in a buffer (a score enters only when it beats the smallest kept, rarely after the first few
 * thousand); large k: a numeric sort of a copy. Either way no comparator sort over the vocabulary.
 */
export function kthLargest(scores: Float64Array, k: number): number {
  if (k > 256) {
    const sorted = scores.slice().sort();
    return sorted[sorted.length - k]!;
  }
  const top = new Float64Array(k).fill(-Infinity);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!(s > top[0]!)) continue;
    let j = 0;
    while (j + 1 < k && top[j + 1]! < s) {
      top[j] = top[j + 1]!;
      j++;
    }
    top[j] = s;
  }
  return top[0]!;
}

/**
 * Nucleus filtering: keep the smallest set of top tokens whose probability reaches p (at least one),
 * taking tokens by probability, lower id first among equals. Only the tokens of non-zero probability
 * are sorted, as numbers (the cumulative sum runs over the same values in the same order as a sort of
 * the ids would); the cut-off probability then decides each token in one pass.
 */
export function applyTopP(scores: Float64Array, p: number): void {
  if (p >= 1) return;
  const probs = softmax(scores);
  let n = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i]! > 0) n++;
  const vals = new Float64Array(n);
  n = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i]! > 0) vals[n++] = probs[i]!;
  vals.sort();
  let cum = 0;
  let j = n - 1;
  for (; j >= 0; j--) {
    cum += vals[j]!;
    if (cum >= p) break;
  }
  if (j < 0) return; // (rounding kept the sum below p: every token stays)
  const cut = vals[j]!;
  let above = 0;
  for (let i = n - 1; i >= j && vals[i]! > cut; i--) above++;
  let ties = n - j - above; // tokens at the cut-off probability that are kept, lowest ids first
  for (let i = 0; i < scores.length; i++) {
    const q = probs[i]!;
    if (q > cut) continue;
    if (q === cut && ties > 0) {
      ties--;
      continue;
    }
    scores[i] = -Infinity;
  }
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

/** Highest score, ties → lowest id; NaN loses (all NaN → 0), as the backends' argmax. */
export function argmax(scores: Float64Array | Float32Array): number {
  let first = 0;
  while (first < scores.length && Number.isNaN(scores[first]!)) first++;
  if (first === scores.length) return 0;
  let best = first;
  let top = scores[first]!;
  for (let i = first + 1; i < scores.length; i++) {
    const s = scores[i]!;
    if (s > top) {
      top = s;
      best = i;
    }
  }
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
