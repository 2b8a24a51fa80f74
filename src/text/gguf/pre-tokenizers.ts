/**
 * Byte-level BPE pre-tokenizers by `tokenizer.ggml.pre`, as llama.cpp defines them (src/llama-vocab.cpp:
 * the name → pre type table in `llama_vocab::impl::load`, and each type's patterns in `llm_tokenizer_bpe`),
 * with the per-name flags that change tokenization or decoding: `ignoreMerges` (a word already in the
 * vocabulary is one token), `addBos`, `cleanSpaces` (decode-time space cleanup).
 *
 * The patterns are the regexes of the models' tokenizer.json files as llama.cpp adapted them (case-
 * insensitive groups spelled out, the GPT-4o letter classes rewritten with look-aheads); they must stay
 * exactly these strings, since the splitter recognises the ones llama.cpp runs as hand-written scanners
 * by their text.
 */

export interface PreTokenizer {
  /** the pre type llama.cpp maps the name to */
  type: string;
  patterns: readonly string[];
  ignoreMerges?: boolean;
  addBos?: boolean;
  /** default true for BPE */
  cleanSpaces?: boolean;
}

const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN2 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN35 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const GPT4O_LETTERS_UPPER = "((?=[\\p{L}])([^a-z]))";
const GPT4O_LETTERS_LOWER = "((?=[\\p{L}])([^A-Z]))";
const GPT4O =
  `[^\\r\\n\\p{L}\\p{N}]?${GPT4O_LETTERS_UPPER}*${GPT4O_LETTERS_LOWER}+${CONTRACTIONS}?` +
  `|[^\\r\\n\\p{L}\\p{N}]?${GPT4O_LETTERS_UPPER}+${GPT4O_LETTERS_LOWER}*${CONTRACTIONS}?` +
  "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const DEEPSEEK_LLM_LETTERS =
  "A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\u{10400}-\u{1044f}\u{104b0}-\u{104d3}\u{104d8}-\u{104fb}\u{10c80}-\u{10cb2}\u{10cc0}-\u{10cf2}\u{118a0}-\u{118df}\u{1e900}-\u{1e943}";
const STARCODER = ["\\p{N}", GPT2];
const PORO = [" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"];

const TYPES: Record<string, PreTokenizer> = {
  default: { type: "default", patterns: ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"] },
  llama3: { type: "llama3", patterns: [LLAMA3], ignoreMerges: true, addBos: true },
  dbrx: { type: "dbrx", patterns: [LLAMA3] },
  "deepseek-llm": {
    type: "deepseek-llm",
    patterns: ["[\r\n]", `\\s?[${DEEPSEEK_LLM_LETTERS}]+`, "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", "\\s+$", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", "\\p{N}+"],
    cleanSpaces: false,
  },
  "deepseek-v3": {
    type: "deepseek-v3",
    patterns: [
      "\\p{N}{1,3}",
      "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ],
    cleanSpaces: false,
  },
  "deepseek-coder": { type: "deepseek-coder", patterns: ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", "\\p{N}"], cleanSpaces: false },
  falcon: { type: "falcon", patterns: ["[\\p{P}\\$\\+<=>\\^~\\|`]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", "[0-9][0-9][0-9]"] },
  starcoder: { type: "starcoder", patterns: STARCODER },
  refact: { type: "refact", patterns: STARCODER },
  "command-r": { type: "command-r", patterns: STARCODER, cleanSpaces: false },
  smollm: { type: "smollm", patterns: STARCODER, cleanSpaces: false },
  codeshell: { type: "codeshell", patterns: STARCODER },
  exaone: { type: "exaone", patterns: STARCODER },
  minerva: { type: "minerva", patterns: STARCODER },
  gpt2: { type: "gpt2", patterns: [GPT2] },
  mpt: { type: "mpt", patterns: [GPT2] },
  olmo: { type: "olmo", patterns: [GPT2] },
  jais: { type: "jais", patterns: [GPT2] },
  trillion: { type: "trillion", patterns: [GPT2], cleanSpaces: false },
  qwen2: { type: "qwen2", patterns: [QWEN2], cleanSpaces: false },
  stablelm2: { type: "stablelm2", patterns: [QWEN2] },
  hunyuan: { type: "hunyuan", patterns: [QWEN2], cleanSpaces: false },
  qwen35: { type: "qwen35", patterns: [QWEN35], cleanSpaces: false },
  poro: { type: "poro", patterns: PORO, cleanSpaces: false },
  bloom: { type: "bloom", patterns: PORO },
  chatglm4: { type: "chatglm4", patterns: [LLAMA3] },
  viking: { type: "viking", patterns: [...PORO, "\\p{N}"], cleanSpaces: false },
  "gpt-4o": { type: "gpt-4o", patterns: [GPT4O], cleanSpaces: false },
  "seed-coder": {
    type: "seed-coder",
    patterns: [`${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`],
    cleanSpaces: false,
  },
  tekken: {
    type: "tekken",
    patterns: [
      `[^\\r\\n\\p{L}\\p{N}]?${GPT4O_LETTERS_UPPER}*${GPT4O_LETTERS_LOWER}+|[^\\r\\n\\p{L}\\p{N}]?${GPT4O_LETTERS_UPPER}+${GPT4O_LETTERS_LOWER}*` +
        "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ],
    ignoreMerges: true,
    addBos: true,
    cleanSpaces: false,
  },
  laguna: { type: "laguna", patterns: ["[^\\n]+|[\\n]+", QWEN2], cleanSpaces: false },
  bailingmoe: {
    type: "bailingmoe",
    patterns: ["'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"],
    cleanSpaces: false,
  },
};

/** `tokenizer.ggml.pre` names → pre type (names llama.cpp maps to a type moekit has). */
const NAMES: Record<string, [string, Partial<PreTokenizer>?]> = {
  default: ["default"],
  llama3: ["llama3"],
  "llama-v3": ["llama3"],
  "llama-bpe": ["llama3"],
  falcon3: ["llama3"],
  "falcon-h1": ["llama3"],
  pixtral: ["llama3"],
  "midm-2.0": ["llama3"],
  lfm2: ["llama3"],
  "deepseek-llm": ["deepseek-llm"],
  "deepseek-coder": ["deepseek-coder"],
  "deepseek-v3": ["deepseek-v3"],
  "hunyuan-dense": ["deepseek-v3"],
  "joyai-llm": ["deepseek-v3"],
  falcon: ["falcon"],
  mpt: ["mpt"],
  starcoder: ["starcoder"],
  "gpt-2": ["gpt2"],
  "phi-2": ["gpt2"],
  "jina-es": ["gpt2"],
  "jina-de": ["gpt2"],
  gigachat: ["gpt2"],
  "a.x-4.0": ["gpt2"],
  mellum: ["gpt2"],
  exaone4: ["gpt2"],
  refact: ["refact"],
  "command-r": ["command-r"],
  qwen2: ["qwen2"],
  "deepseek-r1-qwen": ["qwen2"],
  kormo: ["qwen2"],
  f2llmv2: ["qwen2"],
  megrez: ["qwen2", { cleanSpaces: true }],
  qwen35: ["qwen35"],
  stablelm2: ["stablelm2"],
  olmo: ["olmo"],
  dbrx: ["dbrx"],
  "smaug-bpe": ["dbrx"],
  "poro-chat": ["poro"],
  glm4: ["chatglm4"],
  "chatglm-bpe": ["chatglm4"],
  viking: ["viking"],
  jais: ["jais"],
  smollm: ["smollm"],
  codeshell: ["codeshell"],
  bloom: ["bloom"],
  "gpt3-finnish": ["bloom"],
  exaone: ["exaone"],
  "minerva-7b": ["minerva"],
  "gpt-4o": ["gpt-4o"],
  llama4: ["gpt-4o"],
  kanana2: ["gpt-4o"],
  talkie: ["gpt-4o"],
  "minimax-m2": ["gpt-4o"],
  trillion: ["trillion"],
  bailingmoe: ["bailingmoe"],
  bailingmoe2: ["bailingmoe"],
  "llada-moe": ["bailingmoe"],
  "seed-coder": ["seed-coder"],
  hunyuan: ["hunyuan"],
  "grok-2": ["hunyuan"],
  tekken: ["tekken"],
  laguna: ["laguna"],
  "solar-open": ["hunyuan"],
  mellum2: ["starcoder"],
};

/** The pre-tokenizer for a `tokenizer.ggml.pre` value (absent: llama.cpp's "default", as it does with a warning). */
export function preTokenizer(name: string | undefined): PreTokenizer {
  const entry = NAMES[name ?? "default"];
  if (!entry) {
    throw new Error(`tokenizer.ggml.pre '${name}' is not a pre-tokenizer moekit implements (known: ${Object.keys(NAMES).sort().join(", ")})`);
  }
  const [type, over] = entry;
  return { ...TYPES[type]!, ...over };
}
