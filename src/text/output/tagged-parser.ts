/**
 * The incremental parser of marker-delimited formats: text is content until a reasoning-open marker
 * (`<think>`), a tool-call-open marker (`<tool_call>`, `[TOOL_CALLS]`, ...) or a token to drop; a
 * possible marker split across chunks is held back until the next chunk decides it. Tool-call text is
 * parsed when its close marker arrives (or at the end for formats that have none); text that does not
 * parse is given back as content, never lost. Each content or reasoning run is trimmed at its ends.
 */
import type { ChatToolCall } from "../chat-template.js";
import type { ToolCallSyntax } from "./tool-call-syntax.js";
import { firstMarker, partialMarkerAt } from "./markers.js";
import { OutputAccumulator, type OutputDelta, type OutputParser, type OutputParserOptions, type ParsedOutput } from "./types.js";

export interface TaggedFormat {
  reasoning?: { open: string; close: string };
  toolCalls?: { open: string; close: string | null; syntax: ToolCallSyntax };
  /** Markers to drop wherever they appear (<response>, <|START_TEXT|>, ...). */
  drop?: readonly string[];
  /** Trim each run of content or reasoning (default true). */
  trim?: boolean;
}

type State = "content" | "reasoning" | "tool";

export class TaggedOutputParser implements OutputParser {
  private state: State = "content";
  private buffer = "";
  private toolBody = "";
  private calls = 0;
  private readonly out = new OutputAccumulator();
  private readonly drop: string[];
  private readonly trim: boolean;
  // the run being written: its channel, whether its start is still to trim, its held trailing whitespace
  private run: { channel: "content" | "reasoning"; leading: boolean; pending: string } | undefined;

  constructor(
    private readonly format: TaggedFormat,
    private readonly opts: OutputParserOptions = {},
  ) {
    // a tool-call close marker outside a call is dropped like any turn-end token
    const markers = new Set([format.reasoning?.open, format.reasoning?.close, format.toolCalls?.open]);
    this.drop = [...new Set([...(format.drop ?? []), ...(opts.dropTokens ?? [])])].filter((t) => t.length > 0 && !markers.has(t));
    this.trim = format.trim ?? true;
    const r = format.reasoning;
    if (r && opts.prompt !== undefined) {
      const tail = opts.prompt.trimEnd();
      if (tail.endsWith(r.open)) this.state = "reasoning";
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
    if (this.state === "tool") deltas.push(...this.endToolCalls(true));
    deltas.push(...this.endRun());
    return this.out.add(deltas);
  }

  /** The markers that mean something in the current state, each with what it does. */
  private markers(): [string, () => OutputDelta[]][] {
    const f = this.format;
    const list: [string, () => OutputDelta[]][] = [];
    if (this.state === "tool") {
      if (f.toolCalls!.close !== null) list.push([f.toolCalls!.close, () => this.endToolCalls(false)]);
      // a format whose calls run to the end of the turn: a turn-end token ends them
      else for (const d of this.drop) list.push([d, () => this.endToolCalls(true)]);
      return list;
    }
    const to = (s: State) => () => {
      const d = this.endRun();
      this.state = s;
      return d;
    };
    if (this.state === "content") {
      if (f.reasoning) list.push([f.reasoning.open, to("reasoning")], [f.reasoning.close, to("content")]); // a stray close: dropped
      if (f.toolCalls) list.push([f.toolCalls.open, to("tool")]);
    } else if (f.reasoning) {
      list.push([f.reasoning.close, to("content")]);
    }
    for (const d of this.drop) list.push([d, () => this.endRun()]);
    return list;
  }

  private drain(final: boolean): OutputDelta[] {
    const deltas: OutputDelta[] = [];
    for (;;) {
      const markers = this.markers();
      const hit = firstMarker(this.buffer, markers.map((m) => m[0]));
      if (hit) {
        deltas.push(...this.write(this.buffer.slice(0, hit.at)));
        this.buffer = this.buffer.slice(hit.at + hit.marker.length);
        deltas.push(...markers.find((m) => m[0] === hit.marker)![1]());
        continue;
      }
      const keep = final ? 0 : partialMarkerAt(this.buffer, markers.map((m) => m[0]));
      deltas.push(...this.write(this.buffer.slice(0, this.buffer.length - keep)));
      this.buffer = this.buffer.slice(this.buffer.length - keep);
      return deltas;
    }
  }

  private write(text: string): OutputDelta[] {
    if (text.length === 0) return [];
    if (this.state === "tool") {
      this.toolBody += text;
      return [];
    }
    const channel = this.state;
    if (!this.trim) return [{ type: channel, text }];
    if (this.run?.channel !== channel) this.run = { channel, leading: true, pending: "" };
    const r = this.run;
    if (r.leading) {
      text = text.trimStart();
      if (!text) return [];
      r.leading = false;
    }
    const all = r.pending + text;
    const body = all.trimEnd();
    r.pending = all.slice(body.length);
    return body ? [{ type: channel, text: body }] : [];
  }

  /** A marker ends the current run: its trailing whitespace goes, the next run starts trimmed. */
  private endRun(): OutputDelta[] {
    this.run = undefined;
    return [];
  }

  private endToolCalls(atEnd: boolean): OutputDelta[] {
    const tc = this.format.toolCalls!;
    const body = this.toolBody;
    this.toolBody = "";
    this.state = "content";
    let calls: ChatToolCall[];
    try {
      calls = tc.syntax(body, this.opts.tools);
    } catch {
      // not a tool call after all: the text goes back to the content, markers included
      const raw = tc.open + body + (atEnd || tc.close === null ? "" : tc.close);
      this.run = undefined;
      return this.write(raw);
    }
    return calls.map((call) => ({ type: "toolCall", index: this.calls++, call }));
  }
}
