/**
 * A GGUF vocabulary as llama.cpp loads it (src/llama-vocab.cpp `llama_vocab::impl::load`): the token
 * list, token types → attributes, scores, BPE merge ranks, special token ids with the defaults of each
 * tokenizer model, add_bos / add_eos / add_space_prefix, and the attribute fixes llama.cpp applies by
 * token text (end-of-generation and fill-in-the-middle tokens become control tokens; gpt-oss's
 * `<|channel|>`-style tokens user-defined; Phi-3 special tokens strip the spaces after them). These
 * decide which texts are special and how tokens decode, so they are reproduced.
 */
import type { GgufFile } from "../../loading/gguf/reader.js";
import { describeType } from "../../loading/gguf/values.js";
import { preTokenizer, type PreTokenizer } from "./pre-tokenizers.js";

/** llama_token_attr bits */
export const ATTR = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
} as const;

/** tokenizer.ggml.token_type values (llama_token_type) → attributes */
const TYPE_ATTR: Record<number, number> = { 1: ATTR.NORMAL, 2: ATTR.UNKNOWN, 3: ATTR.CONTROL, 4: ATTR.USER_DEFINED, 5: ATTR.UNUSED, 6: ATTR.BYTE };

/** Token texts llama.cpp turns into control tokens: end of generation, end of message, fill-in-the-middle. */
const CONTROL_TEXTS = new Set([
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>",
  "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
  "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
  "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>",
  "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>",
  "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>",
  "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
  "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
]);
/** End-of-generation texts (the stop set), as llama.cpp lists them. */
const EOG_TEXTS = [
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>",
  "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
  "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
];
/** Fill-in-the-middle pad / repo / file-separator texts, which llama.cpp also stops on. */
const FIM_STOP_TEXTS = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>"];
const ENCODER = new TextEncoder();
const HARMONY_USER_DEFINED = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

export interface GgufVocab {
  kind: "bpe" | "spm";
  tokens: string[];
  attrs: Uint16Array;
  scores: Float32Array;
  tokenToId: Map<string, number>;
  /** BPE merge ranks by `left \0 right` */
  merges: Map<string, number>;
  pre: PreTokenizer | null;
  bos: number | null;
  eos: number | null;
  unk: number | null;
  eog: Set<number>;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  cleanSpaces: boolean;
  ignoreMerges: boolean;
  /** control, user-defined and unknown tokens, longest text first: what the special-token split looks for */
  specialTokens: number[];
  chatTemplate: string | undefined;
}

export function mergeKey(left: string, right: string): string {
  return `${left}\u0000${right}`;
}

function stringArray(g: GgufFile, key: string): string[] | undefined {
  const v = g.get(key);
  if (v === undefined) return undefined;
  if (v.type !== "array" || v.value.type !== "string") throw new Error(`${g.source.name}: metadata '${key}' is ${describeType(v)}, expected array of string`);
  return v.value.values;
}

function numberArray(g: GgufFile, key: string, types: readonly string[], n: number): ArrayLike<number> | undefined {
  const v = g.get(key);
  if (v === undefined) return undefined;
  if (v.type !== "array" || !types.includes(v.value.type)) throw new Error(`${g.source.name}: metadata '${key}' is ${describeType(v)}, expected array of ${types.join(" or ")}`);
  const values = v.value.values as ArrayLike<number>;
  if (values.length < n) throw new Error(`${g.source.name}: metadata '${key}' has ${values.length} entries for ${n} tokens`);
  return values;
}

/** Reads the vocabulary of a GGUF file; every wrong type or missing piece is an error naming the key. */
export function loadGgufVocab(g: GgufFile): GgufVocab {
  const where = g.source.name;
  const model = g.string("tokenizer.ggml.model", true);
  let kind: "bpe" | "spm";
  if (model === "gpt2") kind = "bpe";
  else if (model === "llama") kind = "spm";
  else throw new Error(`${where}: tokenizer.ggml.model '${model}' is not one moekit reads (gpt2 or llama)`);

  const raw = stringArray(g, "tokenizer.ggml.tokens");
  if (!raw) throw new Error(`${where}: metadata 'tokenizer.ggml.tokens' is missing`);
  const n = raw.length;
  const tokens = raw.map((t, i) => (t.length === 0 ? `[EMPTY_${i}]` : t));
  const tokenToId = new Map<string, number>();
  tokens.forEach((t, i) => {
    const prev = tokenToId.get(t);
    if (prev !== undefined) throw new Error(`${where}: tokenizer.ggml.tokens holds '${t}' twice (ids ${prev} and ${i})`);
    tokenToId.set(t, i);
  });
  const scoresRaw = numberArray(g, "tokenizer.ggml.scores", ["float32", "int32"], n);
  const scores = scoresRaw ? Float32Array.from({ length: n }, (_, i) => scoresRaw[i]!) : new Float32Array(n);
  const types = numberArray(g, "tokenizer.ggml.token_type", ["int32"], n);
  const attrs = new Uint16Array(n).fill(ATTR.NORMAL);
  if (types) for (let i = 0; i < n; i++) attrs[i] = TYPE_ATTR[types[i]!] ?? ATTR.UNDEFINED;

  const merges = new Map<string, number>();
  let pre: PreTokenizer | null = null;
  if (kind === "bpe") {
    const list = stringArray(g, "tokenizer.ggml.merges");
    if (!list) throw new Error(`${where}: metadata 'tokenizer.ggml.merges' is missing (a gpt2 tokenizer needs its merges)`);
    list.forEach((m, rank) => {
      const space = m.indexOf(" ", 1);
      const key = space < 0 ? mergeKey("", "") : mergeKey(m.slice(0, space), m.slice(space + 1));
      if (!merges.has(key)) merges.set(key, rank);
    });
    pre = preTokenizer(g.string("tokenizer.ggml.pre"));
  }

  const id = (key: string, fallback: number | null): number | null => {
    const v = g.integer(key);
    if (v === undefined) return fallback !== null && fallback < n ? fallback : null;
    return v >= 0 && v < n ? v : fallback !== null && fallback < n ? fallback : null;
  };
  const bos = id("tokenizer.ggml.bos_token_id", kind === "spm" ? 1 : 11);
  const eos = id("tokenizer.ggml.eos_token_id", kind === "spm" ? 2 : 11);
  const unk = id("tokenizer.ggml.unknown_token_id", kind === "spm" ? 0 : null);
  const eot = id("tokenizer.ggml.eot_token_id", null);
  const eom = id("tokenizer.ggml.eom_token_id", null);

  for (const t of CONTROL_TEXTS) {
    const i = tokenToId.get(t);
    if (i !== undefined) attrs[i]! |= ATTR.CONTROL;
  }
  const eog = new Set<number>();
  for (const t of [...EOG_TEXTS, ...FIM_STOP_TEXTS]) {
    const i = tokenToId.get(t);
    if (i !== undefined) eog.add(i);
  }
  for (const t of HARMONY_USER_DEFINED) {
    const i = tokenToId.get(t);
    if (i !== undefined) attrs[i] = ATTR.USER_DEFINED;
  }
  for (const x of [eos, eot, eom]) if (x !== null) eog.add(x);
  const has = (t: string) => tokenToId.has(t) && eog.has(tokenToId.get(t)!);
  if (((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>"))) && has("<|end|>")) {
    const end = tokenToId.get("<|end|>")!;
    eog.delete(end);
    attrs[end] = ATTR.USER_DEFINED;
  }
  if (has("<|tool_response>") && has("</s>")) {
    const s = tokenToId.get("</s>")!;
    eog.delete(s);
    attrs[s] = ATTR.NORMAL;
  }

  const specialTokens: number[] = [];
  for (let i = 0; i < n; i++) if (attrs[i]! & (ATTR.CONTROL | ATTR.USER_DEFINED | ATTR.UNKNOWN)) specialTokens.push(i);
  const bytes = new Map(specialTokens.map((i) => [i, ENCODER.encode(tokens[i]!).length]));
  specialTokens.sort((a, b) => bytes.get(b)! - bytes.get(a)! || a - b);

  const name = (g.string("general.name") ?? "").toLowerCase();
  if (name.includes("phi-3") || name.includes("phi3")) {
    for (const i of specialTokens) attrs[i]! |= ATTR.RSTRIP;
    const set = (t: string, on: boolean) => {
      const i = tokenToId.get(t);
      if (i !== undefined) attrs[i] = on ? attrs[i]! | ATTR.RSTRIP : attrs[i]! & ~ATTR.RSTRIP;
    };
    set("</s>", true);
    for (const t of ["<unk>", "<s>", "<|endoftext|>"]) set(t, false);
  }

  const addBos = g.bool("tokenizer.ggml.add_bos_token") ?? (kind === "spm" ? true : (pre?.addBos ?? false));
  const addEos = g.bool("tokenizer.ggml.add_eos_token") ?? false;
  const addSpacePrefix = g.bool("tokenizer.ggml.add_space_prefix") ?? kind === "spm";
  return {
    kind,
    tokens,
    attrs,
    scores,
    tokenToId,
    merges,
    pre,
    bos,
    eos,
    unk,
    eog,
    addBos,
    addEos,
    addSpacePrefix,
    cleanSpaces: kind === "bpe" ? (pre?.cleanSpaces ?? true) : false,
    ignoreMerges: pre?.ignoreMerges ?? false,
    specialTokens,
    chatTemplate: g.string("tokenizer.chat_template"),
  };
}
