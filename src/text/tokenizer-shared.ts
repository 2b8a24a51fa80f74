/**
 * What every MoekitTokenizer does the same way on top of its own encode / decode / vocabulary: the
 * special-token ids, the output parser for its chat template, and transformers' apply_chat_template.
 * TextTokenizer (tokenizer.json) and GgufTextTokenizer (a GGUF's metadata) both delegate here.
 */
import { CHAT_TEMPLATE_OPTION_KEYS, renderChatTemplate, selectChatTemplate, type ChatMessage } from "./chat-template.js";
import { createOutputParser } from "./output/formats.js";
import type { OutputParser, ParsedOutput } from "./output/types.js";
import type { MoekitTokenizer } from "./tokenizer-interface.js";
import type { ApplyChatTemplateOptions, TokenizerOutputParserOptions } from "./tokenizer.js";

type Base = Pick<MoekitTokenizer, "specialTokens" | "chatTemplate" | "encode" | "decode" | "tokenToId" | "specialTokenStrings">;

/** The ids of the named special tokens that are in the vocabulary. */
export function specialTokenIdsOf(t: Base): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, text] of Object.entries(t.specialTokens)) {
    const id = t.tokenToId(text);
    if (id !== undefined) out[name] = id;
  }
  return out;
}

/** An incremental parser for the format the chat template writes; special tokens that are not its markers are dropped. */
export function outputParserOf(t: Base, opts: TokenizerOutputParserOptions = {}): OutputParser {
  const templated = t.chatTemplate !== undefined || opts.chatTemplate !== undefined;
  const format = opts.format ?? (templated ? { template: selectChatTemplate(t.chatTemplate, opts.chatTemplate, opts.tools).source } : "plain");
  return createOutputParser(format, { ...opts, dropTokens: t.specialTokenStrings() });
}

/** The whole output at once: text, or ids (decoded with special tokens kept). */
export function parseOutputOf(t: Base, output: string | readonly number[], opts: TokenizerOutputParserOptions = {}): ParsedOutput {
  const parser = outputParserOf(t, opts);
  parser.push(typeof output === "string" ? output : t.decode(output));
  parser.finish();
  return parser.result;
}

/** transformers' apply_chat_template: the rendered text with `tokenize: false`, else its ids without added special tokens. */
export function applyChatTemplateOf(t: Base, messages: readonly ChatMessage[], options: ApplyChatTemplateOptions = {}): string | number[] {
  const kwargs: Record<string, unknown> = { ...t.specialTokens };
  for (const [k, v] of Object.entries(options)) if (!CHAT_TEMPLATE_OPTION_KEYS.has(k)) kwargs[k] = v;
  const text = renderChatTemplate(t.chatTemplate, messages, options, kwargs);
  return options.tokenize === false ? text : t.encode(text, { addSpecialTokens: false });
}
