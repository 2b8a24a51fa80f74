/**
 * Progress of a download and a load, in transformers.js' `progress_callback` shape (camelCase option
 * `progressCallback`): per file `initiate`, then `progress` with bytes `loaded` of `total`, then
 * `done`; once the model is built, `ready`. Downloads count the bytes of each fetched response; loads
 * count the stored bytes of each tensor read from its weight file.
 */
import { Checkpoint, type TensorProvider } from "../loading/checkpoint.js";
import type { RawReadOptions, TensorReadOptions } from "../loading/safetensors.js";

export type ProgressInfo =
  | { status: "initiate"; name: string; file: string; kind: "download" | "load" }
  | { status: "progress"; name: string; file: string; kind: "download" | "load"; loaded: number; total: number; progress: number }
  | { status: "done"; name: string; file: string; kind: "download" | "load" }
  | { status: "ready"; name: string; model: string };

export type ProgressCallback = (info: ProgressInfo) => void;

/** Calls the user's callback, never letting its exception break a download or a load. */
export function safeProgress(cb: ProgressCallback | undefined): ProgressCallback | undefined {
  if (cb === undefined) return undefined;
  if (typeof cb !== "function") throw new Error(`progressCallback must be a function, got ${typeof cb}`);
  let warned = false;
  return (info) => {
    try {
      cb(info);
    } catch (e) {
      if (!warned) console.warn(`moekit: progressCallback threw (ignored from now on): ${(e as Error).message}`);
      warned = true;
    }
  };
}

const percent = (loaded: number, total: number) => (total > 0 ? Math.min(100, (loaded / total) * 100) : 0);

/** A fetch that reports each response's bytes as they arrive (file: the path after `/resolve/<revision>/`). */
export function progressFetch(name: string, cb: ProgressCallback, base: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const path = decodeURIComponent(new URL(url).pathname);
    const file = /\/resolve\/[^/]+\/(.+)$/.exec(path)?.[1] ?? path.split("/").pop() ?? path;
    if (!res.body || (init?.method ?? "GET").toUpperCase() === "HEAD") return res;
    const total = Number(res.headers.get("content-length") ?? 0);
    let loaded = 0;
    cb({ status: "initiate", name, file, kind: "download" });
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          loaded += chunk.byteLength;
          cb({ status: "progress", name, file, kind: "download", loaded, total: Math.max(total, loaded), progress: percent(loaded, Math.max(total, loaded)) });
          ctl.enqueue(chunk);
        },
        flush() {
          cb({ status: "done", name, file, kind: "download" });
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/**
 * The same checkpoint, reporting the bytes of each tensor read per weight file (`fileOf` names the
 * file a key is stored in). `finish()` reports `done` for every file (tensors a model does not use are
 * never read).
 */
export function progressCheckpoint(ckpt: Checkpoint, fileOf: (key: string) => string, cb: ProgressCallback): { checkpoint: Checkpoint; finish(): void } {
  const totals = new Map<string, number>();
  const loaded = new Map<string, number>();
  for (const k of ckpt.keys()) {
    const f = fileOf(k);
    const info = ckpt.info(k);
    totals.set(f, (totals.get(f) ?? 0) + (info.end - info.begin));
  }
  const started = new Set<string>();
  const report = (key: string) => {
    const f = fileOf(key);
    const info = ckpt.info(key);
    if (!started.has(f)) {
      started.add(f);
      cb({ status: "initiate", name: ckpt.name, file: f, kind: "load" });
    }
    const n = (loaded.get(f) ?? 0) + (info.end - info.begin);
    loaded.set(f, n);
    const total = totals.get(f) ?? n;
    cb({ status: "progress", name: ckpt.name, file: f, kind: "load", loaded: n, total, progress: percent(n, total) });
  };
  const provider: TensorProvider = {
    info: (k) => ckpt.info(k),
    async tensor(k: string, opts?: TensorReadOptions) {
      const t = await ckpt.tensor(k, opts);
      report(k);
      return t;
    },
    async bytes(k: string, opts: RawReadOptions) {
      const raw = await ckpt.bytes(k, opts);
      report(k);
      return raw;
    },
  };
  const checkpoint = new Checkpoint(ckpt.name, ckpt.config, new Map(ckpt.keys().map((k) => [k, provider])), ckpt.generationConfig);
  return {
    checkpoint,
    finish() {
      for (const f of totals.keys()) {
        if (!started.has(f)) cb({ status: "initiate", name: ckpt.name, file: f, kind: "load" });
        cb({ status: "done", name: ckpt.name, file: f, kind: "load" });
      }
    },
  };
}

/** key → weight file of a checkpoint directory (its index's weight_map, else model.safetensors). */
export async function weightFiles(dir: string): Promise<(key: string) => string> {
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  let map: Record<string, unknown> = {};
  try {
    const index = JSON.parse(await readFile(join(dir, "model.safetensors.index.json"), "utf8")) as { weight_map?: Record<string, unknown> };
    map = index.weight_map ?? {};
  } catch {
    // a single-file checkpoint (Checkpoint.open already validated whichever exists)
  }
  return (key) => (typeof map[key] === "string" ? (map[key] as string) : "model.safetensors");
}
