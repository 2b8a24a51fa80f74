/**
 * Checkpoints in a browser: a folder the user picked (File objects, read lazily by slices), a GGUF
 * file the user picked, or a URL — a checkpoint folder or a `.gguf` file — fetched with HTTP Range
 * requests when the server supports them, else downloaded whole. A GGUF is read by ranges too: its
 * header first, then each tensor when the model asks for it. Either way the result is a moekit
 * Checkpoint over ByteSources.
 */
import { BufferSource, Checkpoint, openGgufCheckpoint, type ByteSource, type Config } from "../../../src/index.js";

/** A picked File, read by slices. */
export class FileByteSource implements ByteSource {
  constructor(private readonly file: File) {}
  get name(): string {
    return this.file.name;
  }
  async size(): Promise<number> {
    return this.file.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.file.size) throw new Error(`${this.name}: read of ${length} bytes at ${offset} runs past the end`);
    return new Uint8Array(await this.file.slice(offset, offset + length).arrayBuffer());
  }
}

/** A file behind a URL: Range requests, or one whole download when the server ignores Range. */
export class UrlByteSource implements ByteSource {
  private whole?: Promise<BufferSource>;
  private length?: number;
  constructor(readonly name: string) {}

  async size(): Promise<number> {
    if (this.length !== undefined) return this.length;
    const head = await fetch(this.name, { method: "HEAD" });
    const len = Number(head.headers.get("content-length"));
    if (head.ok && Number.isFinite(len) && len > 0 && head.headers.get("accept-ranges") === "bytes") return (this.length = len);
    return (this.length = await (await this.download()).size());
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.whole) return (await this.whole).read(offset, length);
    if (length === 0) return new Uint8Array(0);
    const res = await fetch(this.name, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    if (res.status === 206) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.length !== length) throw new Error(`${this.name}: asked for ${length} bytes at ${offset}, got ${bytes.length}`);
      return bytes;
    }
    if (!res.ok) throw new Error(`${this.name}: HTTP ${res.status}`);
    await res.body?.cancel();
    return (await this.download()).read(offset, length);
  }

  private download(): Promise<BufferSource> {
    this.whole ??= fetch(this.name).then(async (r) => {
      if (!r.ok) throw new Error(`${this.name}: HTTP ${r.status}`);
      return new BufferSource(this.name, new Uint8Array(await r.arrayBuffer()));
    });
    return this.whole;
  }
}

function parse(text: string, what: string): Config {
  try {
    return JSON.parse(text) as Config;
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/** Safetensors files of a checkpoint: the shards named by model.safetensors.index.json, or model.safetensors. */
function shardNames(index: Config | null, have: (name: string) => boolean, where: string): string[] {
  if (index) {
    const map = index.weight_map as Record<string, string> | undefined;
    if (!map || typeof map !== "object") throw new Error(`${where}: model.safetensors.index.json has no weight_map`);
    return [...new Set(Object.values(map))];
  }
  if (have("model.safetensors")) return ["model.safetensors"];
  throw new Error(`${where}: neither model.safetensors nor model.safetensors.index.json`);
}

/** A checkpoint from the files of a picked folder (input type=file webkitdirectory). */
export async function checkpointFromFiles(list: FileList | File[]): Promise<Checkpoint> {
  const files = new Map<string, File>();
  let folder = "folder";
  for (const f of Array.from(list)) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const parts = rel.split("/");
    if (parts.length > 2) continue; // only the top level of the chosen folder
    if (parts.length === 2) folder = parts[0]!;
    files.set(parts[parts.length - 1]!, f);
  }
  const text = async (name: string) => files.get(name)?.text();
  const configText = await text("config.json");
  if (configText === undefined) throw new Error(`${folder}: no config.json in the chosen folder`);
  const config = parse(configText, `${folder}/config.json`);
  const genText = await text("generation_config.json");
  const indexText = await text("model.safetensors.index.json");
  const index = indexText === undefined ? null : parse(indexText, `${folder}/model.safetensors.index.json`);
  const shards = shardNames(index, (n) => files.has(n), folder);
  const sources = shards.map((n) => {
    const f = files.get(n);
    if (!f) throw new Error(`${folder}: shard '${n}' is missing`);
    return new FileByteSource(f);
  });
  return Checkpoint.fromSources(folder, config, sources, genText === undefined ? null : parse(genText, "generation_config.json"));
}

/** A GGUF file the user picked, read by slices. */
export function checkpointFromGgufFile(file: File): Promise<Checkpoint> {
  return openGgufCheckpoint(new FileByteSource(file));
}

const isGgufUrl = (url: string) => /\.gguf$/i.test(new URL(url, location.href).pathname);

/**
 * A checkpoint behind a URL: a `.gguf` file, or a base URL holding config.json, generation_config.json
 * and model.safetensors[.index.json].
 */
export async function checkpointFromUrl(base: string): Promise<Checkpoint> {
  if (isGgufUrl(base)) return openGgufCheckpoint(new UrlByteSource(new URL(base, location.href).href));
  const root = new URL(base.endsWith("/") ? base : `${base}/`, location.href).href;
  const get = async (name: string, optional: boolean): Promise<string | undefined> => {
    const r = await fetch(root + name);
    if (r.ok) return r.text();
    if (optional && r.status === 404) return undefined;
    throw new Error(`${root}${name}: HTTP ${r.status}`);
  };
  const config = parse((await get("config.json", false))!, `${root}config.json`);
  const genText = await get("generation_config.json", true);
  const indexText = await get("model.safetensors.index.json", true);
  const index = indexText === undefined ? null : parse(indexText, `${root}model.safetensors.index.json`);
  const shards = shardNames(index, () => true, root);
  return Checkpoint.fromSources(root, config, shards.map((n) => new UrlByteSource(root + n)), genText === undefined ? null : parse(genText, "generation_config.json"));
}
