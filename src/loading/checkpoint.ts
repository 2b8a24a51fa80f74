/**
 * A Hugging Face checkpoint: config.json plus model.safetensors or a sharded
 * model.safetensors.index.json. Tensors are read one at a time, on demand.
 */
import type { Tensor } from "../tensor.js";
import type { ByteSource } from "./byte-source.js";
import { briefJson, briefName } from "./brief.js";
import { parseJsonObject } from "./json-scan.js";
import { checkExpected } from "./safetensors-dtypes.js";
import { SafetensorsFile, type RawReadOptions, type RawTensor, type TensorInfo, type TensorReadOptions } from "./safetensors.js";

export type Config = Record<string, unknown>;

/** config.json and generation_config.json are kilobytes; an index lists ~100 bytes per tensor. */
const MAX_CONFIG_BYTES = 16 * 2 ** 20;
const MAX_INDEX_BYTES = 64 * 2 ** 20;
/** Real configs nest a few levels (text_config → rope_parameters → ...); deep nesting makes JSON.parse take minutes. */
const MAX_JSON_DEPTH = 64;

/** Where a checkpoint's tensors come from: a safetensors file, or anything that can describe and produce them. */
export interface TensorProvider {
  info(name: string): TensorInfo;
  tensor(name: string, opts?: TensorReadOptions): Promise<Tensor>;
  /** Stored bytes of raw kinds (quantized blocks, scales); providers without raw tensors leave it out. */
  bytes?(name: string, opts: RawReadOptions): Promise<RawTensor>;
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
    const { FileSource, readBytes, exists } = await import("./node-files.js");
    const readObject = async (path: string, maxBytes: number) => parseJsonObject(path, await readBytes(path, maxBytes), MAX_JSON_DEPTH);
    const { join } = await import("node:path");
    if (!(await exists(dir))) throw new Error(`checkpoint directory '${dir}' does not exist`);
    const configPath = join(dir, "config.json");
    if (!(await exists(configPath))) throw new Error(`checkpoint '${dir}' has no config.json`);
    const config = await readObject(configPath, MAX_CONFIG_BYTES);
    const genPath = join(dir, "generation_config.json");
    const gen = (await exists(genPath)) ? await readObject(genPath, MAX_CONFIG_BYTES) : null;
    const indexPath = join(dir, "model.safetensors.index.json");
    const files = new Map<string, SafetensorsFile>();
    if (await exists(indexPath)) {
      const weightMap = parseWeightMap(await readObject(indexPath, MAX_INDEX_BYTES), indexPath);
      const shards = new Map<string, SafetensorsFile>();
      for (const shard of new Set(Object.values(weightMap))) {
        const p = join(dir, shard);
        if (!(await exists(p))) throw new Error(`${indexPath}: shard ${briefName(shard)} is missing`);
        shards.set(shard, await SafetensorsFile.open(new FileSource(p)));
      }
      for (const [key, shard] of Object.entries(weightMap)) {
        const f = shards.get(shard)!;
        if (!f.has(key)) throw new Error(`${indexPath}: ${briefName(key)} is mapped to '${shard}', which does not hold it`);
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
    if (typeof config !== "object" || config === null || Array.isArray(config)) throw new Error(`checkpoint '${name}': config must be a JSON object`);
    const files = new Map<string, SafetensorsFile>();
    for (const s of sources) {
      const f = await SafetensorsFile.open(s);
      for (const key of f.keys()) {
        const other = files.get(key);
        if (other) throw new Error(`checkpoint '${name}': tensor ${briefName(key)} is in both ${other.source.name} and ${s.name}`);
        files.set(key, f);
      }
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

  /** The keys of `keys` this checkpoint lacks (cheap: nothing is read or allocated). */
  missing(keys: Iterable<string>): string[] {
    const out: string[] = [];
    for (const k of keys) if (!this.files.has(k)) out.push(k);
    return out;
  }

  /**
   * Read a tensor (host memory, stored dtype) and mark its key as used. A float weight is expected
   * unless `opts.expect` says "int"; a tensor stored in another dtype is an error naming it.
   */
  async tensor(key: string, opts: TensorReadOptions = {}): Promise<Tensor> {
    const expect = opts.expect ?? "float";
    const provider = this.file(key);
    checkExpected(`checkpoint '${this.name}'`, key, provider.info(key).stored, expect);
    const t = await provider.tensor(key, { expect });
    if ((t.dtype === "int32") !== (expect === "int")) {
      throw new Error(`checkpoint '${this.name}': reading ${briefName(key)} as ${expect} produced a ${t.dtype} tensor`);
    }
    this.used.add(key);
    return t;
  }

  /** A tensor's stored bytes (quantized blocks, scales, fp8), checked against what the loader expects. */
  async bytes(key: string, opts: RawReadOptions): Promise<RawTensor> {
    const provider = this.file(key);
    checkExpected(`checkpoint '${this.name}'`, key, provider.info(key).stored, opts.expect);
    if (!provider.bytes) throw new Error(`checkpoint '${this.name}': the source of ${briefName(key)} cannot read raw bytes`);
    const raw = await provider.bytes(key, opts);
    this.used.add(key);
    return raw;
  }

  /** Keys never read so far (to report what a loader ignored). */
  unusedKeys(): string[] {
    return this.keys().filter((k) => !this.used.has(k));
  }

  private file(key: string): TensorProvider {
    const f = this.files.get(key);
    if (!f) throw new Error(`checkpoint '${this.name}' has no tensor ${briefName(key)}`);
    return f;
  }
}

/** weight_map: tensor name → shard file name inside the checkpoint directory (no absolute paths, no '..'). */
function parseWeightMap(index: Config, where: string): Record<string, string> {
  const map = index.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) throw new Error(`${where}: no weight_map object`);
  for (const [key, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== "string" || shard === "") throw new Error(`${where}: ${briefName(key)} maps to ${briefJson(shard)}, not a file name`);
    if (/^([/\\]|[A-Za-z]:)/.test(shard) || shard.split(/[/\\]/).includes("..")) {
      throw new Error(`${where}: shard ${briefName(shard)} of ${briefName(key)} is not a file inside the checkpoint directory`);
    }
  }
  return map as Record<string, string>;
}
