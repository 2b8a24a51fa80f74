/**
 * The output formats of our families' chat templates, and which one a template uses: the template
 * that writes `<tool_call>{json}</tool_call>` for an assistant's tool call is the one whose model
 * writes it, so the template source says how to read the model's text.
 */
import { HarmonyOutputParser } from "./harmony-parser.js";
import { TaggedOutputParser, type TaggedFormat } from "./tagged-parser.js";
import { cohereActions, deepseekR1, deepseekV31, glmXml, hermesJson, invokeXml, jsonList, kimiK2, qwenXml } from "./tool-call-syntax.js";
import type { OutputParser, OutputParserOptions } from "./types.js";

const THINK = { open: "<think>", close: "</think>" };

export const OUTPUT_FORMATS = {
  /** Text only. */
  plain: {},
  /** <think>...</think> then the answer (DeepSeek-R1 distills, QwQ). */
  think: { reasoning: THINK },
  /** <think> and <tool_call>{"name", "arguments"}</tool_call> (Qwen2.5, Qwen3, Granite 4, Hermes). */
  hermes: { reasoning: THINK, toolCalls: { open: "<tool_call>", close: "</tool_call>", syntax: hermesJson } },
  /** <think> and <tool_call><function=NAME><parameter=K>V</parameter></function></tool_call> (Qwen3-Coder, Qwen3.5). */
  "qwen3-coder": { reasoning: THINK, toolCalls: { open: "<tool_call>", close: "</tool_call>", syntax: qwenXml } },
  /** <think> and <tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value></tool_call> (GLM-4.5 / 4.6 / 4.7). */
  glm: { reasoning: THINK, toolCalls: { open: "<tool_call>", close: "</tool_call>", syntax: glmXml } },
  /** <think> and <minimax:tool_call><invoke name=...>...</invoke></minimax:tool_call> (MiniMax-M2). */
  "minimax-m2": { reasoning: THINK, toolCalls: { open: "<minimax:tool_call>", close: "</minimax:tool_call>", syntax: invokeXml("") } },
  /** <think> and <｜tool▁calls▁begin｜>NAME<｜tool▁sep｜>{json}... (DeepSeek-V3.1). */
  "deepseek-v3.1": { reasoning: THINK, toolCalls: { open: "<｜tool▁calls▁begin｜>", close: "<｜tool▁calls▁end｜>", syntax: deepseekV31 } },
  /** <think> and <｜tool▁calls▁begin｜>function<｜tool▁sep｜>NAME\n```json ... (DeepSeek-R1, V3). */
  "deepseek-r1": { reasoning: THINK, toolCalls: { open: "<｜tool▁calls▁begin｜>", close: "<｜tool▁calls▁end｜>", syntax: deepseekR1 } },
  /** <think> and <｜DSML｜function_calls><｜DSML｜invoke ...> (DeepSeek-V3.2). */
  "deepseek-v3.2": { reasoning: THINK, toolCalls: { open: "<｜DSML｜function_calls>", close: "</｜DSML｜function_calls>", syntax: invokeXml("｜DSML｜") } },
  /** <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0... (Kimi-K2). */
  "kimi-k2": { reasoning: THINK, toolCalls: { open: "<|tool_calls_section_begin|>", close: "<|tool_calls_section_end|>", syntax: kimiK2 } },
  /** [TOOL_CALLS][{"name", "arguments", "id"}] to the end (Mistral, Mixtral-8x22B). */
  mistral: { toolCalls: { open: "[TOOL_CALLS]", close: null, syntax: jsonList } },
  /** <think>/<response> and <|tool_call|>[{...}] to the end (Granite 3.x). */
  granite: { reasoning: THINK, toolCalls: { open: "<|tool_call|>", close: null, syntax: jsonList }, drop: ["<response>", "</response>"] },
  /** `function call<|role_sep|>\n{"name", "arguments"}` as its own message (GigaChat3). */
  gigachat: { toolCalls: { open: "function call<|role_sep|>", close: "<|message_sep|>", syntax: hermesJson }, drop: ["<|message_sep|>"] },
  /** <|START_THINKING|>, <|START_ACTION|>[...] and <|START_TEXT|> / <|START_RESPONSE|> (Cohere). */
  cohere: {
    reasoning: { open: "<|START_THINKING|>", close: "<|END_THINKING|>" },
    toolCalls: { open: "<|START_ACTION|>", close: "<|END_ACTION|>", syntax: cohereActions },
    drop: ["<|START_TEXT|>", "<|END_TEXT|>", "<|START_RESPONSE|>", "<|END_RESPONSE|>"],
  },
} satisfies Record<string, TaggedFormat>;

/** A tagged format by name, or "harmony" (gpt-oss). */
export type OutputFormatName = keyof typeof OUTPUT_FORMATS | "harmony";

/** The format a chat template writes assistant turns in, from the markers in its source. */
export function detectOutputFormat(template: string): OutputFormatName {
  const has = (s: string) => template.includes(s);
  if (has("<|channel|>")) return "harmony";
  if (has("｜DSML｜")) return "deepseek-v3.2";
  if (has("<｜tool▁calls▁begin｜>")) return has("```json") ? "deepseek-r1" : "deepseek-v3.1";
  if (has("<|tool_calls_section_begin|>")) return "kimi-k2";
  if (has("<minimax:tool_call>")) return "minimax-m2";
  if (has("<arg_key>")) return "glm";
  if (has("<tool_call>")) return has("<function=") ? "qwen3-coder" : "hermes";
  if (has("[TOOL_CALLS]")) return "mistral";
  if (has("<|tool_call|>")) return "granite";
  if (has("<|START_ACTION|>")) return "cohere";
  if (has("<|role_sep|>") && has("function call")) return "gigachat";
  if (has("<think>") || has("</think>")) return "think";
  return "plain";
}

/** An incremental parser for `format` (a name, or a chat template's source to detect it from). */
export function createOutputParser(format: OutputFormatName | { template: string }, opts: OutputParserOptions = {}): OutputParser {
  const name = typeof format === "string" ? format : detectOutputFormat(format.template);
  if (name === "harmony") return new HarmonyOutputParser(opts);
  const f: TaggedFormat | undefined = (OUTPUT_FORMATS as Record<string, TaggedFormat>)[name];
  if (!f) throw new Error(`unknown output format '${String(name)}' (known: ${[...Object.keys(OUTPUT_FORMATS), "harmony"].join(", ")})`);
  return new TaggedOutputParser(f, opts);
}
