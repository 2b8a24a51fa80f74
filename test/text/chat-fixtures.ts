/** test/fixtures/chat/: templates, transformers' renderings, and model directories made whole with a real tokenizer.json. */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { ChatMessage, ToolDefinition } from "../../src/text/index.js";

export const CHAT = join(import.meta.dirname, "..", "fixtures", "chat");

export interface TemplateEntry {
  id: string;
  file: string;
  family: string;
  special: Record<string, string>;
  variants: Record<string, unknown>[];
  tokenizer?: string;
}

export interface ExpectedCase {
  template?: string;
  model?: string;
  conversation: string;
  kwargs: Record<string, unknown>;
  text?: string;
  error?: string;
  ids?: number[];
  specialTokensMap?: Record<string, string>;
}

export interface DecodeCase {
  model: string;
  text: string;
  ids: number[];
  decoded: string;
  withSpecial: number[];
}

export const manifest = JSON.parse(readFileSync(join(CHAT, "templates.json"), "utf8")) as { templates: TemplateEntry[] };
export const expected = JSON.parse(readFileSync(join(CHAT, "expected.json"), "utf8")) as {
  date: string;
  templates: ExpectedCase[];
  models: ExpectedCase[];
  decode: DecodeCase[];
  jinja: { name: string; text?: string; error?: string }[];
  roundTrip: { template: string; kind: "tool-call" | "reasoning"; prompt: string; completion: string }[];
};

export function templateSource(file: string): string {
  return readFileSync(join(CHAT, "templates", file), "utf8");
}

/** The tokenizer.json of a real vocabulary (gzipped in the fixtures). */
export function tokenizerJson(name: string): Buffer {
  return gunzipSync(readFileSync(join(CHAT, "tokenizers", `${name}.json.gz`)));
}

const made = new Map<string, string>();

/** A temporary copy of test/fixtures/chat/models/<model> with its tokenizer.json. */
export function modelDir(model: string): string {
  const cached = made.get(model);
  if (cached) return cached;
  const which = JSON.parse(readFileSync(join(CHAT, "models", "tokenizers.json"), "utf8")) as Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), `moekit-chat-${model}-`));
  cpSync(join(CHAT, "models", model), dir, { recursive: true });
  writeFileSync(join(dir, "tokenizer.json"), tokenizerJson(which[model]!));
  made.set(model, dir);
  return dir;
}

// The conversations of scripts/chat-template-fixtures.py (kept in step with it).
const WEATHER: ToolDefinition = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name, e.g. Paris" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["city"],
    },
  },
};
const CLOCK: ToolDefinition = {
  type: "function",
  function: { name: "get_time", description: "Current local time in a timezone", parameters: { type: "object", properties: { timezone: { type: "string" } }, required: ["timezone"] } },
};
const SYSTEM: ChatMessage = { role: "system", content: "You are a terse assistant." };
const user = (content: string): ChatMessage => ({ role: "user", content });

export interface Conversation {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  documents?: Record<string, unknown>[];
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
}

export const CONVERSATIONS: Record<string, Conversation> = {
  user: { messages: [user("Hello! What is 2+2?")] },
  "system-multi-turn": { messages: [SYSTEM, user("Name a prime."), { role: "assistant", content: "7" }, user("Another one?")] },
  "no-generation-prompt": { messages: [SYSTEM, user("Name a prime."), { role: "assistant", content: "7" }], add_generation_prompt: false },
  unicode: { messages: [user('Hi 你好 🙂! Ünïcödé «quotes» and "escapes" \\ here.')] },
  tools: { messages: [SYSTEM, user("What's the weather in Paris?")], tools: [WEATHER, CLOCK] },
  "tool-call-round-trip": {
    messages: [
      user("What's the weather in Paris?"),
      { role: "assistant", content: "", tool_calls: [{ id: "call12345", type: "function", function: { name: "get_weather", arguments: { city: "Paris", unit: "celsius" } } }] },
      { role: "tool", tool_call_id: "call12345", name: "get_weather", content: '{"temperature": 18, "sky": "clear"}' },
    ],
    tools: [WEATHER, CLOCK],
  },
  "reasoning-history": {
    messages: [user("What is 3*4?"), { role: "assistant", content: "12", reasoning_content: "3 times 4 is 12.", thinking: "3 times 4 is 12." }, user("And 5*6?")],
  },
  "whitespace-edges": {
    messages: [user("  padded question \n"), { role: "assistant", content: "<think>\n  plan it\n</think>\n\n  The answer.  \n" }, user("  and now?")],
  },
  "openai-tool-call": {
    messages: [
      user("What's the weather in Paris?"),
      { role: "assistant", content: null, tool_calls: [{ id: "call12345", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }] },
      { role: "tool", tool_call_id: "call12345", content: "18 C, clear" },
    ],
    tools: [WEATHER],
  },
  documents: {
    messages: [user("What is the capital of France?")],
    documents: [
      { title: "France", text: "Paris is the capital of France." },
      { title: "Germany", text: "Berlin is the capital of Germany." },
    ],
  },
  "continue-final-message": { messages: [user("Count to three."), { role: "assistant", content: "One, two," }], add_generation_prompt: false, continue_final_message: true },
};
