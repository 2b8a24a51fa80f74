/**
 * Regenerates test/fixtures/gguf/vocab/: the oracle for moekit's GGUF tokenizers is llama.cpp itself
 * (node-llama-cpp, bench/peers/llama-cpp) on the `models/ggml-vocab-*.gguf` files of its source (the git
 * bundle inside node-llama-cpp: `git clone node_modules/node-llama-cpp/llama/gitRelease.bundle DIR`).
 *
 * For each family: the vocabulary (some are variants: a base vocabulary with another
 * `tokenizer.ggml.pre`, or extra special tokens), the test strings (the source's `.inp` strings plus
 * multilingual, emoji, whitespace-run, code and special-token strings), llama.cpp's ids with and
 * without special-token parsing and its decoded texts. moekit's tokenizer must give the same on the
 * full vocabulary (the script fails otherwise). The vocabulary is then pruned to what tokenizing these
 * strings looks up — the tokens and merges moekit's tokenizer asked for and found, every special token,
 * every expected id — with ids renumbered in order (the original id of each kept token is stored as
 * `moekit.test.original_ids`), which keeps every lookup's answer and so every result the same; llama.cpp
 * is run on the pruned file too as a check. The pruned files are a few hundred KB instead of 25 MB.
 *
 *   node --import tsx scripts/gguf-vocab-fixtures.ts --llama-src /tmp/llama-src
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuLlama, type LlamaModel } from "../bench/peers/llama-cpp/node-llama-cpp.js";
import { BufferSource } from "../src/loading/byte-source.js";
import { encodeGguf, GgufFile, type GgufMetadata, type GgufValue } from "../src/loading/gguf/index.js";
import { FileSource } from "../src/loading/node-files.js";
import { GgufTokenizer } from "../src/text/gguf/tokenizer.js";
import { loadGgufVocab, type GgufVocab } from "../src/text/gguf/vocab.js";

interface Family {
  name: string;
  base: string;
  pre?: string;
  /** special tokens appended to the vocabulary: [text, token_type] */
  extra?: [string, number][];
}

const FAMILIES: Family[] = [
  { name: "qwen2", base: "qwen2" },
  { name: "deepseek-llm", base: "deepseek-llm" },
  { name: "deepseek-v3", base: "llama-bpe", pre: "deepseek-v3" },
  {
    name: "gpt-4o",
    base: "llama-bpe",
    pre: "gpt-4o",
    extra: [["<|start|>", 3], ["<|channel|>", 3], ["<|message|>", 3], ["<|end|>", 3], ["<|return|>", 3], ["<|call|>", 3], ["<|constrain|>", 3]],
  },
  { name: "llama-bpe", base: "llama-bpe" },
  { name: "llama-spm", base: "llama-spm" },
  { name: "phi-3", base: "phi-3" },
  { name: "olmo", base: "gpt-2", pre: "olmo" },
  { name: "refact", base: "refact" },
  { name: "default", base: "gpt-2", pre: "default" },
];

const EXTRA_STRINGS = [
  "Hello world",
  " Hello world",
  "HELLO WORLD helloWorld CamelCase ALLCAPS iPhone",
  "I'm, you're, he'll, they've, it's, I'd, don't. I'M YOU'RE HE'LL THEY'VE IT'S I'D DON'T",
  "1234567890 3.14159 1,000,000 2024-12-05 0x1F 42nd ١٢٣ ৪৫৬ ²³",
  "a  b   c    d",
  "\t\ttabs\t",
  "line1\nline2\r\nline3\n\n\nend",
  "   leading",
  "trailing   ",
  "\u00a0nbsp\u00a0\u2003em\u3000ideographic",
  "\u2028sep\u2029 \u0085next",
  " \n \n ",
  "中文测试：你好，世界！",
  "日本語のテキスト、カタカナとひらがな。",
  "한국어 텍스트입니다",
  "Привет, мир! Ёжик",
  "Γειά σου Κόσμε ώ ὼ",
  "مرحبا بالعالم",
  "नमस्ते दुनिया (हिन्दी)",
  "สวัสดีชาวโลก",
  "Tiếng Việt có dấu",
  "Ünïcödé àccénts — “quotes” ‘single’ …",
  "ﬁ ligature Ｆｕｌｌｗｉｄｔｈ Kelvin K Ω ohm",
  "🙂 😀😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🏳️‍🌈",
  "emoji🙂inside",
  "©®™ ± × ÷ € £ ¥",
  "def f(x):\n    return x ** 2  # square\n",
  "if (a != b && c >= d) { x += 1; }",
  '<div class="a">&amp;</div>',
  "https://example.com/path?q=1&r=2",
  "C:\\Users\\name\\file.txt $HOME/.bashrc ~user @mention #hashtag",
  "\u0378 unassigned \ue000 private \u200b zero-width \u200d joiner",
  "a\u0301 e\u0301 combining",
  "Ⅻ ⅓ ① ² ₃",
  "\u0001\u001f controls",
  "a".repeat(300),
  "ab ".repeat(100),
  "1".repeat(50),
];

interface Case {
  text: string;
  parse_special: boolean;
  ids: number[];
  decoded: string;
  decoded_special: string;
}

const { values } = parseArgs({ options: { "llama-src": { type: "string", default: "/tmp/llama-src" }, out: { type: "string", default: "test/fixtures/gguf/vocab" } } });
const SRC = join(values["llama-src"]!, "models");
const OUT = values.out!;
const tmp = mkdtempSync(join(tmpdir(), "moekit-vocab-"));

function inpStrings(base: string): string[] {
  try {
    return readFileSync(join(SRC, `ggml-vocab-${base}.gguf.inp`), "utf8").split("\n__ggml_vocab_test__\n");
  } catch {
    return [];
  }
}

function variant(g: GgufFile, fam: Family): GgufMetadata {
  const meta: GgufMetadata = new Map(g.metadata);
  if (fam.pre) meta.set("tokenizer.ggml.pre", { type: "string", value: fam.pre });
  if (fam.extra) {
    const tokens = (meta.get("tokenizer.ggml.tokens") as { value: { values: string[] } }).value.values;
    const types = (meta.get("tokenizer.ggml.token_type") as { value: { values: Int32Array } }).value.values;
    meta.set("tokenizer.ggml.tokens", { type: "array", value: { type: "string", values: [...tokens, ...fam.extra.map(([t]) => t)] } });
    meta.set("tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: Int32Array.from([...types, ...fam.extra.map(([, k]) => k)]) } });
  }
  return meta;
}

/** Strings built from the vocabulary's own special tokens. */
function specialStrings(v: GgufVocab): string[] {
  const specials = [...v.specialTokens].sort((a, b) => a - b).map((i) => v.tokens[i]!);
  const pick = specials.slice(0, 3).concat(specials.slice(-3));
  const out = [`${pick[0] ?? ""}Hello${pick[1] ?? ""} world ${pick[2] ?? ""}\n${pick[3] ?? ""}x${pick[4] ?? ""} ${pick[5] ?? ""}`];
  for (const t of specials.slice(0, 12)) out.push(`before ${t} after`, `${t}${t}`, `x${t.slice(0, -1)}`);
  if (v.tokenToId.has("<|im_start|>")) out.push("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
  if (v.tokenToId.has("<|channel|>")) out.push("<|start|>assistant<|channel|>final<|message|>Hi!<|end|><|return|>");
  return out;
}

/** A Map that remembers which keys were found. */
class Recording<K, V> extends Map<K, V> {
  readonly hits = new Set<K>();
  override get(k: K): V | undefined {
    const v = super.get(k);
    if (v !== undefined) this.hits.add(k);
    return v;
  }
  override has(k: K): boolean {
    const h = super.has(k);
    if (h) this.hits.add(k);
    return h;
  }
}

function oracle(model: LlamaModel, texts: string[]): Case[] {
  const cases: Case[] = [];
  for (const text of texts) {
    for (const parse of [false, true]) {
      const ids = model.tokenize(text, parse);
      cases.push({ text, parse_special: parse, ids, decoded: model.detokenize(ids, false), decoded_special: model.detokenize(ids, true) });
    }
  }
  return cases;
}

function mismatches(tok: GgufTokenizer, cases: Case[], map: (id: number) => number = (i) => i): string[] {
  const bad: string[] = [];
  for (const c of cases) {
    const got = tok.encode(c.text, { addSpecial: false, parseSpecial: c.parse_special }).map(map);
    if (JSON.stringify(got) !== JSON.stringify(c.ids)) bad.push(`encode ${JSON.stringify(c.text).slice(0, 60)} parse=${c.parse_special}: ${got.join(" ")} ≠ ${c.ids.join(" ")}`);
    const back = (ids: number[]) => ids.map((i) => ((tok.vocab as GgufVocab & { fromOriginal?: Map<number, number> }).fromOriginal?.get(i) ?? i));
    const d = tok.decode(back(c.ids));
    if (d !== c.decoded) bad.push(`decode ${JSON.stringify(c.text).slice(0, 60)}: ${JSON.stringify(d).slice(0, 80)} ≠ ${JSON.stringify(c.decoded).slice(0, 80)}`);
    const ds = tok.decode(back(c.ids), { unparseSpecial: true });
    if (ds !== c.decoded_special) bad.push(`decode special ${JSON.stringify(c.text).slice(0, 60)}: ${JSON.stringify(ds).slice(0, 80)} ≠ ${JSON.stringify(c.decoded_special).slice(0, 80)}`);
  }
  return bad;
}

/** The vocabulary pruned to `keep` (ids renumbered in order) and the merges that were looked up. */
function pruned(meta: GgufMetadata, v: GgufVocab, keep: Set<number>, mergeHits: Set<string>): GgufMetadata {
  const ids = [...keep].sort((a, b) => a - b);
  const newId = new Map(ids.map((o, n) => [o, n]));
  const out: GgufMetadata = new Map();
  const arr = (key: string) => meta.get(key) as { value: { type: string; values: ArrayLike<number> } } | undefined;
  for (const [k, val] of meta) {
    if (k === "tokenizer.ggml.tokens") {
      const t = (val as { value: { values: string[] } }).value.values;
      out.set(k, { type: "array", value: { type: "string", values: ids.map((i) => t[i]!) } });
    } else if (k === "tokenizer.ggml.token_type") {
      out.set(k, { type: "array", value: { type: "int32", values: Int32Array.from(ids, (i) => arr(k)!.value.values[i]!) } });
    } else if (k === "tokenizer.ggml.scores") {
      const a = arr(k)!.value;
      out.set(k, a.type === "float32" ? { type: "array", value: { type: "float32", values: Float32Array.from(ids, (i) => a.values[i]!) } } : { type: "array", value: { type: "int32", values: Int32Array.from(ids, (i) => a.values[i]!) } });
    } else if (k === "tokenizer.ggml.merges") {
      const list = (val as { value: { values: string[] } }).value.values;
      const kept = list.filter((m) => {
        const sp = m.indexOf(" ", 1);
        return sp > 0 && mergeHits.has(`${m.slice(0, sp)}\u0000${m.slice(sp + 1)}`);
      });
      out.set(k, { type: "array", value: { type: "string", values: kept } });
    } else if (/^tokenizer\.ggml\.\w+_token_id$/.test(k)) {
      const o = Number((val as { value: number | bigint }).value);
      if (newId.has(o)) out.set(k, { type: "uint32", value: newId.get(o)! });
    } else {
      out.set(k, val);
    }
  }
  out.set("moekit.test.original_ids", { type: "array", value: { type: "int32", values: Int32Array.from(ids) } });
  void v;
  return out;
}

/** The record as JSON with one case per line (readable diffs, a third of the indented size). */
function caseLines(record: { cases: Case[] } & Record<string, unknown>): string {
  const { cases, ...head } = record;
  const top = JSON.stringify(head, null, 1).replace(/\n}$/, "");
  return `${top},\n "cases": [\n${cases.map((c) => `  ${JSON.stringify(c)}`).join(",\n")}\n ]\n}\n`;
}

const llama = await cpuLlama();
let failed = false;
for (const fam of FAMILIES) {
  const base = await GgufFile.open(new FileSource(join(SRC, `ggml-vocab-${fam.base}.gguf`)));
  const meta = variant(base, fam);
  const fullPath = join(tmp, `${fam.name}.gguf`);
  writeFileSync(fullPath, encodeGguf(meta, []));
  const full = await GgufFile.open(new FileSource(fullPath));
  const vocab = loadGgufVocab(full);
  const texts = [...inpStrings(fam.base), ...EXTRA_STRINGS, ...specialStrings(vocab)];
  const model = await llama.loadModel({ modelPath: fullPath, gpuLayers: 0, useMmap: true, vocabOnly: true });
  const cases = oracle(model, texts);
  const flags = {
    add_bos: (model.tokens as unknown as { shouldPrependBosToken: boolean }).shouldPrependBosToken,
    add_eos: (model.tokens as unknown as { shouldAppendEosToken: boolean }).shouldAppendEosToken,
    bos: model.tokens.bos,
    eos: model.tokens.eos,
    // llama.cpp's own llama_vocab_is_eog (node-llama-cpp's model.isEogToken also counts its eot guess)
    eog: vocab.specialTokens.filter((i) => (model as unknown as { _model: { isEogToken(t: number): boolean } })._model.isEogToken(i)).sort((a, b) => a - b),
  };
  await model.dispose();

  const bad = mismatches(new GgufTokenizer(vocab), cases);
  console.log(`${fam.name}: ${cases.length} cases, ${bad.length} mismatches on the full vocabulary (${vocab.tokens.length} tokens)`);
  for (const b of bad.slice(0, 10)) console.log(`  ${b}`);
  if (bad.length) failed = true;

  // Record what tokenizing and decoding look up, then keep exactly that.
  const rec = loadGgufVocab(full);
  const tokenHits = new Recording(rec.tokenToId);
  const mergeHits = new Recording(rec.merges);
  rec.tokenToId = tokenHits;
  rec.merges = mergeHits;
  const recTok = new GgufTokenizer(rec);
  for (const c of cases) recTok.encode(c.text, { addSpecial: false, parseSpecial: c.parse_special });
  const keep = new Set<number>([...tokenHits.hits].map((t) => rec.tokenToId.get(t)!));
  for (const i of rec.specialTokens) keep.add(i);
  for (const c of cases) for (const i of c.ids) keep.add(i);
  for (const i of [rec.bos, rec.eos, rec.unk, ...rec.eog]) if (i !== null) keep.add(i);
  const small = pruned(meta, rec, keep, mergeHits.hits);
  const bytes = encodeGguf(small, []);
  const file = `${fam.name}.gguf`;
  writeFileSync(join(OUT, file), bytes);

  const smallG = await GgufFile.open(new BufferSource(file, bytes));
  const original = (smallG.get("moekit.test.original_ids") as { value: { values: Int32Array } }).value.values;
  const smallVocab = loadGgufVocab(smallG) as GgufVocab & { fromOriginal?: Map<number, number> };
  smallVocab.fromOriginal = new Map(Array.from(original, (o, n) => [o, n]));
  const badSmall = mismatches(new GgufTokenizer(smallVocab), cases, (i) => original[i]!);
  const smallModel = await llama.loadModel({ modelPath: join(OUT, file), gpuLayers: 0, useMmap: true, vocabOnly: true });
  let llamaSmallBad = 0;
  for (const c of cases) if (JSON.stringify(smallModel.tokenize(c.text, c.parse_special).map((i) => original[i]!)) !== JSON.stringify(c.ids)) llamaSmallBad++;
  await smallModel.dispose();
  console.log(`  pruned to ${keep.size} tokens, ${mergeHits.hits.size} merges, ${bytes.length} bytes: moekit ${badSmall.length} mismatches, llama.cpp ${llamaSmallBad} mismatches`);
  if (badSmall.length || llamaSmallBad) failed = true;
  const record = { family: fam.name, base: `ggml-vocab-${fam.base}.gguf`, pre: fam.pre ?? null, vocab: file, full_vocab_size: vocab.tokens.length, ...flags, cases };
  writeFileSync(join(OUT, `${fam.name}.json`), caseLines(record));
}
await llama.dispose();
if (failed) {
  console.error("some cases differ from llama.cpp");
  process.exit(1);
}

export type { GgufValue };
