/**
 * Streaming text out of token ids without ever emitting part of a character. A byte-level tokenizer
 * (Qwen, DeepSeek, gpt-oss) spreads one character over several tokens, and decoding a prefix of them
 * gives U+FFFD; a SentencePiece tokenizer drops a leading space when a token is decoded alone. So each
 * new piece is the difference between decoding [context + new tokens] and decoding [context], and
 * text ending in U+FFFD is held back until the character completes (or the stream ends).
 */
export interface Decoder {
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
}

export interface IncrementalDecoderOptions {
  /** Drop special tokens from the text (default true: a stream shows text, not <|im_end|>). */
  skipSpecialTokens?: boolean;
}

const REPLACEMENT = "\uFFFD";

export class IncrementalDecoder {
  private ids: number[] = [];
  /** ids[prefix, read) is the context already shown; ids[read, ...) is not shown yet. */
  private prefix = 0;
  private read = 0;
  private readonly skipSpecialTokens: boolean;

  constructor(
    private readonly tokenizer: Decoder,
    opts: IncrementalDecoderOptions = {},
  ) {
    this.skipSpecialTokens = opts.skipSpecialTokens ?? true;
  }

  /** Adds token ids; returns the text they complete ("" while a character is still partial). */
  push(ids: number | readonly number[]): string {
    if (typeof ids === "number") this.ids.push(ids);
    else this.ids.push(...ids);
    return this.take(false);
  }

  /** Ends the stream: returns what is still held back, partial characters included. */
  flush(): string {
    return this.take(true);
  }

  private decode(ids: readonly number[]): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens: this.skipSpecialTokens });
  }

  private take(final: boolean): string {
    if (this.read === this.ids.length) return "";
    const shown = this.decode(this.ids.slice(this.prefix, this.read));
    const all = this.decode(this.ids.slice(this.prefix));
    if (all.length <= shown.length || (!final && all.endsWith(REPLACEMENT))) return "";
    const piece = all.slice(shown.length);
    // keep the last shown tokens as context for the next piece; drop the rest
    this.ids = this.ids.slice(this.read);
    this.prefix = 0;
    this.read = this.ids.length;
    return piece;
  }
}

/**
 * transformers.js' TextStreamer shape: `put(ids)` as tokens arrive, `end()` when generation stops;
 * `onText` receives each piece of finished text.
 */
export class TextStreamer {
  private readonly decoder: IncrementalDecoder;

  constructor(
    tokenizer: Decoder,
    private readonly onText: (text: string) => void,
    opts: IncrementalDecoderOptions = {},
  ) {
    this.decoder = new IncrementalDecoder(tokenizer, opts);
  }

  put(ids: number | readonly number[]): void {
    const text = this.decoder.push(ids);
    if (text) this.onText(text);
  }

  end(): void {
    const text = this.decoder.flush();
    if (text) this.onText(text);
  }
}
