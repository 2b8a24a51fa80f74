/** top-k and top-p without a comparator sort over the vocabulary (a server samples every token with them) keep exactly what the sort-based definitions keep. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyTopK, applyTopP, kthLargest, softmax } from "../../src/generation/logits-processors.js";
import { seededRng } from "../../src/generation/rng.js";

/** The definitions, as sorts: k-th largest of a descending sort; nucleus over ids by (probability desc, id asc). */
function topKBySort(scores: Float64Array, k: number): void {
  if (k <= 0 || k >= scores.length) return;
  const kth = Array.from(scores).sort((a, b) => b - a)[k - 1]!;
  for (let i = 0; i < scores.length; i++) if (scores[i]! < kth) scores[i] = -Infinity;
}

function topPBySort(scores: Float64Array, p: number): void {
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

/** Scores with ties (values on a coarse grid), some −∞, some peaked. */
function cases(): Float64Array[] {
  const rng = seededRng(7);
  const out: Float64Array[] = [];
  for (const n of [1, 2, 7, 300, 5000]) {
    for (const grid of [0, 0.25, 2]) {
      const s = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const x = rng() * 8 - 4;
        s[i] = grid ? Math.round(x / grid) * grid : x;
        if (rng() < 0.05) s[i] = -Infinity;
      }
      if (n > 2 && grid === 0) s[3] = 40; // one token with almost all the mass
      out.push(s);
    }
  }
  out.push(new Float64Array(64).fill(1.5)); // all tied
  return out;
}

describe("sampling filters", () => {
  it("top-p keeps the same tokens as the sort over (probability desc, id asc)", () => {
    for (const scores of cases()) {
      for (const p of [1e-9, 0.1, 0.5, 0.9, 0.999, 1]) {
        const a = scores.slice();
        const b = scores.slice();
        applyTopP(a, p);
        topPBySort(b, p);
        assert.deepEqual(a, b, `n ${scores.length}, p ${p}`);
        assert.ok(a.some((x) => x > -Infinity) || scores.every((x) => x === -Infinity), "at least one token stays");
      }
    }
  });

  it("top-k keeps the same tokens as the sort (ties with the k-th kept), for small and large k", () => {
    for (const scores of cases()) {
      for (const k of [1, 3, 50, 257, 300, 4999]) {
        const a = scores.slice();
        const b = scores.slice();
        applyTopK(a, k);
        topKBySort(b, k);
        assert.deepEqual(a, b, `n ${scores.length}, k ${k}`);
      }
    }
  });

  it("kthLargest counts duplicates", () => {
    const s = Float64Array.from([5, 1, 5, 3, 5, -Infinity]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((k) => kthLargest(s, k)), [5, 5, 5, 3, 1, -Infinity]);
    assert.equal(kthLargest(Float64Array.from({ length: 1000 }, (_, i) => i), 300), 700);
  });
});
