/**
 * What moekit asks of a tokenizer, whichever files it came from: tokenizer.json (TextTokenizer) or a
 * GGUF's tokenizer.ggml.* metadata (GgufTextTokenizer). The CLI, chat and streaming code take this.
 */
import type { ChatMessage, ChatTemplates } from "./chat-template.js";
import type { OutputParser, ParsedOutput } from "./output/types.js";
import type { ApplyChatTemplateOptions, DecodeOptions, EncodeOptions, TokenizerOutputParserOptions } from "./tokenizer.js";

export interface MoekitTokenizer {
  /** Where the tokenizer came from (a directory, a .gguf file), for messages. */
  readonly source: string;
  /** Named special tokens as strings (bos_token, eos_token, ...), as the chat template sees them. */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** The chat template(s), if the tokenizer has any. */
  readonly chatTemplate: ChatTemplates | undefined;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** The text of every special token. */
  specialTokenStrings(): string[];
  specialTokenIds(): Record<string, number>;
  createOutputParser(opts?: TokenizerOutputParserOptions): OutputParser;
  parseOutput(output: string | readonly number[], opts?: TokenizerOutputParserOptions): ParsedOutput;
  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions): string | number[];
}
