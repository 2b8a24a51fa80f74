/**
 * `moekit tune`: measure the candidates auto chooses between (batched_mm, grouped_mm and registered
 * autoCandidate implementations) on this machine at a range of token counts, for one model's dims,
 * and return the profile entry auto's cost model interpolates.
 */
import type { Backend } from "../backends/backend.js";
import type { AutoProfileEntry } from "../experts/auto.js";
import { AUTO_NAME } from "../experts/auto.js";
import { expertsInterface } from "../experts/registry.js";
import { familyFor } from "../models/families/index.js";
import { loadMoeBlockFromCheckpoint } from "../models/build/load-moe-block.js";
import type { DType } from "../dtype.js";
import { latencyStats } from "./stats.js";
import { openSource, sparseLayers } from "./subject.js";
import { seedOf, uniformF32 } from "./random.js";

export const DEFAULT_TUNE_TOKENS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export interface TuneOptions {
  model?: string;
  dtype?: DType;
  threads?: number;
  tokens: number[];
  warmup: number;
  iters: number;
  seed: number;
}

/** The implementations `auto` may pick on `backend`. */
export function tuneCandidates(backend: Backend | string): string[] {
  return expertsInterface.list(backend).filter((n) => n !== AUTO_NAME && expertsInterface.isAutoCandidate(n, backend));
}

export async function measureProfile(
  opts: TuneOptions,
  backend: Backend,
  progress?: (done: number, total: number, label: string) => void,
): Promise<AutoProfileEntry> {
  const ckpt = await openSource({ model: opts.model, layers: 1, dtype: opts.dtype, seed: opts.seed });
  const fam = familyFor(ckpt.config.model_type);
  const [layer] = sparseLayers(ckpt.config, 1);
  const block = await loadMoeBlockFromCheckpoint(ckpt, fam, layer!, { backend });
  const w = block.experts.weights;
  const candidates = tuneCandidates(backend);
  const points: AutoProfileEntry["points"] = [];
  const total = opts.tokens.length * candidates.length;
  let done = 0;
  for (const t of opts.tokens) {
    const x = backend.fromHost(uniformF32(t * w.hiddenSize, seedOf(`tune-${t}`, opts.seed), 1), [t, w.hiddenSize], "float32");
    const { index, weights } = block.route(x);
    const ms: Record<string, number> = {};
    for (const c of candidates) {
      progress?.(done, total, `${t} tokens ${c}`);
      block.experts.implementation = c;
      const once = async () => {
        const y = await block.experts.forward(x, index, weights);
        if (!y.isHost) await backend.read(y);
      };
      for (let i = 0; i < opts.warmup; i++) await once();
      const samples: number[] = [];
      for (let i = 0; i < opts.iters; i++) {
        const s = performance.now();
        await once();
        samples.push(performance.now() - s);
      }
      ms[c] = latencyStats(samples).median;
      done++;
    }
    points.push({ slots: t * block.router.topK, ms });
  }
  const cross = points.find((p) => p.ms.grouped_mm !== undefined && p.ms.batched_mm !== undefined && p.ms.grouped_mm <= p.ms.batched_mm);
  return {
    backend: backend.name,
    dtype: w.down.dtype,
    threads: opts.threads,
    dims: { experts: w.numExperts, hidden: w.hiddenSize, intermediate: w.intermediateSize, topK: block.router.topK },
    points,
    crossoverSlots: cross ? cross.slots : null,
    measuredAt: new Date().toISOString(),
  };
}
