/**
 * The tool-call syntaxes of our families' chat templates, read back into calls. Each parser takes the
 * text between the format's open and close markers (or to the end) and returns the calls in it, or
 * throws when the text is not that syntax (the caller then keeps it as text).
 */
import type { ChatToolCall, ToolDefinition } from "../chat-template.js";

export type ToolCallSyntax = (body: string, tools?: readonly ToolDefinition[]) => ChatToolCall[];

const call = (name: string, args: Record<string, unknown> | string, id?: string): ChatToolCall => ({
  ...(id !== undefined ? { id } : {}),
  type: "function",
  function: { name, arguments: args },
});

function object(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Arguments given as an object, or as a JSON string of one (OpenAI style); anything else stays a string. */
function argumentsOf(v: unknown): Record<string, unknown> | string {
  if (v === undefined || v === null) return {};
  if (typeof v === "string") {
    try {
      return object(JSON.parse(v), "arguments");
    } catch {
      return v;
    }
  }
  return object(v, "arguments");
}

function nameOf(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length === 0) throw new Error(`${what} has no function name`);
  return v;
}

/** `{"name": ..., "arguments": {...}}`: Hermes / Qwen2.5 / Qwen3 / Granite 4 inside <tool_call>. */
export const hermesJson: ToolCallSyntax = (body) => {
  const o = object(JSON.parse(body.trim()), "tool call");
  return [call(nameOf(o.name, "tool call"), argumentsOf(o.arguments ?? o.parameters))];
};

/** `[{"name": ..., "arguments": {...}, "id"?: ...}, ...]`: Mistral's [TOOL_CALLS], Granite 3's <|tool_call|>. */
export const jsonList: ToolCallSyntax = (body) => {
  const list = JSON.parse(body.trim()) as unknown;
  const items = Array.isArray(list) ? list : [list];
  return items.map((item, i) => {
    const o = object(item, `tool call ${i}`);
    return call(nameOf(o.name, `tool call ${i}`), argumentsOf(o.arguments ?? o.parameters), typeof o.id === "string" ? o.id : undefined);
  });
};

/** `[{"tool_call_id": "0", "tool_name": ..., "parameters": {...}}]`: Cohere's <|START_ACTION|>. */
export const cohereActions: ToolCallSyntax = (body) => {
  const list = JSON.parse(body.trim()) as unknown;
  if (!Array.isArray(list)) throw new Error("the action is not a JSON list");
  return list.map((item, i) => {
    const o = object(item, `action ${i}`);
    return call(nameOf(o.tool_name, `action ${i}`), argumentsOf(o.parameters), typeof o.tool_call_id === "string" ? o.tool_call_id : undefined);
  });
};

/** The JSON schema type of a tool's parameter, if the tools say. */
function parameterType(tools: readonly ToolDefinition[] | undefined, fn: string, param: string): unknown {
  for (const t of tools ?? []) {
    const f = (t.function ?? t) as { name?: unknown; parameters?: { properties?: Record<string, { type?: unknown }> } };
    if (f.name === fn) return f.parameters?.properties?.[param]?.type;
  }
  return undefined;
}

/**
 * A value written as text by an XML-style syntax: templates write strings as they are and other values
 * as JSON (or Python's str: True, None). A parameter the schema declares a string stays as written.
 */
function typedValue(raw: string, type: unknown): unknown {
  if (type === "string" || (Array.isArray(type) && type.includes("string") && type.length === 1)) return raw;
  const t = raw.trim();
  if (t === "True" || t === "False") return t === "True";
  if (t === "None") return null;
  try {
    return JSON.parse(t);
  } catch {
    return raw;
  }
}

function matchAll(re: RegExp, s: string): RegExpExecArray[] {
  return [...s.matchAll(re)];
}

/** `<function=NAME><parameter=KEY>\nVALUE\n</parameter>...</function>`: Qwen3-Coder / Qwen3.5 inside <tool_call>. */
export const qwenXml: ToolCallSyntax = (body, tools) => {
  const fns = matchAll(/<function=([^>\n]+)>([\s\S]*?)<\/function>/g, body);
  if (fns.length === 0) throw new Error("no <function=...> in the tool call");
  return fns.map(([, name, inner]) => {
    const args: Record<string, unknown> = {};
    for (const [, key, value] of matchAll(/<parameter=([^>\n]+)>\n?([\s\S]*?)\n?<\/parameter>/g, inner!)) {
      args[key!.trim()] = typedValue(value!, parameterType(tools, name!.trim(), key!.trim()));
    }
    return call(name!.trim(), args);
  });
};

/** `NAME<arg_key>K</arg_key><arg_value>V</arg_value>...`: GLM-4.5 / 4.6 / 4.7 inside <tool_call>. */
export const glmXml: ToolCallSyntax = (body, tools) => {
  const at = body.indexOf("<arg_key>");
  const name = (at < 0 ? body : body.slice(0, at)).trim();
  if (!name || /[<>\s]/.test(name)) throw new Error("no function name before the arguments");
  const args: Record<string, unknown> = {};
  for (const [, key, value] of matchAll(/<arg_key>([\s\S]*?)<\/arg_key>\s*<arg_value>([\s\S]*?)<\/arg_value>/g, body)) {
    args[key!.trim()] = typedValue(value!, parameterType(tools, name, key!.trim()));
  }
  return [call(name, args)];
};

/**
 * `<invoke name="NAME"><parameter name="K">V</parameter></invoke>`: MiniMax-M2 inside
 * <minimax:tool_call>; DeepSeek-V3.2's DSML is the same with a `｜DSML｜` prefix on each tag and a
 * `string="true|false"` attribute saying whether V is a string or JSON.
 */
export function invokeXml(prefix: string): ToolCallSyntax {
  const p = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const invoke = new RegExp(`<${p}invoke name="([^"]+)">([\\s\\S]*?)</${p}invoke>`, "g");
  const param = new RegExp(`<${p}parameter name="([^"]+)"(?: string="(true|false)")?>([\\s\\S]*?)</${p}parameter>`, "g");
  return (body, tools) => {
    const found = matchAll(invoke, body);
    if (found.length === 0) throw new Error("no <invoke name=...> in the tool calls");
    return found.map(([, name, inner]) => {
      const args: Record<string, unknown> = {};
      for (const [, key, isString, value] of matchAll(param, inner!)) {
        args[key!] = isString === "true" ? value : isString === "false" ? JSON.parse(value!) : typedValue(value!, parameterType(tools, name!, key!));
      }
      return call(name!, args);
    });
  };
}

const DS_CALL = "<｜tool▁call▁begin｜>";
const DS_SEP = "<｜tool▁sep｜>";
const DS_END = "<｜tool▁call▁end｜>";

function deepseekCalls(body: string): string[] {
  const parts = matchAll(new RegExp(`${DS_CALL}([\\s\\S]*?)${DS_END}`, "g"), body).map((m) => m[1]!);
  if (parts.length === 0) throw new Error("no <｜tool▁call▁begin｜> in the tool calls");
  return parts;
}

/** `<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{json}<｜tool▁call▁end｜>`: DeepSeek-V3.1. */
export const deepseekV31: ToolCallSyntax = (body) =>
  deepseekCalls(body).map((c) => {
    const at = c.indexOf(DS_SEP);
    if (at < 0) throw new Error("no <｜tool▁sep｜> in a tool call");
    return call(c.slice(0, at).trim(), argumentsOf(c.slice(at + DS_SEP.length).trim()));
  });

/** `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{json}\n```<｜tool▁call▁end｜>`: DeepSeek-R1 / V3. */
export const deepseekR1: ToolCallSyntax = (body) =>
  deepseekCalls(body).map((c) => {
    const m = /^\s*\w*<｜tool▁sep｜>([^\n]+)\n```(?:json)?\n([\s\S]*?)\n?```\s*$/.exec(c);
    if (!m) throw new Error("a tool call is not TYPE<｜tool▁sep｜>NAME + a ```json block");
    return call(m[1]!.trim(), argumentsOf(m[2]!));
  });

/** `<|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{json}<|tool_call_end|>`: Kimi-K2. */
export const kimiK2: ToolCallSyntax = (body) => {
  const found = matchAll(/<\|tool_call_begin\|>([\s\S]*?)<\|tool_call_argument_begin\|>([\s\S]*?)<\|tool_call_end\|>/g, body);
  if (found.length === 0) throw new Error("no <|tool_call_begin|> in the tool calls");
  return found.map(([, id, args]) => {
    const m = /^(?:functions\.)?([^:]+)(?::\d+)?$/.exec(id!.trim());
    if (!m) throw new Error(`tool call id '${id}' is not functions.NAME:INDEX`);
    return call(m[1]!, argumentsOf(args!.trim()), id!.trim());
  });
};
