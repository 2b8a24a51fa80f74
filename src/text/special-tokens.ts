/**
 * The named special tokens (bos_token, eos_token, ...) a tokenizer gives its chat template, resolved
 * as transformers 5 resolves `special_tokens_map`, and the config's chat_template(s).
 */
import type { ChatTemplates } from "./chat-template.js";
import type { JsonObject } from "./tokenizer-files.js";

export const SPECIAL_TOKEN_NAMES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

/** A special token is written as a string or as an AddedToken object `{ content, ... }`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return undefined;
}

/**
 * The named special tokens: those of tokenizer_config.json, overlaid by special_tokens_map.json when
 * the config has no added_tokens_decoder (the legacy layout), plus model-specific names given as an
 * `extra_special_tokens` object (image_token, ...). Unset tokens are absent, not empty.
 */
export function namedSpecialTokens(config: JsonObject = {}, legacyMap?: JsonObject): Record<string, string> {
  const merged: JsonObject = { ...config };
  if (legacyMap && !("added_tokens_decoder" in config)) Object.assign(merged, legacyMap);
  const names: string[] = [...SPECIAL_TOKEN_NAMES];
  const extra = merged.extra_special_tokens;
  if (extra && typeof extra === "object" && !Array.isArray(extra)) {
    for (const [k, v] of Object.entries(extra)) {
      merged[k] = v;
      names.push(k);
    }
  }
  const out: Record<string, string> = {};
  for (const name of names) {
    const t = tokenText(merged[name]);
    if (t !== undefined) out[name] = t;
  }
  return out;
}

/** tokenizer_config.json's chat_template: one string, or a list of `{ name, template }`. */
export function configChatTemplates(config: JsonObject = {}, source = "tokenizer_config.json"): ChatTemplates | undefined {
  const t = config.chat_template;
  if (t === undefined || t === null) return undefined;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const out: Record<string, string> = {};
    for (const [i, entry] of t.entries()) {
      const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
      if (typeof name !== "string" || typeof template !== "string") throw new Error(`${source}: chat_template[${i}] must be { "name": string, "template": string }`);
      out[name] = template;
    }
    return out;
  }
  throw new Error(`${source}: chat_template must be a string or a list of { name, template }`);
}
