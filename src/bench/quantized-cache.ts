/**
 * Checkpoints written by `moekit quantize` (quantize-writer.ts) for `moekit bench --scope model --quant-source
 * file`, kept in the bench cache directory (gguf-cache.ts benchCacheDir) beside the peer's GGUFs. A directory's
 * name is its key: the source (the synthetic model's config and seed, or a checkpoint's path), the layer count,
 * the dtype and the writer's version. Written under a temporary name and renamed when complete. Node only.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Checkpoint, Config } from "../loading/checkpoint.js";
import { quantizeCheckpoint } from "../models/build/quantize-writer.js";
import type { QuantDType } from "../models/build/quantize.js";
import { benchCacheDir, canonical, writeWhole } from "./gguf-cache.js";

/** Bumped whenever the bench writes different checkpoints for the same key. */
export const QUANTIZED_CACHE_VERSION = 1;

export interface QuantizedSource {
  /** a checkpoint directory; absent: the synthetic model */
  model?: string;
  config: Config;
  layers: number;
  seed: number;
}

/** The cache directory name of (source, dtype). */
export function quantizedCheckpointName(src: QuantizedSource, dtype: QuantDType): string {
  const what = src.model ? { model: resolve(src.model), layers: src.layers } : { config: src.config, seed: src.seed };
  const hash = createHash("sha256").update(`${QUANTIZED_CACHE_VERSION}\n${canonical(what)}`).digest("hex").slice(0, 16);
  return `${src.model ? "checkpoint" : "qwen2moe-synthetic"}-${src.layers}l-${dtype}${src.model ? "" : `-seed${src.seed}`}-${hash}.moekit`;
}

/** The cached quantized checkpoint's directory, written from `ckpt` (float) first when it is not there. */
export async function ensureQuantizedCheckpoint(
  ckpt: Checkpoint,
  src: QuantizedSource,
  dtype: QuantDType,
  dir = benchCacheDir(),
  onWrite?: (path: string) => void,
): Promise<{ path: string; written: boolean }> {
  const path = join(dir, quantizedCheckpointName(src, dtype));
  if (existsSync(join(path, "config.json"))) return { path, written: false };
  onWrite?.(path);
  await writeWhole(path, async (tmp) => {
    mkdirSync(tmp, { recursive: true });
    await quantizeCheckpoint(ckpt, dtype, tmp);
  });
  return { path, written: true };
}
