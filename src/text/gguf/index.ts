/** Tokenizers from GGUF metadata (llama.cpp-compatible ids). */
export { GgufTokenizer, type EncodeOptions } from "./tokenizer.js";
export { loadGgufVocab, type GgufVocab } from "./vocab.js";
export type { DecodeOptions } from "./detokenize.js";
export { preTokenizer } from "./pre-tokenizers.js";
