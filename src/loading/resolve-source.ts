/**
 * Where a checkpoint lives: a local directory, a repo id already in the Hugging Face cache
 * ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub), or a download through the optional
 * @huggingface/hub package. Offline with no local copy is an immediate, clear error.
 */
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

async function isDir(path: string): Promise<boolean> {
  const { stat } = await import("node:fs/promises");
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function hubCacheDir(): Promise<string> {
  const { join } = await import("node:path");
  const { homedir } = await import("node:os");
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  if (process.env.HF_HOME) return join(process.env.HF_HOME, "hub");
  return join(homedir(), ".cache", "huggingface", "hub");
}

/** The cached snapshot of `repo` at `revision` (default main), if complete enough to hold a config. */
async function cachedSnapshot(repo: string, revision: string): Promise<string | undefined> {
  const { join } = await import("node:path");
  const { readFile, readdir } = await import("node:fs/promises");
  const root = join(await hubCacheDir(), `models--${repo.replace("/", "--")}`);
  if (!(await isDir(root))) return undefined;
  let commit = revision;
  try {
    commit = (await readFile(join(root, "refs", revision), "utf8")).trim();
  } catch {
    // a revision given as a commit hash, or no refs: fall back to the only snapshot if there is one
    const snaps = await readdir(join(root, "snapshots")).catch(() => [] as string[]);
    if (!snaps.includes(commit) && snaps.length === 1) commit = snaps[0]!;
  }
  const dir = join(root, "snapshots", commit);
  return (await isDir(dir)) ? dir : undefined;
}

export interface ResolveOptions {
  revision?: string;
  /** Give up on a download after this long (default 10 minutes). */
  downloadTimeoutMs?: number;
  /** The fetch a download goes through (a progress-reporting wrapper; default: the global fetch). */
  fetch?: typeof fetch;
}

export async function resolveCheckpointDir(source: string, opts: ResolveOptions = {}): Promise<string> {
  if (typeof source !== "string" || source.length === 0) throw new Error("fromPretrained: expected a local directory or a Hugging Face repo id");
  if (await isDir(source)) return source;
  if (!REPO_ID.test(source)) throw new Error(`fromPretrained: '${source}' is neither a local directory, a .gguf file nor a Hugging Face repo id (owner/name)`);
  const revision = opts.revision ?? "main";
  const cached = await cachedSnapshot(source, revision);
  if (cached) return cached;
  const hubName = "@huggingface/hub";
  let hub: { snapshotDownload?: (o: Record<string, unknown>) => Promise<string> };
  try {
    hub = (await import(hubName)) as typeof hub;
  } catch {
    throw new Error(
      `fromPretrained: '${source}' is not a local directory and is not in the Hugging Face cache (${await hubCacheDir()}); ` +
        `downloading it needs the optional package @huggingface/hub, which is not installed. Download the repo and pass its directory.`,
    );
  }
  if (typeof hub.snapshotDownload !== "function") throw new Error("fromPretrained: the installed @huggingface/hub has no snapshotDownload()");
  const timeout = opts.downloadTimeoutMs ?? 600_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      hub.snapshotDownload({ repo: source, revision, cacheDir: await hubCacheDir(), ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`fromPretrained: downloading '${source}' did not finish within ${timeout / 1000} s`)), timeout);
      }),
    ]);
  } catch (e) {
    throw new Error(`fromPretrained: could not download '${source}' (offline, or no access?): ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
