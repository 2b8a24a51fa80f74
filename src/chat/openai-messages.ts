/**
 * OpenAI-style chat messages as chat templates expect them: `content: null` and lists of text parts
 * become strings, tool-call `arguments` given as JSON strings become objects (several templates
 * iterate them), and "developer" is the system role.
 */
import type { ChatMessage, ChatToolCall } from "../text/chat-template.js";

export interface OpenAIMessage {
  role: string;
  content?: string | { type: string; text?: string }[] | null;
  name?: string;
  tool_calls?: { id?: string; type?: string; function: { name: string; arguments?: string | Record<string, unknown> } }[] | null;
  tool_call_id?: string;
  reasoning_content?: string | null;
}

function text(content: OpenAIMessage["content"]): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  return content.map((p) => (p.type === "text" && typeof p.text === "string" ? p.text : "")).join("");
}

function args(a: string | Record<string, unknown> | undefined): Record<string, unknown> | string {
  if (a === undefined) return {};
  if (typeof a !== "string") return a;
  try {
    const v: unknown = JSON.parse(a);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : a;
  } catch {
    return a;
  }
}

export function templateMessages(messages: readonly OpenAIMessage[]): ChatMessage[] {
  return messages.map((m) => {
    const out: ChatMessage = { role: m.role === "developer" ? "system" : m.role, content: text(m.content) };
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (typeof m.reasoning_content === "string") out.reasoning_content = m.reasoning_content;
    if (m.tool_calls && m.tool_calls.length > 0) {
      out.tool_calls = m.tool_calls.map((c): ChatToolCall => ({ ...(c.id ? { id: c.id } : {}), type: "function", function: { name: c.function.name, arguments: args(c.function.arguments) } }));
    }
    return out;
  });
}
