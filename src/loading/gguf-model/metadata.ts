/** A GGUF file's `{arch}.*` metadata read as config values: typed getters whose errors name the full key. */
import type { GgufFile } from "../gguf/reader.js";

export class GgufMetadataView {
  readonly where: string;

  constructor(
    readonly file: GgufFile,
    readonly arch: string,
  ) {
    this.where = file.source.name;
  }

  private key(k: string): string {
    return `${this.arch}.${k}`;
  }

  int(k: string): number {
    const v = this.file.integer(this.key(k), true);
    if (v < 0) throw new Error(`${this.where}: metadata '${this.key(k)}' is ${v}, expected a non-negative integer`);
    return v;
  }

  optInt(k: string): number | undefined {
    return this.file.get(this.key(k)) !== undefined ? this.int(k) : undefined;
  }

  float(k: string): number {
    return this.file.float(this.key(k), true);
  }

  optFloat(k: string): number | undefined {
    return this.file.float(this.key(k));
  }

  optString(k: string): string | undefined {
    return this.file.string(this.key(k));
  }

  hasTensor(name: string): boolean {
    return this.file.has(name);
  }

  /** `{arch}.vocab_size`, else the rows of token_embd.weight. */
  get vocabSize(): number {
    const v = this.optInt("vocab_size");
    if (v !== undefined) return v;
    if (!this.file.has("token_embd.weight")) throw new Error(`${this.where}: has neither metadata '${this.key("vocab_size")}' nor tensor 'token_embd.weight'`);
    return this.file.info("token_embd.weight").shape[0]!;
  }
}
