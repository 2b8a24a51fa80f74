export { AutoTokenizer, tokenizerSourceKind, type TokenizerSourceKind, type TokenizerSourceOptions } from "./auto-tokenizer.js";
export { TextTokenizer, type ApplyChatTemplateOptions, type DecodeOptions, type EncodeOptions } from "./tokenizer.js";
export type { TokenizerFiles } from "./tokenizer-files.js";
export { renderChatTemplate, selectChatTemplate, type ChatContentPart, type ChatMessage, type ChatTemplateOptions, type ChatTemplates, type ChatToolCall, type ToolDefinition } from "./chat-template.js";
export { ChatTemplateError } from "./jinja.js";
export { SPECIAL_TOKEN_NAMES } from "./special-tokens.js";
export { IncrementalDecoder, TextStreamer, type Decoder, type IncrementalDecoderOptions } from "./streamer.js";
