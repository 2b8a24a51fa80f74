/**
 * Resident-memory high-water mark of one phase of this process (Node only). On Linux the kernel's
 * mark (VmHWM) is reset to the current resident size by writing "5" to /proc/self/clear_refs, so the
 * mark read afterwards covers only what ran since; elsewhere the mark is the whole process's maxRSS.
 */
import { readFileSync, writeFileSync } from "node:fs";

/** Starts a phase: resets the high-water mark where the kernel allows it; returns whether it did. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** The resident high-water mark in bytes (since the last reset where one was possible). */
export function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux: fall through */
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** The resident size now, bytes. */
export function residentBytes(): number {
  return process.memoryUsage().rss;
}

/**
 * A full collection (the child runs with --expose-gc), a moment for freed buffers to leave the heap, then with
 * `trimHeap` (a process that runs the cpu backend: its addon is loaded) the heap's free pages handed back to the
 * kernel (malloc_trim): the addon keeps freed blocks for a forward's next step, which also keeps what loading freed.
 */
export async function collectGarbage(trimHeap: boolean): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 50));
  if (!trimHeap) return;
  try {
    const { loadNative } = await import("../backends/cpu/native.js");
    loadNative().trimHeap?.();
  } catch {
    /* no addon: glibc's own trimming applies */
  }
}
