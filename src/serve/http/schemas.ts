/**
 * JSON schemas of the OpenAI request bodies this server takes (the fields it reads; others are ignored,
 * as OpenAI ignores them). Types are strict: no coercion ("1" is not a number).
 */
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: "null" }] });

const sampling = {
  model: { type: "string" },
  max_tokens: nullable({ type: "integer", minimum: 1 }),
  temperature: nullable({ type: "number", minimum: 0, maximum: 2 }),
  top_p: nullable({ type: "number", exclusiveMinimum: 0, maximum: 1 }),
  seed: nullable({ type: "integer" }),
  n: nullable({ type: "integer", minimum: 1, maximum: 1 }),
  stop: nullable({ anyOf: [{ type: "string" }, { type: "array", items: { type: "string", minLength: 1 }, maxItems: 4 }] }),
  stream: nullable({ type: "boolean" }),
  stream_options: nullable({ type: "object", properties: { include_usage: { type: "boolean" } } }),
  presence_penalty: nullable({ type: "number", minimum: -2, maximum: 2 }),
  frequency_penalty: nullable({ type: "number", minimum: -2, maximum: 2 }),
  logprobs: nullable({ type: "boolean", const: false }),
  user: { type: "string" },
} as const;

const textPart = { type: "object", required: ["type"], properties: { type: { type: "string" }, text: { type: "string" } } };

const toolCall = {
  type: "object",
  required: ["function"],
  properties: {
    id: { type: "string" },
    type: { type: "string" },
    function: {
      type: "object",
      required: ["name"],
      properties: { name: { type: "string" }, arguments: { anyOf: [{ type: "string" }, { type: "object" }] } },
    },
  },
};

const message = {
  type: "object",
  required: ["role"],
  properties: {
    role: { enum: ["system", "developer", "user", "assistant", "tool"] },
    content: nullable({ anyOf: [{ type: "string" }, { type: "array", items: textPart }] }),
    name: { type: "string" },
    tool_calls: nullable({ type: "array", items: toolCall }),
    tool_call_id: { type: "string" },
    reasoning_content: nullable({ type: "string" }),
  },
};

const tool = {
  type: "object",
  required: ["type", "function"],
  properties: {
    type: { const: "function" },
    function: {
      type: "object",
      required: ["name"],
      properties: { name: { type: "string", minLength: 1 }, description: { type: "string" }, parameters: { type: "object" } },
    },
  },
};

export const chatCompletionSchema = {
  type: "object",
  required: ["messages"],
  properties: {
    ...sampling,
    messages: { type: "array", minItems: 1, items: message },
    max_completion_tokens: nullable({ type: "integer", minimum: 1 }),
    tools: nullable({ type: "array", items: tool }),
    tool_choice: nullable({ anyOf: [{ enum: ["none", "auto", "required"] }, { type: "object" }] }),
    parallel_tool_calls: nullable({ type: "boolean" }),
    reasoning_effort: nullable({ type: "string" }),
    chat_template_kwargs: nullable({ type: "object" }),
    top_logprobs: nullable({ type: "integer", minimum: 0, maximum: 0 }),
  },
} as const;

export const completionSchema = {
  type: "object",
  required: ["prompt"],
  properties: {
    ...sampling,
    prompt: {
      anyOf: [
        { type: "string" },
        { type: "array", items: { type: "string" }, minItems: 1, maxItems: 1 },
        { type: "array", items: { type: "integer", minimum: 0 }, minItems: 1 },
      ],
    },
    echo: nullable({ type: "boolean" }),
    best_of: nullable({ type: "integer", minimum: 1, maximum: 1 }),
    suffix: nullable({ type: "string", maxLength: 0 }),
  },
} as const;
