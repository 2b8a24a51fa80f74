/**
 * transformers' apply_chat_template, minus tokenizing: which template (get_chat_template) and how it is
 * rendered (render_jinja_template), including continue_final_message.
 */
import { ChatTemplateError, renderTemplate } from "./jinja.js";

/** A message as chat templates read it: snake_case keys, as in transformers (`tool_calls`, `reasoning_content`). */
export interface ChatMessage {
  role: string;
  content?: string | ChatContentPart[] | null;
  tool_calls?: ChatToolCall[];
  [key: string]: unknown;
}

export interface ChatContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** A tool call as chat templates read it (and as the output parsers return it). */
export interface ChatToolCall {
  id?: string;
  type?: "function";
  function: { name: string; arguments: Record<string, unknown> | string };
}

/** A tool as a JSON schema, OpenAI style: `{ type: "function", function: { name, description, parameters } }`. */
export type ToolDefinition = Record<string, unknown>;

/** One template, or several by name ("default", "tool_use", "rag", ...), as tokenizer_config.json holds them. */
export type ChatTemplates = string | Readonly<Record<string, string>>;

export interface ChatTemplateOptions {
  /** End with the header of a new assistant turn (default false, as in transformers). */
  addGenerationPrompt?: boolean;
  /** Leave the final message open so the model continues it; `true` continues `content`, a string names the field. */
  continueFinalMessage?: boolean | string;
  tools?: readonly ToolDefinition[];
  documents?: readonly Record<string, unknown>[];
  /** The name of one of the tokenizer's templates, or a template's source. */
  chatTemplate?: string;
  /** The date `strftime_now` formats (default: now). */
  currentDate?: Date;
}

/** Options this module reads; every other key of the options object goes to the template (enable_thinking, reasoning_effort, ...). */
export const CHAT_TEMPLATE_OPTION_KEYS: ReadonlySet<string> = new Set(["addGenerationPrompt", "continueFinalMessage", "tools", "documents", "chatTemplate", "currentDate", "tokenize"]);

/** get_chat_template: a name picks one of several templates; with none given, tools pick "tool_use", else "default". */
export function selectChatTemplate(templates: ChatTemplates | undefined, chosen?: string, tools?: readonly unknown[]): { source: string; label: string } {
  if (templates !== undefined && typeof templates !== "string") {
    if (chosen !== undefined && Object.hasOwn(templates, chosen)) return { source: templates[chosen]!, label: `'${chosen}'` };
    if (chosen === undefined) {
      if (tools !== undefined && Object.hasOwn(templates, "tool_use")) return { source: templates.tool_use!, label: "'tool_use'" };
      if (Object.hasOwn(templates, "default")) return { source: templates.default!, label: "'default'" };
      throw new ChatTemplateError(`the tokenizer has several chat templates (${Object.keys(templates).join(", ")}) and none is named 'default': pass chatTemplate with one of these names`);
    }
    return { source: chosen, label: "given as a string" };
  }
  if (chosen !== undefined) return { source: chosen, label: "given as a string" };
  if (templates !== undefined) return { source: templates, label: "" };
  throw new ChatTemplateError("the tokenizer has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json): pass chatTemplate");
}

const CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG ";

function checkMessages(messages: unknown): asserts messages is ChatMessage[] {
  if (!Array.isArray(messages)) throw new TypeError("applyChatTemplate: messages must be an array of { role, content } objects");
  if (messages.length === 0) throw new TypeError("applyChatTemplate: cannot apply a chat template to an empty conversation");
  messages.forEach((m, i) => {
    if (m === null || typeof m !== "object" || Array.isArray(m)) throw new TypeError(`applyChatTemplate: message ${i} is not an object`);
    if (typeof (m as { role?: unknown }).role !== "string") throw new TypeError(`applyChatTemplate: message ${i} has no string role`);
  });
}

function checkList(name: string, v: unknown): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.some((x) => x === null || typeof x !== "object" || Array.isArray(x))) throw new TypeError(`applyChatTemplate: ${name} must be an array of objects`);
}

/** Appends the continue tag to the final message's `field` (its last text part for a list of parts); returns the original text. */
function tagFinalMessage(messages: ChatMessage[], field: string, source: string): { messages: ChatMessage[]; original: string } {
  const copy = structuredClone(messages);
  const last = copy[copy.length - 1]!;
  const value = last[field];
  if (value === undefined || value === null) throw new TypeError(`continueFinalMessage is set but the final message has no "${field}" to continue`);
  if (!source.includes(field)) throw new TypeError(`continueFinalMessage is set to "${field}" but this is not an accepted field in the chat template`);
  if (Array.isArray(value)) {
    for (let i = value.length - 1; i >= 0; i--) {
      const part = value[i] as ChatContentPart;
      if (part && typeof part.text === "string") {
        const original = part.text;
        part.text = original + CONTINUE_TAG;
        return { messages: copy, original };
      }
    }
    throw new TypeError("continueFinalMessage is set but the final message has no text to continue");
  }
  const original = String(value);
  last[field] = original + CONTINUE_TAG;
  return { messages: copy, original };
}

/**
 * Renders `messages` with the chosen template. `variables` are the special tokens overlaid by the
 * caller's template kwargs (transformers: `{**special_tokens_map, **kwargs}`).
 */
export function renderChatTemplate(templates: ChatTemplates | undefined, messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}, variables: Record<string, unknown> = {}): string {
  checkMessages(messages);
  checkList("tools", opts.tools);
  checkList("documents", opts.documents);
  const cont = opts.continueFinalMessage ?? false;
  if (cont !== false && opts.addGenerationPrompt) {
    throw new TypeError("continueFinalMessage and addGenerationPrompt are not compatible: continue the final message, or prompt a new assistant message");
  }
  const { source, label } = selectChatTemplate(templates, opts.chatTemplate, opts.tools);
  let conversation: readonly ChatMessage[] = messages;
  let original: string | undefined;
  if (cont !== false) ({ messages: conversation, original } = tagFinalMessage([...messages], cont === true ? "content" : cont, source));
  const date = opts.currentDate;
  const rendered = renderTemplate(
    source,
    {
      ...variables,
      messages: conversation,
      tools: opts.tools ?? null,
      documents: opts.documents ?? null,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    },
    { label, now: date ? () => date : undefined },
  );
  if (original === undefined) return rendered;
  const tag = CONTINUE_TAG.trim();
  if (!rendered.includes(original.trim()) || !rendered.includes(tag)) {
    throw new ChatTemplateError("continueFinalMessage is set but the final message does not appear in the rendered chat: the template drops part of it");
  }
  const at = rendered.lastIndexOf(tag);
  // A template that keeps the message's spacing shows the whole tag; one that trims leaves trailing spaces to drop.
  return rendered.slice(at, at + CONTINUE_TAG.length) === CONTINUE_TAG ? rendered.slice(0, at) : rendered.slice(0, at).trimEnd();
}
