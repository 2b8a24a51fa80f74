/**
 * The peer's expert weights: seeded uniform values in [-scale, scale), drawn exactly as
 * bench/cpu/experts.ts draws its own (one rng(seed) stream: every expert's gateUp [2I, H], gate rows
 * then up rows, then every expert's down [H, I]), so that with the same seed both sides hold the same
 * numbers. Layer l uses seed + l.
 */
import { randomFloats, rng } from "../../../src/bench/random.js";
import type { MoeDims } from "./moe-model.js";

export interface ExpertChunk {
  part: "gateUp" | "down";
  expert: number;
  /** gateUp: [2I, H] in moekit's layout (gate rows, then up rows); down: [H, I] */
  values: Float32Array;
}

export function layerSeed(seed: number, layer: number): number {
  return seed + layer;
}

/** One expert at a time, in the stream's order, so that gigabytes of weights never sit in memory at once. */
export function* seededExpertChunks(d: MoeDims, seed: number, scale: number): Generator<ExpertChunk> {
  const r = rng(seed);
  const { hidden: h, intermediate: i, experts: e } = d;
  for (let x = 0; x < e; x++) yield { part: "gateUp", expert: x, values: randomFloats(r, 2 * i * h, scale) };
  for (let x = 0; x < e; x++) yield { part: "down", expert: x, values: randomFloats(r, h * i, scale) };
}

/** One expert's [gate_0 … gate_{I-1}, up_0 … up_{I-1}] rows → onnxruntime's interleaved [gate_0, up_0, gate_1, up_1, …]. */
export function interleaveGateUp(gateUp: Float32Array, intermediate: number, hidden: number): Float32Array {
  if (gateUp.length !== 2 * intermediate * hidden) throw new Error(`interleaveGateUp: ${gateUp.length} values, expected 2·${intermediate}·${hidden}`);
  const out = new Float32Array(gateUp.length);
  for (let r = 0; r < intermediate; r++) {
    out.set(gateUp.subarray(r * hidden, (r + 1) * hidden), 2 * r * hidden);
    out.set(gateUp.subarray((intermediate + r) * hidden, (intermediate + r + 1) * hidden), (2 * r + 1) * hidden);
  }
  return out;
}
