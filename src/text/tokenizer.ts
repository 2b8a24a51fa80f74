/**
 * Text ↔ token ids through @huggingface/tokenizers (tokenizer.json), and chat templates with
 * transformers' apply_chat_template semantics: the rendered text is tokenized WITHOUT adding special
 * tokens again, since the template already wrote them (a second BOS otherwise).
 */
import { Tokenizer } from "@huggingface/tokenizers";
import type { ChatMessage, ChatTemplateOptions, ChatTemplates } from "./chat-template.js";
import type { OutputFormatName } from "./output/formats.js";
import type { OutputParser, OutputParserOptions, ParsedOutput } from "./output/types.js";
import { configChatTemplates, namedSpecialTokens } from "./special-tokens.js";
import type { TokenizerFiles } from "./tokenizer-files.js";
import type { MoekitTokenizer } from "./tokenizer-interface.js";
import { applyChatTemplateOf, outputParserOf, parseOutputOf, specialTokenIdsOf } from "./tokenizer-shared.js";

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (BOS, ...) as its post-processor says (default true, as in transformers). */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (<|im_end|>, </s>, ...) from the text (default false, as in transformers). */
  skipSpecialTokens?: boolean;
}

export interface TokenizerOutputParserOptions extends Omit<OutputParserOptions, "dropTokens"> {
  /** The output format; default: the one the chat template (as chatTemplate / tools pick it) writes. */
  format?: OutputFormatName;
  /** A template name or source, as for applyChatTemplate. */
  chatTemplate?: string;
}

/** applyChatTemplate's options; any key not listed in ChatTemplateOptions goes to the template (enable_thinking, reasoning_effort, ...). */
export type ApplyChatTemplateOptions = ChatTemplateOptions & { tokenize?: boolean; [templateKwarg: string]: unknown };

export class TextTokenizer implements MoekitTokenizer {
  /** Named special tokens as strings (bos_token, eos_token, ...), as the chat template sees them. */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** The chat template, or the named templates ("default", "tool_use", ...), if the tokenizer has any. */
  readonly chatTemplate: ChatTemplates | undefined;
  /** Where the tokenizer came from (a directory), for messages. */
  readonly source: string;
  private readonly tok: Tokenizer;

  constructor(files: TokenizerFiles) {
    this.source = files.source ?? "tokenizer";
    const config = files.tokenizerConfig ?? {};
    try {
      this.tok = new Tokenizer(files.tokenizerJson, config);
    } catch (e) {
      throw new Error(`${this.source}: tokenizer.json could not be loaded: ${(e as Error).message}`);
    }
    this.specialTokens = Object.freeze(namedSpecialTokens(config, files.specialTokensMap));
    this.chatTemplate = files.chatTemplates ?? configChatTemplates(config, `${this.source}/tokenizer_config.json`);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TypeError(`encode: expected a string, got ${typeof text}`);
    const ids = this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    const bad = ids.findIndex((id: unknown) => !Number.isInteger(id));
    if (bad >= 0) throw new Error(`${this.source}: the tokenizer gave no id for piece ${bad} of ${JSON.stringify(text)} (no unknown token?)`);
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    const bad = ids.findIndex((id) => !Number.isInteger(id));
    if (bad >= 0) throw new TypeError(`decode: token ${bad} is ${String(ids[bad])}, not an integer id`);
    return this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** The text of every special added token (<|im_end|>, </s>, <|channel|>, ...). */
  specialTokenStrings(): string[] {
    return [...this.tok.get_added_tokens_decoder().values()].filter((t) => t.special).map((t) => t.content);
  }

  /**
   * An incremental parser of the model's output into content, reasoning and tool calls, for the format
   * the chat template writes; feed it text decoded with `skipSpecialTokens: false`. Special tokens that
   * are not the format's markers (<|im_end|>, ...) are dropped.
   */
  createOutputParser(opts: TokenizerOutputParserOptions = {}): OutputParser {
    return outputParserOf(this, opts);
  }

  /** The whole output at once: text, or ids (decoded with special tokens kept). */
  parseOutput(output: string | readonly number[], opts: TokenizerOutputParserOptions = {}): ParsedOutput {
    return parseOutputOf(this, output, opts);
  }

  /** The ids of the named special tokens that are in the vocabulary. */
  specialTokenIds(): Record<string, number> {
    return specialTokenIdsOf(this);
  }

  /**
   * transformers' apply_chat_template: renders `messages` with the tokenizer's template (or the one
   * `chatTemplate` names or holds), the special tokens and the extra keys of `options` as template
   * variables; returns the text with `tokenize: false`, else its ids (default, as in transformers),
   * tokenized without adding special tokens.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions): string | number[];
  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions = {}): string | number[] {
    return applyChatTemplateOf(this, messages, options);
  }
}
