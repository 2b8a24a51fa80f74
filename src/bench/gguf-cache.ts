/**
 * The synthetic Qwen1.5-MoE GGUFs the llama.cpp peer loads, written once and kept in the bench cache
 * directory ($MOEKIT_BENCH_CACHE, else $XDG_CACHE_HOME/moekit/bench, else ~/.cache/moekit/bench). A file's
 * name is its key: the seed, the weights dtype and a hash of the config (every dimension, the context
 * length, the layer count) and of the writer's version, so changing any of them writes a new file and a
 * file is never reused for other weights. Written under a temporary name and renamed when complete, so
 * an interrupted write leaves no file that looks finished. Node only.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Config } from "../loading/checkpoint.js";
import { writeQwenSyntheticGguf, type GgufWeightDType } from "./qwen-gguf.js";

/** Bumped whenever qwen-gguf.ts writes different bytes for the same key. */
export const GGUF_WRITER_VERSION = 1;

export function benchCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MOEKIT_BENCH_CACHE) return env.MOEKIT_BENCH_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "moekit", "bench");
}

/** JSON with object keys sorted, so equal configs hash equally whatever their key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v as object).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The cache file name of the synthetic GGUF of (config, dtype, seed). */
export function syntheticGgufName(config: Config, dtype: GgufWeightDType, seed: number): string {
  const hash = createHash("sha256").update(`${GGUF_WRITER_VERSION}\n${canonical(config)}`).digest("hex").slice(0, 16);
  return `qwen2moe-synthetic-${config.num_hidden_layers as number}l-${dtype}-seed${seed}-${hash}.gguf`;
}

/** The cached GGUF's path, writing it first when it is not there. `onWrite` hears when a write starts. */
export async function ensureSyntheticGguf(
  config: Config,
  dtype: GgufWeightDType,
  seed: number,
  dir = benchCacheDir(),
  onWrite?: (path: string) => void,
): Promise<{ path: string; written: boolean }> {
  const path = join(dir, syntheticGgufName(config, dtype, seed));
  if (existsSync(path)) return { path, written: false };
  mkdirSync(dir, { recursive: true });
  onWrite?.(path);
  await writeWhole(path, async (tmp) => {
    await writeQwenSyntheticGguf(tmp, config.num_hidden_layers as number, dtype, seed, config);
  });
  return { path, written: true };
}

/**
 * `path` (a file or a directory) written by `write` under a temporary name, then renamed over whatever stands
 * there: an interrupted write leaves nothing that looks finished, and a failed one leaves nothing at all.
 */
export async function writeWhole(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${path}.partial-${process.pid}`;
  try {
    await write(tmp);
    rmSync(path, { recursive: true, force: true });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
