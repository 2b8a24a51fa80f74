/**
 * The JSON spec of a peer run, checked field by field (a bad field is an error naming it):
 *   threads     intra-op threads (default 2)
 *   seed        weights seed; layer l uses seed + l (default 42, bench/cpu/experts.ts's)
 *   dtype       weights dtype: float32 | float16 (default float32); others are answered with an error line
 *   ts          token counts to time (one-shot runs; --serve takes them case by case)
 *   budget_ms   timing window per case (default 1500), unless iters is given
 *   warmup, iters  fixed untimed + timed runs instead of the budget (iters ≥ 1, warmup default 1)
 *   layers      MoE layers per run (default 1)
 *   placement   initializers | inputs (default initializers: constant weights in external data)
 *   dims        { hidden, intermediate, experts, topK } (default Qwen1.5-MoE-A2.7B's experts)
 *   scale       weights uniform in [-scale, scale) (default 0.02)
 */
import { checkDims, QWEN15_MOE_EXPERTS, WEIGHT_PLACEMENTS, type MoeDims, type WeightPlacement } from "./moe-model.js";
import type { TimingPlan } from "../../../src/bench/timing.js";

export interface PeerSpec {
  threads: number;
  seed: number;
  dtype: string;
  ts: number[];
  plan: TimingPlan;
  layers: number;
  placement: WeightPlacement;
  dims: MoeDims;
  scale: number;
}

const KEYS = ["threads", "seed", "dtype", "ts", "budget_ms", "warmup", "iters", "layers", "placement", "dims", "scale"];

function integer(o: Record<string, unknown>, key: string, fallback: number | undefined, min: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new Error(`spec.${key} must be an integer ≥ ${min}, got ${JSON.stringify(o[key])}`);
  return v;
}

function positive(o: Record<string, unknown>, key: string, fallback: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new Error(`spec.${key} must be a positive number, got ${JSON.stringify(o[key])}`);
  return v;
}

function tokenCounts(v: unknown): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((t) => typeof t !== "number" || !Number.isInteger(t) || t < 1)) {
    throw new Error(`spec.ts must be a list of positive integers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

function dimsOf(v: unknown): MoeDims {
  if (v === undefined) return QWEN15_MOE_EXPERTS;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`spec.dims must be an object { hidden, intermediate, experts, topK }, got ${JSON.stringify(v)}`);
  const d = v as Record<string, unknown>;
  const dims = { hidden: d.hidden, intermediate: d.intermediate, experts: d.experts, topK: d.topK } as MoeDims;
  checkDims(dims);
  return dims;
}

export function parseSpec(text: string): PeerSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`the spec is not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`the spec must be a JSON object, got ${text}`);
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
  if (unknown.length) throw new Error(`spec has unknown field(s) ${unknown.join(", ")}; known: ${KEYS.join(", ")}`);
  const dtype = o.dtype ?? "float32";
  if (typeof dtype !== "string") throw new Error(`spec.dtype must be a string, got ${JSON.stringify(o.dtype)}`);
  const placement = o.placement ?? "initializers";
  if (!WEIGHT_PLACEMENTS.includes(placement as WeightPlacement)) throw new Error(`spec.placement must be one of ${WEIGHT_PLACEMENTS.join(", ")}, got ${JSON.stringify(placement)}`);
  const plan: TimingPlan =
    o.iters !== undefined ? { kind: "iters", warmup: integer(o, "warmup", 1, 0), iters: integer(o, "iters", undefined, 1) } : { kind: "budget", budgetMs: positive(o, "budget_ms", 1500) };
  return {
    threads: integer(o, "threads", 2, 1),
    seed: integer(o, "seed", 42, 0),
    dtype,
    ts: tokenCounts(o.ts),
    plan,
    layers: integer(o, "layers", 1, 1),
    placement: placement as WeightPlacement,
    dims: dimsOf(o.dims),
    scale: positive(o, "scale", 0.02),
  };
}
