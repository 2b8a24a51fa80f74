/**
 * A Hugging Face byte-level BPE tokenizer (tokenizer.json, tokenizer_config.json, chat templates) as
 * GGUF `tokenizer.ggml.*` metadata, laid out as convert_hf_to_gguf.py's gpt2 vocabulary: tokens in id
 * order (ids the tokenizer leaves empty below vocab_size become unused `[PAD<i>]` tokens), special
 * added tokens as control tokens and other added tokens as user-defined, the merges, bos / eos / unk /
 * pad ids, add_bos_token and the chat templates.
 *
 * llama.cpp names the pre-tokenizer (`tokenizer.ggml.pre`) by hashing the tokenization of a probe text
 * in its converter. Here each of llama.cpp's pre-tokenizers is tried instead, and the first whose
 * tokenization of a probe text equals the Hugging Face tokenizer's is written (among equals, the one
 * whose space clean-up on decode matches `clean_up_tokenization_spaces`). The file then tokenizes as the
 * checkpoint does, or the conversion fails saying so.
 */
import type { Config } from "../checkpoint.js";
import { BufferSource } from "../byte-source.js";
import { GgufFile } from "../gguf/reader.js";
import type { GgufMetadata, GgufValue } from "../gguf/values.js";
import { encodeGguf } from "../gguf/writer.js";
import { preTokenizer } from "../../text/gguf/pre-tokenizers.js";
import { GgufTokenizer } from "../../text/gguf/tokenizer.js";
import { loadGgufVocab } from "../../text/gguf/vocab.js";
import type { ChatTemplates } from "../../text/chat-template.js";
import type { TextTokenizer } from "../../text/tokenizer.js";
import type { JsonObject } from "../../text/tokenizer-files.js";

/** llama_token_type */
const TOKEN_TYPE = { normal: 1, control: 3, userDefined: 4, unused: 5 } as const;

/** One `tokenizer.ggml.pre` name per distinct behaviour llama.cpp has, the common ones first. */
const PRE_CANDIDATES = [
  "qwen2", "llama-bpe", "gpt-4o", "deepseek-v3", "qwen35", "gpt-2", "deepseek-llm", "deepseek-coder", "dbrx", "stablelm2",
  "hunyuan", "starcoder", "smollm", "command-r", "falcon", "seed-coder", "tekken", "bailingmoe", "trillion", "default",
];

/** Text that tells llama.cpp's pre-tokenizers apart: digit runs, contractions in both cases, whitespace runs, scripts, emoji, code. */
const PROBE = [
  "Hello world! I'M sure you'RE right, it's 3 33 333 3333 33333 items @ $12.50/kg.",
  "\n \n\n \t\t  tabs\tand   spaces   \r\n\r\nnew lines ...",
  "naïve café — déjà vu; Ünïcödé ÀÉÎÕÜ straße",
  "你好，世界！こんにちは カタカナ 안녕하세요 Привет мир ١٢٣ ๑๒๓",
  "emoji 🙂🚀👨‍👩‍👧 ✓✗ ™ © ½",
  "def f(x):\n    return x**2 // 3 != {'a': [1, 2]}  # done\n\t}\n",
  "UPPERCASE lowercase CamelCaseWord snake_case_word kebab-case-word/path/to/file.txt",
  "''''' \"\"\" ``` --- ___ !!! ??? ...",
].join("\n");

const str = (value: string): GgufValue => ({ type: "string", value });
const u32 = (value: number): GgufValue => ({ type: "uint32", value });
const strings = (values: string[]): GgufValue => ({ type: "array", value: { type: "string", values } });

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

function addedTokens(json: JsonObject, where: string): AddedToken[] {
  const list = json.added_tokens ?? [];
  if (!Array.isArray(list)) throw new Error(`${where}: tokenizer.json added_tokens is not a list`);
  return list.map((t, i) => {
    const o = t as Record<string, unknown>;
    if (!Number.isInteger(o.id) || typeof o.content !== "string") throw new Error(`${where}: tokenizer.json added_tokens[${i}] has no integer id and string content`);
    return { id: o.id as number, content: o.content, special: o.special === true };
  });
}

function mergeStrings(model: JsonObject, where: string): string[] {
  const merges = model.merges;
  if (!Array.isArray(merges)) throw new Error(`${where}: tokenizer.json model.merges is not a list`);
  return merges.map((m, i) => {
    if (typeof m === "string") return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return `${m[0]} ${m[1]}`;
    throw new Error(`${where}: tokenizer.json model.merges[${i}] is neither "a b" nor ["a", "b"]`);
  });
}

/** Token texts in id order, with their llama.cpp token types. */
function tokenTable(json: JsonObject, model: JsonObject, vocabSize: number, where: string): { tokens: string[]; types: Int32Array } {
  const vocab = model.vocab;
  if (!vocab || typeof vocab !== "object" || Array.isArray(vocab)) throw new Error(`${where}: tokenizer.json model.vocab is not an object`);
  const entries: [string, number, number][] = Object.entries(vocab as Record<string, unknown>).map(([t, id]) => {
    if (!Number.isInteger(id) || (id as number) < 0) throw new Error(`${where}: tokenizer.json model.vocab['${t}'] is not an id`);
    return [t, id as number, TOKEN_TYPE.normal];
  });
  for (const a of addedTokens(json, where)) entries.push([a.content, a.id, a.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined]);
  const top = entries.reduce((m, e) => Math.max(m, e[1]), -1);
  if (top >= vocabSize) throw new Error(`${where}: the tokenizer has id ${top}, but config.json vocab_size is ${vocabSize} (the model has no embedding row for it)`);
  const tokens = new Array<string | undefined>(vocabSize);
  const types = new Int32Array(vocabSize).fill(TOKEN_TYPE.unused);
  for (const [t, id, type] of entries) {
    if (tokens[id] !== undefined && tokens[id] !== t) throw new Error(`${where}: tokenizer.json gives id ${id} to both '${tokens[id]}' and '${t}'`);
    tokens[id] = t;
    types[id] = type;
  }
  return { tokens: Array.from(tokens, (t, i) => t ?? `[PAD${i}]`), types };
}

function idOf(tok: TextTokenizer, text: string | undefined): number | undefined {
  return text === undefined ? undefined : tok.tokenToId(text);
}

function configId(config: Config, key: string): number | undefined {
  const v = config[key];
  const id = Array.isArray(v) ? v[0] : v;
  return Number.isInteger(id) && (id as number) >= 0 ? (id as number) : undefined;
}

function templateEntries(templates: ChatTemplates | undefined): [string, GgufValue][] {
  if (templates === undefined) return [];
  if (typeof templates === "string") return [["tokenizer.chat_template", str(templates)]];
  return Object.entries(templates).map(([name, t]) => [name === "default" ? "tokenizer.chat_template" : `tokenizer.chat_template.${name}`, str(t)]);
}

/** Whether Hugging Face's encode with special tokens puts bos first (its post-processor decides, not a flag). */
function addsBos(tok: TextTokenizer, bos: number | undefined): boolean {
  return bos !== undefined && tok.encode("a", { addSpecialTokens: true })[0] === bos;
}

function samePieces(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The `tokenizer.ggml.pre` that tokenizes PROBE (and each of its lines) exactly as `tok` does. */
async function matchingPre(metadata: GgufMetadata, tok: TextTokenizer, cleanSpaces: boolean, where: string): Promise<string> {
  const file = await GgufFile.open(new BufferSource("tokenizer-probe.gguf", encodeGguf(metadata, [])));
  const base = loadGgufVocab(file);
  const texts = [PROBE, ...PROBE.split("\n")];
  const want = texts.map((t) => tok.encode(t, { addSpecialTokens: false }));
  const matches: string[] = [];
  for (const name of PRE_CANDIDATES) {
    const pre = preTokenizer(name);
    const g = new GgufTokenizer({ ...base, pre, cleanSpaces: pre.cleanSpaces ?? true, ignoreMerges: pre.ignoreMerges ?? false });
    if (texts.every((t, i) => samePieces(g.encode(t, { addSpecial: false, parseSpecial: false }), want[i]!))) matches.push(name);
  }
  if (matches.length === 0) {
    throw new Error(`${where}: no llama.cpp pre-tokenizer splits text as this tokenizer.json does (tried ${PRE_CANDIDATES.join(", ")}); convert with --no-tokenizer to write a placeholder vocabulary`);
  }
  return matches.find((m) => (preTokenizer(m).cleanSpaces ?? true) === cleanSpaces) ?? matches[0]!;
}

/**
 * `tokenizer.ggml.*` and `tokenizer.chat_template*` entries for `tok` (built from `tokenizerJson` and its
 * config) in a model of `config.vocab_size` ids. Byte-level BPE tokenizers only: a sentencepiece-style
 * tokenizer.json (BPE with byte fallback) needs the scores of tokenizer.model, which it does not carry.
 */
export async function tokenizerMetadata(tok: TextTokenizer, tokenizerJson: JsonObject, tokenizerConfig: JsonObject, config: Config): Promise<[string, GgufValue][]> {
  const where = tok.source;
  const model = tokenizerJson.model as JsonObject | undefined;
  if (!model || model.type !== "BPE") throw new Error(`${where}: tokenizer.json model is ${String(model?.type)}; only byte-level BPE tokenizers convert to GGUF (use --no-tokenizer)`);
  if (model.byte_fallback === true) {
    throw new Error(`${where}: a sentencepiece-style tokenizer.json (BPE with byte_fallback) does not convert: llama.cpp needs tokenizer.model's scores (use --no-tokenizer)`);
  }
  const vocabSize = config.vocab_size as number;
  const { tokens, types } = tokenTable(tokenizerJson, model, vocabSize, where);
  const named = tok.specialTokens;
  const bos = idOf(tok, named.bos_token) ?? configId(config, "bos_token_id");
  const eos = idOf(tok, named.eos_token) ?? configId(config, "eos_token_id");
  const entries: [string, GgufValue][] = [
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str("qwen2")],
    ["tokenizer.ggml.tokens", strings(tokens)],
    ["tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: types } }],
    ["tokenizer.ggml.merges", strings(mergeStrings(model, where))],
  ];
  for (const [key, id] of [["bos", bos], ["eos", eos], ["unknown", idOf(tok, named.unk_token)], ["padding", idOf(tok, named.pad_token)]] as const) {
    if (id !== undefined) entries.push([`tokenizer.ggml.${key}_token_id`, u32(id)]);
  }
  entries.push(["tokenizer.ggml.add_bos_token", { type: "bool", value: addsBos(tok, bos) }]);
  entries.push(...templateEntries(tok.chatTemplate));
  const metadata: GgufMetadata = new Map(entries);
  const cleanSpaces = tokenizerConfig.clean_up_tokenization_spaces === true;
  metadata.set("tokenizer.ggml.pre", str(await matchingPre(metadata, tok, cleanSpaces, where)));
  return [...metadata];
}
