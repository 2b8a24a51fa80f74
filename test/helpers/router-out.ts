/**
 * MoE block checks for the fixtures that capture router_out_<i> instead of (top_k_index, top_k_weights):
 * llama4, whose router returns dense scores [T, E] (σ of the chosen logits, 0 elsewhere) and whose
 * experts run every expert over its whole scaled input ([E·T, H], rows of expert e at e·T); jetmoe,
 * whose router returns (slots sorted by expert, their tokens, their gates, expert sizes, logits [T, E]).
 * Routers with unsorted top-k are compared as sets of experts per token.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../src/backends/backend.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "./assert-close.js";
import { expected, firstSparseLayer, fixtureDir } from "./fixtures.js";

/** The (expert → weight) choices of each token, from index/weights [T, K]. */
export async function choices(index: Tensor, weights: Tensor): Promise<Map<number, number>[]> {
  const [t, k] = index.shape as [number, number];
  const ids = (await index.data()) as Int32Array;
  const ws = (await weights.data()) as Float32Array;
  return Array.from({ length: t }, (_, r) => new Map(Array.from({ length: k }, (_, j) => [ids[r * k + j]!, ws[r * k + j]!] as const)));
}

/** The same from dense scores [T, E] (nonzero = chosen). */
export async function denseChoices(scores: Tensor): Promise<Map<number, number>[]> {
  const [t, e] = scores.shape as [number, number];
  const s = (await scores.data()) as Float32Array;
  return Array.from({ length: t }, (_, r) => new Map(Array.from({ length: e }, (_, x) => [x, s[r * e + x]!] as const).filter(([, v]) => v !== 0)));
}

/** Same experts per token (as sets) and each expert's weight within `tol` of max|want|. */
export function assertSameChoices(got: Map<number, number>[], want: Map<number, number>[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: tokens`);
  let scale = 0;
  for (const m of want) for (const v of m.values()) scale = Math.max(scale, Math.abs(v));
  got.forEach((g, t) => {
    assert.deepEqual([...g.keys()].sort((a, b) => a - b), [...want[t]!.keys()].sort((a, b) => a - b), `${what}: experts of token ${t}`);
    for (const [e, w] of g) assert.ok(Math.abs(w - want[t]!.get(e)!) <= tol * scale, `${what}: token ${t} expert ${e} weight ${w} vs ${want[t]!.get(e)}`);
  });
}

/** llama4: router scores, each expert over its scaled inputs, and the whole block. */
export async function checkLlama4Block(backend: Backend, impl: string): Promise<void> {
  const family = "llama4";
  const ex = await expected(family);
  const block = await loadMoeBlock(fixtureDir(family), firstSparseLayer(family), { backend, expertsImplementation: impl });
  const { index, weights } = block.route(ex.moe_in!);
  assertSameChoices(await choices(index, weights), await denseChoices(ex.router_out_0!), 1e-5, "router");
  const [rows] = ex.experts_in!.shape as [number];
  const e = block.experts.numExperts;
  const ids = Tensor.from(Int32Array.from({ length: rows }, (_, r) => Math.floor(r / (rows / e))), [rows, 1]);
  const ones = Tensor.from(new Float32Array(rows).fill(1), [rows, 1]);
  const out = await block.experts.forward(ex.experts_in!, ids, ones);
  assertClose(await out.data(), await ex.experts_out!.data(), 1e-4, `${impl} experts_out`);
  assertClose(await (await block.forward(ex.moe_in!)).data(), await ex.moe_out!.data(), 1e-4, `${impl} moe_out`);
}

/**
 * jetmoe: router logits, the choices (slot j of token t is its j-th largest logit; its gate is the
 * batch_gates entry of slot t·K + j) and the whole block.
 */
export async function checkJetmoeBlock(backend: Backend, impl: string): Promise<void> {
  const family = "jetmoe";
  const ex = await expected(family);
  const block = await loadMoeBlock(fixtureDir(family), firstSparseLayer(family), { backend, expertsImplementation: impl });
  assertClose(await block.router.logits(backend.adopt(ex.moe_in!)).data(), await ex.router_out_4!.data(), 1e-4, "router logits");
  const [t, e] = ex.router_out_4!.shape as [number, number];
  const k = block.router.topK;
  const logits = (await ex.router_out_4!.data()) as Float32Array;
  const slots = (await ex.router_out_0!.data()) as Int32Array;
  const gates = (await ex.router_out_2!.data()) as Float32Array;
  const gateOf = new Map(Array.from(slots, (slot, i) => [slot, gates[i]!] as const));
  const want = Array.from({ length: t }, (_, r) => {
    const row = Array.from({ length: e }, (_, x) => x).sort((a, b) => logits[r * e + b]! - logits[r * e + a]! || a - b);
    return new Map(row.slice(0, k).map((x, j) => [x, gateOf.get(r * k + j)!] as const));
  });
  const { index, weights } = block.route(ex.moe_in!);
  assertSameChoices(await choices(index, weights), want, 1e-5, "router");
  assertClose(await (await block.forward(ex.moe_in!)).data(), await ex.moe_out!.data(), 1e-4, `${impl} moe_out`);
}

export const ROUTER_OUT_CHECKS: Record<string, (backend: Backend, impl: string) => Promise<void>> = {
  llama4: checkLlama4Block,
  jetmoe: checkJetmoeBlock,
};
