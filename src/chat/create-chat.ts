/**
 * The one-call path: `const chat = await createChat("dir" | "owner/repo")`, then
 * `await chat.send("Hi")` or `for await (const piece of chat.stream("Hi"))`. The conversation is kept
 * (system prompt, user and assistant turns, tool results); each turn renders it with the chat template,
 * generates, and splits the model's text into the answer, the reasoning and tool calls.
 */
import type { GenerateOptions } from "../generation/options.js";
import { AutoModelForCausalLM, type FromPretrainedOptions } from "../pretrained/auto-model.js";
import type { MoeForCausalLM } from "../pretrained/moe-for-causal-lm.js";
import { Tensor } from "../tensor.js";
import { AutoTokenizer, tokenizerSourceKind } from "../text/auto-tokenizer.js";
import type { ChatMessage, ChatToolCall, ToolDefinition } from "../text/chat-template.js";
import type { OutputDelta } from "../text/output/types.js";
import type { MoekitTokenizer } from "../text/tokenizer-interface.js";
import { OutputStream } from "./output-stream.js";

/** Per-turn generation settings (eos and the token limit default from generation_config.json). */
export type ChatGenerateOptions = Omit<GenerateOptions, "attentionMask" | "onToken"> & {
  /** Stop strings: the answer ends before the first one. */
  stop?: string[];
};

export interface CreateChatOptions extends FromPretrainedOptions {
  /** The first message of every conversation (kept across reset()). */
  systemPrompt?: string;
  /** Tools the template shows the model; its tool calls come back parsed. */
  tools?: ToolDefinition[];
  /** Chat template variables: enable_thinking, reasoning_effort, ... */
  templateKwargs?: Record<string, unknown>;
  /** Defaults of every turn (a turn's options override them); maxNewTokens defaults to 512. */
  generation?: ChatGenerateOptions;
}

export interface ChatReply {
  content: string;
  /** The thinking, apart from the answer, when the model wrote any. */
  reasoningContent?: string;
  toolCalls: ChatToolCall[];
  /** eos: the model ended its turn; length: the token limit; stop: a stop string; aborted: the signal. */
  finishReason: "eos" | "length" | "stop" | "aborted";
  promptTokens: number;
  completionTokens: number;
  /** Milliseconds to the first token (prefill) and from it to the last (decode). */
  prefillMs: number;
  decodeMs: number;
}

/** What a turn takes: text of a user message, or a message (a tool result: { role: "tool", content, tool_call_id }). */
export type ChatInput = string | ChatMessage;

export class Chat {
  /** The conversation so far, as the chat template reads it. */
  messages: ChatMessage[] = [];
  private busy = false;

  constructor(
    readonly model: MoeForCausalLM,
    readonly tokenizer: MoekitTokenizer,
    private readonly opts: Omit<CreateChatOptions, keyof FromPretrainedOptions> = {},
  ) {
    if (tokenizer.chatTemplate === undefined) throw new Error(`${tokenizer.source}: the tokenizer has no chat template (chat_template.jinja or tokenizer_config.json's chat_template); a chat needs one`);
    this.reset();
  }

  /** Forget the conversation (the system prompt stays). */
  reset(): void {
    this.messages = this.opts.systemPrompt !== undefined ? [{ role: "system", content: this.opts.systemPrompt }] : [];
  }

  /** One turn, whole. */
  async send(input: ChatInput, opts: ChatGenerateOptions = {}): Promise<ChatReply> {
    const it = this.stream(input, opts);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }

  /** One turn, piece by piece (`{ type: "content" | "reasoning", text }` or `{ type: "toolCall", call }`); returns the reply. */
  async *stream(input: ChatInput, opts: ChatGenerateOptions = {}): AsyncGenerator<OutputDelta, ChatReply> {
    if (this.busy) throw new Error("chat: a turn is still running; wait for it (or abort it) before the next");
    this.busy = true;
    try {
      const message: ChatMessage = typeof input === "string" ? { role: "user", content: input } : input;
      if (message === null || typeof message !== "object" || typeof message.role !== "string") throw new Error("chat: send a string or a message { role, content }");
      const history = [...this.messages, message];
      const tools = this.opts.tools;
      const prompt = this.tokenizer.applyChatTemplate(history, { ...this.opts.templateKwargs, addGenerationPrompt: true, ...(tools ? { tools } : {}), tokenize: false });
      const ids = this.tokenizer.encode(prompt, { addSpecialTokens: false });
      const gen: ChatGenerateOptions = { maxNewTokens: 512, ...this.opts.generation, ...opts };
      const out = new OutputStream(this.tokenizer, { prompt, tools, stop: gen.stop });
      const { stop: _stop, ...generateOpts } = gen;
      const eos = new Set(this.eosIds(generateOpts));
      const t0 = performance.now();
      let tFirst = t0;
      let produced = 0;
      let last = -1;
      for await (const [id] of this.model.stream(Tensor.from(Int32Array.from(ids), [1, ids.length]), generateOpts)) {
        if (produced === 0) tFirst = performance.now();
        produced++;
        last = id!;
        for (const d of out.push(id!)) yield d;
        if (out.stopped) break;
        // let input through between tokens (a stop key, a disconnect): the cpu backend's steps are microtasks only
        await macrotask();
      }
      for (const d of out.finish()) yield d;
      const tEnd = performance.now();
      const parsed = out.result;
      const finishReason = out.stopped ? "stop" : eos.has(last) ? "eos" : gen.signal?.aborted ? "aborted" : "length";
      const reply: ChatReply = {
        content: parsed.content,
        ...(parsed.reasoningContent !== undefined ? { reasoningContent: parsed.reasoningContent } : {}),
        toolCalls: parsed.toolCalls,
        finishReason,
        promptTokens: ids.length,
        completionTokens: produced,
        prefillMs: tFirst - t0,
        decodeMs: tEnd - tFirst,
      };
      this.messages = [...history, assistantMessage(reply)];
      return reply;
    } finally {
      this.busy = false;
    }
  }

  /** Frees the model's weights; the chat cannot be used after. */
  dispose(): void {
    this.model.dispose();
  }

  private eosIds(opts: GenerateOptions): number[] {
    const e = opts.eosTokenId !== undefined ? opts.eosTokenId : (this.model.generationConfig?.eos_token_id ?? this.model.rawConfig.eos_token_id);
    return (Array.isArray(e) ? e : [e]).filter((x): x is number => Number.isInteger(x));
  }
}

const macrotask = (): Promise<void> =>
  new Promise((resolve) => ((globalThis as { setImmediate?: (f: () => void) => void }).setImmediate ?? ((f: () => void) => setTimeout(f, 0)))(resolve));

function assistantMessage(r: ChatReply): ChatMessage {
  return {
    role: "assistant",
    content: r.content,
    ...(r.reasoningContent !== undefined ? { reasoning_content: r.reasoningContent } : {}),
    ...(r.toolCalls.length > 0 ? { tool_calls: r.toolCalls } : {}),
  };
}

/**
 * A chat over a checkpoint directory or a Hugging Face repo id (model and tokenizer from the same
 * place). A `.gguf` file is a separate loader that plugs in here (not yet: a clear error says so).
 */
export async function createChat(source: string, opts: CreateChatOptions = {}): Promise<Chat> {
  if (typeof source !== "string" || source.length === 0) throw new TypeError("createChat: expected a checkpoint directory or a repo id");
  if (tokenizerSourceKind(source) === "gguf") throw new Error(`createChat: ${source}: .gguf models are not supported yet (use the checkpoint's directory or repo id)`);
  const { systemPrompt, tools, templateKwargs, generation, ...load } = opts;
  const model = await AutoModelForCausalLM.fromPretrained(source, load);
  try {
    const tokenizer = await AutoTokenizer.fromPretrained(source, { revision: load.revision });
    return new Chat(model, tokenizer, { systemPrompt, tools, templateKwargs, generation });
  } catch (e) {
    model.dispose();
    throw e;
  }
}
