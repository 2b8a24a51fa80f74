/** What the output parsers give back: the answer, the thinking apart from it, and structured tool calls. */
import type { ChatToolCall, ToolDefinition } from "../chat-template.js";

/** One piece of parsed output, in the order the model produced it. */
export type OutputDelta =
  | { type: "content"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "toolCall"; index: number; call: ChatToolCall };

export interface ParsedOutput {
  /** The answer, without thinking, tool-call syntax or turn-end tokens. */
  content: string;
  /** The thinking (Qwen3's <think>, gpt-oss's analysis channel, ...), absent when there is none. */
  reasoningContent?: string;
  /** Tool calls as chat templates take them back: arguments as an object where they are JSON. */
  toolCalls: ChatToolCall[];
}

/** An incremental parser: feed text as it is decoded (with special tokens kept), then finish(). */
export interface OutputParser {
  push(text: string): OutputDelta[];
  finish(): OutputDelta[];
  /** Everything parsed so far. */
  readonly result: ParsedOutput;
}

export interface OutputParserOptions {
  /** The rendered prompt: a template that opens the thinking (`<think>\n`) puts the parser in it. */
  prompt?: string;
  /** Turn-end and other special tokens to drop from the text (<|im_end|>, </s>, ...). */
  dropTokens?: readonly string[];
  /** The tools offered: their JSON schemas type XML-style arguments ("7" stays a string for a string parameter). */
  tools?: readonly ToolDefinition[];
}

/** Collects deltas into a ParsedOutput. */
export class OutputAccumulator {
  private content = "";
  private reasoning: string | undefined;
  private readonly calls: ChatToolCall[] = [];

  add(deltas: readonly OutputDelta[]): OutputDelta[] {
    for (const d of deltas) {
      if (d.type === "content") this.content += d.text;
      else if (d.type === "reasoning") this.reasoning = (this.reasoning ?? "") + d.text;
      else this.calls.push(d.call);
    }
    return deltas as OutputDelta[];
  }

  get result(): ParsedOutput {
    return { content: this.content, ...(this.reasoning !== undefined ? { reasoningContent: this.reasoning } : {}), toolCalls: [...this.calls] };
  }
}
