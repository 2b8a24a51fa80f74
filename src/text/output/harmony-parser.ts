/**
 * gpt-oss's harmony format, read incrementally: messages of a header (`assistant`, `to=functions.NAME`,
 * `<|channel|>analysis|commentary|final`, `<|constrain|>json`) then `<|message|>` and a body ending at
 * `<|end|>` (another message follows), `<|return|>` (done) or `<|call|>` (a tool call, done). The
 * analysis channel is the thinking, final (and commentary without a recipient: the preamble shown to the
 * user) the answer, and a message to `functions.NAME` a tool call whose body holds the JSON arguments.
 * Needs the text decoded with special tokens kept: the markers are special tokens.
 */
import type { ChatToolCall } from "../chat-template.js";
import { firstMarker, partialMarkerAt } from "./markers.js";
import { OutputAccumulator, type OutputDelta, type OutputParser, type OutputParserOptions, type ParsedOutput } from "./types.js";

const START = "<|start|>";
const MESSAGE = "<|message|>";
const END = "<|end|>";
const RETURN = "<|return|>";
const CALL = "<|call|>";

interface Header {
  channel?: string;
  recipient?: string;
}

function parseHeader(text: string): Header {
  const channel = /<\|channel\|>\s*([\w-]+)/.exec(text)?.[1];
  const recipient = /\bto=([^\s<]+)/.exec(text)?.[1];
  return { ...(channel ? { channel } : {}), ...(recipient ? { recipient } : {}) };
}

type State = "header" | "body" | "between";

export class HarmonyOutputParser implements OutputParser {
  private state: State = "header";
  private buffer = "";
  private header = "";
  /** How much of `header` the prompt wrote (`assistant` after its last <|start|>). */
  private headerFromPrompt = 0;
  private current: Header = {};
  private toolArgs = "";
  private sawMessage = false;
  private calls = 0;
  private readonly out = new OutputAccumulator();
  private readonly drop: string[];

  constructor(opts: OutputParserOptions = {}) {
    const own = new Set([START, MESSAGE, END, RETURN, CALL, "<|channel|>", "<|constrain|>"]);
    this.drop = (opts.dropTokens ?? []).filter((t) => t.length > 0 && !own.has(t));
    const prompt = opts.prompt;
    const at = prompt?.lastIndexOf(START) ?? -1;
    if (prompt !== undefined && at >= 0) {
      const tail = prompt.slice(at + START.length);
      const m = tail.indexOf(MESSAGE);
      const closed = [END, RETURN, CALL].some((x) => tail.includes(x));
      if (m >= 0 && !closed) {
        this.current = parseHeader(tail.slice(0, m));
        this.state = "body";
        this.sawMessage = true;
      } else if (!closed) {
        this.header = tail;
        this.headerFromPrompt = tail.length;
      }
      else this.state = "between";
    }
  }

  get result(): ParsedOutput {
    return this.out.result;
  }

  push(text: string): OutputDelta[] {
    if (typeof text !== "string") throw new TypeError(`OutputParser.push: expected text, got ${typeof text}`);
    this.buffer += text;
    return this.out.add(this.drain(false));
  }

  finish(): OutputDelta[] {
    const deltas = this.drain(true);
    if (this.state === "body") deltas.push(...this.endMessage());
    else if (this.state === "header" && !this.sawMessage && this.header.slice(this.headerFromPrompt).trim()) {
      // no harmony at all: the model wrote plain text
      deltas.push({ type: "content", text: this.header.slice(this.headerFromPrompt).trim() });
    }
    this.header = "";
    return this.out.add(deltas);
  }

  private markers(): string[] {
    if (this.state === "body") return [END, RETURN, CALL, START, ...this.drop];
    if (this.state === "header") return [MESSAGE, START, ...this.drop];
    return [START, ...this.drop];
  }

  private drain(final: boolean): OutputDelta[] {
    const deltas: OutputDelta[] = [];
    for (;;) {
      const markers = this.markers();
      const hit = firstMarker(this.buffer, markers);
      if (!hit) {
        const keep = final ? 0 : partialMarkerAt(this.buffer, markers);
        deltas.push(...this.write(this.buffer.slice(0, this.buffer.length - keep)));
        this.buffer = this.buffer.slice(this.buffer.length - keep);
        return deltas;
      }
      deltas.push(...this.write(this.buffer.slice(0, hit.at)));
      this.buffer = this.buffer.slice(hit.at + hit.marker.length);
      deltas.push(...this.onMarker(hit.marker));
    }
  }

  private onMarker(m: string): OutputDelta[] {
    if (this.drop.includes(m)) return [];
    if (m === START) {
      const d = this.state === "body" ? this.endMessage() : [];
      this.state = "header";
      this.header = "";
      this.headerFromPrompt = 0;
      return d;
    }
    if (m === MESSAGE) {
      this.current = parseHeader(this.header);
      this.header = "";
      this.state = "body";
      this.sawMessage = true;
      return [];
    }
    // END, RETURN, CALL close the message
    const d = this.endMessage();
    this.state = "between";
    return d;
  }

  private write(text: string): OutputDelta[] {
    if (!text) return [];
    if (this.state === "header") {
      this.header += text;
      return [];
    }
    if (this.state !== "body") return [];
    if (this.current.recipient) {
      this.toolArgs += text;
      return [];
    }
    return [{ type: this.current.channel === "analysis" ? "reasoning" : "content", text }];
  }

  private endMessage(): OutputDelta[] {
    const recipient = this.current.recipient;
    this.current = {};
    if (!recipient) return [];
    const raw = this.toolArgs;
    this.toolArgs = "";
    let args: Record<string, unknown> | string = raw;
    try {
      const v = JSON.parse(raw) as unknown;
      if (v !== null && typeof v === "object" && !Array.isArray(v)) args = v as Record<string, unknown>;
    } catch {
      // arguments that are not JSON (a python tool's code) stay as written
    }
    const call: ChatToolCall = { type: "function", function: { name: recipient.replace(/^functions\./, ""), arguments: args } };
    return [{ type: "toolCall", index: this.calls++, call }];
  }
}
