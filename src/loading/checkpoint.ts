/**
 * A Hugging Face checkpoint: config.json plus model.safetensors or a sharded
 * model.safetensors.index.json. Tensors are read one at a time, on demand.
 */
import type { Tensor } from "../tensor.js";
import type { ByteSource } from "./byte-source.js";
import { SafetensorsFile, type TensorInfo } from "./safetensors.js";

export type Config = Record<string, unknown>;

/** Where a checkpoint's tensors come from: a safetensors file, or anything that can describe and produce them. */
export interface TensorProvider {
  info(name: string): TensorInfo;
  tensor(name: string): Promise<Tensor>;
}

export class Checkpoint {
  private readonly used = new Set<string>();

  constructor(
    readonly name: string,
    readonly config: Config,
    private readonly files: ReadonlyMap<string, TensorProvider>,
    readonly generationConfig: Config | null = null,
  ) {}

  /** Open a local directory (Node only). */
  static async open(dir: string): Promise<Checkpoint> {
    const { FileSource, readText, exists } = await import("./node-files.js");
    const { join } = await import("node:path");
    if (!(await exists(dir))) throw new Error(`checkpoint directory '${dir}' does not exist`);
    const configPath = join(dir, "config.json");
    if (!(await exists(configPath))) throw new Error(`checkpoint '${dir}' has no config.json`);
    const config = parseJson(await readText(configPath), configPath) as Config;
    const genPath = join(dir, "generation_config.json");
    const gen = (await exists(genPath)) ? (parseJson(await readText(genPath), genPath) as Config) : null;
    const indexPath = join(dir, "model.safetensors.index.json");
    const files = new Map<string, SafetensorsFile>();
    if (await exists(indexPath)) {
      const index = parseJson(await readText(indexPath), indexPath) as { weight_map?: Record<string, string> };
      if (!index.weight_map || typeof index.weight_map !== "object") throw new Error(`${indexPath}: no weight_map`);
      const shards = new Map<string, SafetensorsFile>();
      for (const shard of new Set(Object.values(index.weight_map))) {
        const p = join(dir, shard);
        if (!(await exists(p))) throw new Error(`${indexPath}: shard '${shard}' is missing`);
        shards.set(shard, await SafetensorsFile.open(new FileSource(p)));
      }
      for (const [key, shard] of Object.entries(index.weight_map)) {
        const f = shards.get(shard)!;
        if (!f.has(key)) throw new Error(`${indexPath}: '${key}' is mapped to '${shard}', which does not hold it`);
        files.set(key, f);
      }
    } else {
      const p = join(dir, "model.safetensors");
      if (!(await exists(p))) throw new Error(`checkpoint '${dir}' has neither model.safetensors nor model.safetensors.index.json`);
      const f = await SafetensorsFile.open(new FileSource(p));
      for (const key of f.keys()) files.set(key, f);
    }
    return new Checkpoint(dir, config, files, gen);
  }

  /** A checkpoint from sources the caller opened (browsers: Files or fetched buffers). */
  static async fromSources(name: string, config: Config, sources: ByteSource[], generationConfig: Config | null = null): Promise<Checkpoint> {
    const files = new Map<string, SafetensorsFile>();
    for (const s of sources) {
      const f = await SafetensorsFile.open(s);
      for (const key of f.keys()) files.set(key, f);
    }
    return new Checkpoint(name, config, files, generationConfig);
  }

  keys(): string[] {
    return [...this.files.keys()];
  }

  has(key: string): boolean {
    return this.files.has(key);
  }

  info(key: string): TensorInfo {
    return this.file(key).info(key);
  }

  /** Read a tensor (host memory, stored dtype) and mark its key as used. */
  async tensor(key: string): Promise<Tensor> {
    const t = await this.file(key).tensor(key);
    this.used.add(key);
    return t;
  }

  /** Keys never read so far (to report what a loader ignored). */
  unusedKeys(): string[] {
    return this.keys().filter((k) => !this.used.has(k));
  }

  private file(key: string): TensorProvider {
    const f = this.files.get(key);
    if (!f) throw new Error(`checkpoint '${this.name}' has no tensor '${key}'`);
    return f;
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
  }
}
