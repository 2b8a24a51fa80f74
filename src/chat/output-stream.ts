/**
 * From generated token ids to what a chat shows: whole characters (IncrementalDecoder), cut at stop
 * strings, then split into the answer, the reasoning and tool calls by the chat template's output
 * format (src/text/output). `raw` mode (completions) skips the parser and the special tokens.
 */
import type { ToolDefinition } from "../text/chat-template.js";
import type { OutputDelta, OutputParser, ParsedOutput } from "../text/output/types.js";
import { IncrementalDecoder } from "../text/streamer.js";
import type { MoekitTokenizer } from "../text/tokenizer-interface.js";
import { StopStrings } from "./stop-strings.js";

export interface OutputStreamOptions {
  /** The rendered prompt (a template that opens the thinking starts the parser in it). */
  prompt?: string;
  tools?: readonly ToolDefinition[];
  stop?: readonly string[];
  /** Plain text, no reasoning / tool-call parsing, special tokens dropped (completions). */
  raw?: boolean;
  /** A template name or source, as for applyChatTemplate (picks the output format). */
  chatTemplate?: string;
}

export class OutputStream {
  private readonly decoder: IncrementalDecoder;
  private readonly stops: StopStrings;
  private readonly parser?: OutputParser;
  private text = "";
  /** A stop string was reached: nothing more is taken. */
  stopped = false;

  constructor(tokenizer: MoekitTokenizer, opts: OutputStreamOptions = {}) {
    this.decoder = new IncrementalDecoder(tokenizer, { skipSpecialTokens: opts.raw === true });
    this.stops = new StopStrings(opts.stop ?? []);
    if (!opts.raw) this.parser = tokenizer.createOutputParser({ prompt: opts.prompt, tools: opts.tools, chatTemplate: opts.chatTemplate });
  }

  /** The deltas one more token completes. */
  push(id: number): OutputDelta[] {
    if (this.stopped) return [];
    return this.take(this.decoder.push(id), false);
  }

  /** The end of generation: what was held back. */
  finish(): OutputDelta[] {
    const out = this.stopped ? [] : this.take(this.decoder.flush(), true);
    if (this.parser) out.push(...this.parser.finish());
    return out;
  }

  /** Everything so far: raw text, or the parsed answer, reasoning and tool calls. */
  get result(): ParsedOutput {
    return this.parser ? this.parser.result : { content: this.text, toolCalls: [] };
  }

  private take(piece: string, final: boolean): OutputDelta[] {
    const r = this.stops.push(piece);
    let text = r.text;
    if (r.stopped) this.stopped = true;
    else if (final) text += this.stops.flush();
    if (!text) return [];
    if (!this.parser) {
      this.text += text;
      return [{ type: "content", text }];
    }
    return this.parser.push(text);
  }
}
