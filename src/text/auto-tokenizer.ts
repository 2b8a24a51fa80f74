/**
 * `AutoTokenizer.fromPretrained(source)`: a checkpoint directory or a Hugging Face repo id (cached or
 * downloaded, as for models) holding tokenizer.json; a `.gguf` file (its tokenizer.ggml.* metadata) is
 * a separate loader, dispatched here by the kind of source.
 */
import { TextTokenizer } from "./tokenizer.js";
import type { TokenizerFiles } from "./tokenizer-files.js";

export interface TokenizerSourceOptions {
  /** A repo's revision (default main). */
  revision?: string;
}

export type TokenizerSourceKind = "gguf" | "directory-or-repo";

export function tokenizerSourceKind(source: string): TokenizerSourceKind {
  return /\.gguf$/i.test(source) ? "gguf" : "directory-or-repo";
}

async function fromGguf(path: string): Promise<TextTokenizer> {
  throw new Error(`${path}: GGUF tokenizers: not yet (load the tokenizer from the checkpoint's directory or repo id, which holds tokenizer.json)`);
}

async function fromDirectoryOrRepo(source: string, opts: TokenizerSourceOptions): Promise<TextTokenizer> {
  const { resolveCheckpointDir } = await import("../loading/resolve-source.js");
  const { readTokenizerFiles } = await import("./tokenizer-files.js");
  return new TextTokenizer(await readTokenizerFiles(await resolveCheckpointDir(source, { revision: opts.revision })));
}

export const AutoTokenizer = {
  async fromPretrained(source: string, opts: TokenizerSourceOptions = {}): Promise<TextTokenizer> {
    if (typeof source !== "string" || source.length === 0) throw new TypeError("AutoTokenizer.fromPretrained: expected a directory, a repo id or a .gguf file");
    return tokenizerSourceKind(source) === "gguf" ? fromGguf(source) : fromDirectoryOrRepo(source, opts);
  },

  /** From files already in memory (a browser's fetches): tokenizer.json, tokenizer_config.json, templates. */
  fromFiles(files: TokenizerFiles): TextTokenizer {
    return new TextTokenizer(files);
  },
};
