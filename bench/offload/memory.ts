/** Process and page-cache memory as the offload benchmarks report it (Linux /proc; Node only). */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { MappedFile } from "../../src/loading/mapped-file.js";

/** VmRSS, RssAnon and RssFile of this process, in MiB. */
export function rss(): { rss: number; anon: number; file: number } {
  const s = readFileSync("/proc/self/status", "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

/** The weight files of a checkpoint: the .gguf itself, or a directory's .safetensors files. */
export function weightFiles(model: string): string[] {
  if (model.endsWith(".gguf")) return [model];
  return readdirSync(model).filter((f) => f.endsWith(".safetensors")).map((f) => join(model, f));
}

/** Drops the files from the page cache (posix_fadvise DONTNEED through a mapping); returns MiB still cached. */
export function evictFiles(files: string[]): number {
  let left = 0;
  for (const f of files) {
    const m = MappedFile.open(f);
    if (!m) throw new Error("evicting needs the native addon's mappings");
    m.advise(0, statSync(f).size, "evict");
    left += m.resident(0, statSync(f).size);
  }
  return left / 2 ** 20;
}

/** MiB of the files in the page cache (mincore). */
export function cachedMiB(files: string[]): number {
  let n = 0;
  for (const f of files) {
    const m = MappedFile.open(f);
    if (m) n += m.resident(0, statSync(f).size);
  }
  return n / 2 ** 20;
}
