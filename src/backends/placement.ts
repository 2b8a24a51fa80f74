/**
 * A model's parts on backends: one backend for everything, or a placement that keeps the routed
 * experts (and their routers) on another — e.g. in system memory on the cpu backend beside webgpu,
 * as llama.cpp's `--cpu-moe` / `--n-cpu-moe N`. The hidden states cross once each way per MoE layer.
 */
import type { Tensor } from "../tensor.js";
import type { Backend } from "./backend.js";
import { checkPlacement, isPlacement, resolveBackend, type BackendChoice, type BackendOptions } from "./by-name.js";

export interface ResolvedPlacement {
  /** Embeddings, attention, norms, dense and shared MLPs, lm head. */
  rest: Backend;
  /** The backend of layer `moeLayer`'s router and routed experts, `moeLayer` counting MoE-bearing layers from 0. */
  expertsOf(moeLayer: number): Backend;
  /** Every distinct backend the model uses. */
  all: readonly Backend[];
}

export async function resolvePlacement(choice: BackendChoice | undefined, opts: BackendOptions = {}): Promise<ResolvedPlacement> {
  if (!isPlacement(choice)) {
    const b = await resolveBackend(choice, opts);
    return { rest: b, expertsOf: () => b, all: [b] };
  }
  checkPlacement(choice);
  const rest = await resolveBackend(choice.rest, opts);
  const experts = await resolveBackend(choice.experts, opts);
  const limit = choice.expertsLayers ?? Infinity;
  return { rest, expertsOf: (l) => (l < limit ? experts : rest), all: rest === experts ? [rest] : [rest, experts] };
}

/** `t` (float32 or int32) moved to backend `to` through host memory; the same tensor when it is already there. */
export async function handOver(t: Tensor, to: Backend): Promise<Tensor> {
  if (t.backend === to || (t.isHost && to.isHost && !t.isView)) return to.adopt(t);
  const data = await t.data();
  return to.fromHost(data, t.shape, data instanceof Int32Array ? "int32" : "float32");
}
