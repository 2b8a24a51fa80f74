/**
 * The tokenizer of a GGUF file, from its `tokenizer.ggml.*` metadata, giving llama.cpp's ids:
 * gpt2-style byte-level BPE (with the `tokenizer.ggml.pre` pre-tokenizer) and llama-style sentencepiece
 * vocabularies (scores, byte fallback, ▁ for spaces). Special tokens in the text are split out first;
 * `tokenizer.chat_template` renders through @huggingface/jinja. It satisfies moekit's TextTokenizer
 * (src/generation/tokenizer.ts: encode, decode, chatPrompt).
 */
import type { GgufFile } from "../../loading/gguf/reader.js";
import { bpeWord } from "./bpe.js";
import { detokenize, type DecodeOptions } from "./detokenize.js";
import { compileSplit, type CompiledSplit } from "./regex-split.js";
import { splitSpecial } from "./special-split.js";
import { spmText } from "./spm.js";
import { byteLevelChars, codePoints, fromCodePoints, utf8 } from "./unicode.js";
import { loadGgufVocab, type GgufVocab } from "./vocab.js";

export interface EncodeOptions {
  /** add bos / eos where the vocabulary asks for them (default true) */
  addSpecial?: boolean;
  /** turn special-token texts in the input into their ids (default true) */
  parseSpecial?: boolean;
}

export class GgufTokenizer {
  private readonly splitter: CompiledSplit | null;

  constructor(readonly vocab: GgufVocab) {
    this.splitter = vocab.pre ? compileSplit(vocab.pre.patterns) : null;
  }

  static fromGguf(g: GgufFile): GgufTokenizer {
    return new GgufTokenizer(loadGgufVocab(g));
  }

  get bosTokenId(): number | null {
    return this.vocab.bos;
  }

  get eosTokenId(): number | null {
    return this.vocab.eos;
  }

  /** Ids that end generation (eos, eot, <|im_end|>-style tokens). */
  get eogTokenIds(): ReadonlySet<number> {
    return this.vocab.eog;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const v = this.vocab;
    const addSpecial = opts.addSpecial ?? true;
    const out: number[] = [];
    const frags = splitSpecial(v, text, opts.parseSpecial ?? true);
    if (addSpecial && v.addBos) {
      if (v.bos === null) throw new Error("the vocabulary adds a bos token but has none");
      out.push(v.bos);
    }
    let prevSpecial = true;
    for (const f of frags) {
      if ("token" in f) {
        out.push(f.token);
        prevSpecial = true;
      } else if (v.kind === "spm") {
        const t = (v.addSpacePrefix && prevSpecial ? " " : "") + f.text;
        spmText(v, t.replaceAll(" ", "\u2581"), out);
        prevSpecial = false;
      } else {
        this.bpeText(f.text, out);
      }
    }
    if (addSpecial && v.addEos) {
      if (v.eos === null) throw new Error("the vocabulary adds an eos token but has none");
      out.push(v.eos);
    }
    return out;
  }

  private bpeText(text: string, out: number[]): void {
    const map = byteLevelChars();
    for (const word of this.splitter!.split(codePoints(text))) {
      let encoded = "";
      for (const b of utf8(fromCodePoints(word))) encoded += map[b];
      bpeWord(this.vocab, encoded, out);
    }
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return detokenize(this.vocab, ids, opts);
  }

  /** The piece one token renders as (control tokens as their text). */
  tokenText(id: number): string {
    const t = this.vocab.tokens[id];
    if (t === undefined) throw new Error(`token id ${id} is outside the vocabulary (${this.vocab.tokens.length} tokens)`);
    return t;
  }

  /** The chat template applied to one user message (moekit's TextTokenizer contract). */
  chatPrompt(userMessage: string): Promise<string> {
    return this.applyChatTemplate([{ role: "user", content: userMessage }]);
  }

  /** tokenizer.chat_template applied to messages (add_generation_prompt), through @huggingface/jinja. */
  async applyChatTemplate(messages: { role: string; content: string }[], extra: Record<string, unknown> = {}): Promise<string> {
    const template = this.vocab.chatTemplate;
    if (template === undefined) throw new Error("the GGUF file has no tokenizer.chat_template");
    let jinja: { Template: new (s: string) => { render(ctx: Record<string, unknown>): string } };
    try {
      jinja = (await import("@huggingface/jinja")) as typeof jinja;
    } catch {
      throw new Error("chat templates need the package @huggingface/jinja, which is not installed (npm install @huggingface/jinja)");
    }
    const name = (id: number | null) => (id === null ? "" : this.vocab.tokens[id]!);
    return new jinja.Template(template).render({
      messages,
      add_generation_prompt: true,
      bos_token: name(this.vocab.bos),
      eos_token: name(this.vocab.eos),
      ...extra,
    });
  }
}
