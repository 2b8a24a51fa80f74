/**
 * The files a tokenizer is made of, read from a checkpoint directory the way transformers 5 reads them:
 * tokenizer.json (the pipeline), tokenizer_config.json (special tokens, options, chat_template),
 * special_tokens_map.json (legacy: only when the config has no added_tokens_decoder), and the chat
 * templates of chat_template.jinja and additional_chat_templates/*.jinja, which replace any
 * chat_template of the config. Node only: loaded lazily.
 */
import type { ChatTemplates } from "./chat-template.js";

export type JsonObject = Record<string, unknown>;

/** What a TextTokenizer is built from; in a browser, fill it from fetched files. */
export interface TokenizerFiles {
  tokenizerJson: JsonObject;
  tokenizerConfig?: JsonObject;
  /** special_tokens_map.json, if any. */
  specialTokensMap?: JsonObject;
  /** Templates from .jinja files; when given, they replace the config's chat_template. */
  chatTemplates?: ChatTemplates;
  /** Names the source in error messages. */
  source?: string;
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export async function readTokenizerFiles(dir: string): Promise<TokenizerFiles> {
  const { readFile, readdir } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const text = async (file: string): Promise<string | undefined> => {
    try {
      return await readFile(join(dir, file), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`${join(dir, file)}: ${(e as Error).message}`);
    }
  };
  const json = async (file: string): Promise<JsonObject | undefined> => {
    const t = await text(file);
    if (t === undefined) return undefined;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new Error(`${join(dir, file)} is not valid JSON: ${(e as Error).message}`);
    }
    if (!isObject(v)) throw new Error(`${join(dir, file)} must hold a JSON object`);
    return v;
  };
  const tokenizerJson = await json("tokenizer.json");
  if (!tokenizerJson) throw new Error(`${dir} has no tokenizer.json (the tokenizer of this checkpoint is needed for text; --ids takes token ids instead)`);
  const templates: Record<string, string> = {};
  const main = await text("chat_template.jinja");
  if (main !== undefined) templates.default = main;
  const extra = await readdir(join(dir, "additional_chat_templates")).catch(() => [] as string[]);
  for (const f of extra.filter((n) => n.endsWith(".jinja")).sort()) templates[f.slice(0, -".jinja".length)] = (await text(join("additional_chat_templates", f)))!;
  const names = Object.keys(templates);
  return {
    tokenizerJson,
    tokenizerConfig: await json("tokenizer_config.json"),
    specialTokensMap: await json("special_tokens_map.json"),
    chatTemplates: names.length === 0 ? undefined : names.length === 1 && names[0] === "default" ? templates.default : templates,
    source: dir,
  };
}
