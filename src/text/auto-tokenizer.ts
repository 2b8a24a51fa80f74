/**
 * `AutoTokenizer.fromPretrained(source)`: a checkpoint directory or a Hugging Face repo id (cached or
 * downloaded, as for models) holding tokenizer.json (TextTokenizer), or a `.gguf` file, whose
 * tokenizer.ggml.* metadata and tokenizer.chat_template give llama.cpp's tokenizer (GgufTextTokenizer).
 * Both implement MoekitTokenizer.
 */
import type { GgufTextTokenizer } from "./gguf/text-tokenizer.js";
import type { MoekitTokenizer } from "./tokenizer-interface.js";
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

async function fromGguf(path: string): Promise<GgufTextTokenizer> {
  const { stat } = await import("node:fs/promises");
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new Error(`GGUF file '${path}' does not exist`);
  if (!st.isFile()) throw new Error(`'${path}' is not a regular file`);
  const { FileSource } = await import("../loading/node-files.js");
  const { GgufFile } = await import("../loading/gguf/reader.js");
  const { GgufTextTokenizer } = await import("./gguf/text-tokenizer.js");
  return GgufTextTokenizer.fromGguf(await GgufFile.open(new FileSource(path)));
}

async function fromDirectoryOrRepo(source: string, opts: TokenizerSourceOptions): Promise<TextTokenizer> {
  const { resolveCheckpointDir } = await import("../loading/resolve-source.js");
  const { readTokenizerFiles } = await import("./tokenizer-files.js");
  return new TextTokenizer(await readTokenizerFiles(await resolveCheckpointDir(source, { revision: opts.revision })));
}

export const AutoTokenizer = {
  /** A `.gguf` path gives a GgufTextTokenizer, anything else a TextTokenizer (both MoekitTokenizer). */
  async fromPretrained(source: string, opts: TokenizerSourceOptions = {}): Promise<MoekitTokenizer> {
    if (typeof source !== "string" || source.length === 0) throw new TypeError("AutoTokenizer.fromPretrained: expected a directory, a repo id or a .gguf file");
    return tokenizerSourceKind(source) === "gguf" ? fromGguf(source) : fromDirectoryOrRepo(source, opts);
  },

  /** From files already in memory (a browser's fetches): tokenizer.json, tokenizer_config.json, templates. */
  fromFiles(files: TokenizerFiles): TextTokenizer {
    return new TextTokenizer(files);
  },
};
