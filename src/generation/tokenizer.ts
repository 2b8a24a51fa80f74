/**
 * Text ↔ ids through the optional @huggingface/tokenizers package (tokenizer.json + tokenizer_config.json),
 * and chat templates through the optional @huggingface/jinja. Both are loaded on demand; a missing
 * package is a clear error naming it.
 */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** The chat template of tokenizer_config.json applied to one user message (add_generation_prompt). */
  chatPrompt(userMessage: string): Promise<string>;
}

interface TokenizerModule {
  Tokenizer: new (json: unknown, config: unknown) => {
    encode(text: string, opts?: Record<string, unknown>): { ids: number[] } | number[];
    decode(ids: number[], opts?: Record<string, unknown>): string;
  };
}

interface JinjaModule {
  Template: new (source: string) => { render(ctx: Record<string, unknown>): string };
}

async function optionalImport<T>(name: string, purpose: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch {
    throw new Error(`${purpose} needs the package ${name}, which is not installed (npm install ${name})`);
  }
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return undefined;
}

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const read = async (f: string) => {
    try {
      return JSON.parse(await readFile(join(dir, f), "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${join(dir, f)}: ${(e as Error).message}`);
    }
  };
  const json = await read("tokenizer.json");
  const config = await read("tokenizer_config.json").catch(() => ({}) as Record<string, unknown>);
  const mod = await optionalImport<TokenizerModule>("@huggingface/tokenizers", "tokenizing text");
  const tok = new mod.Tokenizer(json, config);
  return {
    encode: (text) => {
      const r = tok.encode(text);
      const ids = Array.isArray(r) ? r : r.ids;
      const bad = ids.findIndex((id) => !Number.isInteger(id));
      if (bad >= 0) throw new Error(`${dir}: the tokenizer gave no id for piece ${bad} of ${JSON.stringify(text)} (no unknown token?)`);
      return ids;
    },
    decode: (ids) => tok.decode([...ids], { skip_special_tokens: true }),
    chatPrompt: async (message) => {
      const template = config.chat_template;
      if (typeof template !== "string") throw new Error(`${dir}: tokenizer_config.json has no chat_template (use --prompt without --chat)`);
      const jinja = await optionalImport<JinjaModule>("@huggingface/jinja", "chat templates");
      return new jinja.Template(template).render({
        messages: [{ role: "user", content: message }],
        add_generation_prompt: true,
        bos_token: tokenText(config.bos_token) ?? "",
        eos_token: tokenText(config.eos_token) ?? "",
      });
    },
  };
}
