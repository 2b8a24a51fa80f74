/**
 * A GGUF file's tokenizer behind moekit's tokenizer interface (MoekitTokenizer): llama.cpp's ids from
 * GgufTokenizer, the chat template from `tokenizer.chat_template` (and `tokenizer.chat_template.<name>`)
 * rendered with transformers' apply_chat_template semantics, as TextTokenizer renders tokenizer.json's.
 */
import type { GgufFile } from "../../loading/gguf/reader.js";
import type { ChatMessage, ChatTemplates } from "../chat-template.js";
import type { OutputParser, ParsedOutput } from "../output/types.js";
import type { MoekitTokenizer } from "../tokenizer-interface.js";
import type { ApplyChatTemplateOptions, DecodeOptions, EncodeOptions, TokenizerOutputParserOptions } from "../tokenizer.js";
import { applyChatTemplateOf, outputParserOf, parseOutputOf, specialTokenIdsOf } from "../tokenizer-shared.js";
import { GgufTokenizer } from "./tokenizer.js";
import { ATTR } from "./vocab.js";

const NAMED_TEMPLATE = /^tokenizer\.chat_template\.(.+)$/;

/** tokenizer.chat_template plus the named ones (tokenizer.chat_template.tool_use, ...), as TextTokenizer holds them. */
function chatTemplates(file: GgufFile, main: string | undefined): ChatTemplates | undefined {
  const named: Record<string, string> = {};
  for (const key of file.metadata.keys()) {
    const m = NAMED_TEMPLATE.exec(key);
    if (m) named[m[1]!] = file.string(key, true);
  }
  if (Object.keys(named).length === 0) return main;
  return main === undefined ? named : { default: main, ...named };
}

export class GgufTextTokenizer implements MoekitTokenizer {
  readonly source: string;
  readonly specialTokens: Readonly<Record<string, string>>;
  readonly chatTemplate: ChatTemplates | undefined;

  constructor(
    readonly gguf: GgufTokenizer,
    file: GgufFile,
  ) {
    this.source = file.source.name;
    const v = gguf.vocab;
    const named: Record<string, string> = {};
    const pad = file.integer("tokenizer.ggml.padding_token_id");
    for (const [name, id] of [["bos_token", v.bos], ["eos_token", v.eos], ["unk_token", v.unk], ["pad_token", pad ?? null]] as const) {
      if (id !== null && id >= 0 && id < v.tokens.length) named[name] = v.tokens[id]!;
    }
    this.specialTokens = Object.freeze(named);
    this.chatTemplate = chatTemplates(file, v.chatTemplate);
  }

  static fromGguf(file: GgufFile): GgufTextTokenizer {
    return new GgufTextTokenizer(GgufTokenizer.fromGguf(file), file);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new TypeError(`encode: expected a string, got ${typeof text}`);
    return this.gguf.encode(text, { addSpecial: opts.addSpecialTokens ?? true, parseSpecial: true });
  }

  /** skipSpecialTokens drops control tokens (llama.cpp renders them as nothing); otherwise their text is kept, as transformers does. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const bad = ids.findIndex((id) => !Number.isInteger(id));
    if (bad >= 0) throw new TypeError(`decode: token ${bad} is ${String(ids[bad])}, not an integer id`);
    return this.gguf.decode(ids, { unparseSpecial: !(opts.skipSpecialTokens ?? false) });
  }

  tokenToId(token: string): number | undefined {
    return this.gguf.vocab.tokenToId.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.gguf.vocab.tokens[id];
  }

  specialTokenStrings(): string[] {
    const v = this.gguf.vocab;
    return v.specialTokens.filter((id) => v.attrs[id]! & (ATTR.CONTROL | ATTR.USER_DEFINED)).map((id) => v.tokens[id]!);
  }

  specialTokenIds(): Record<string, number> {
    return specialTokenIdsOf(this);
  }

  createOutputParser(opts: TokenizerOutputParserOptions = {}): OutputParser {
    return outputParserOf(this, opts);
  }

  parseOutput(output: string | readonly number[], opts: TokenizerOutputParserOptions = {}): ParsedOutput {
    return parseOutputOf(this, output, opts);
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions): string | number[];
  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions = {}): string | number[] {
    return applyChatTemplateOf(this, messages, options);
  }
}
