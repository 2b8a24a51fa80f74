/**
 * `moekit chat <dir|repo> [--system TEXT] [options]`: a multi-turn conversation in the terminal. The
 * answer streams as it is generated (whole characters only), the model's thinking dimmed apart from
 * it; after each turn, its tokens and tokens/s. /reset starts over (the system prompt stays), /exit or
 * Ctrl-D leaves, Ctrl-C stops a turn that is running.
 */
import { createInterface } from "node:readline";
import { Chat, type ChatGenerateOptions } from "../chat/create-chat.js";
import { loadModelAndTokenizer, MODEL_FLAGS, MODEL_FLAGS_USAGE, numberFlag, parseFlags } from "./load-model.js";

const USAGE = `Usage: moekit chat <dir|repo> [options]
  --system TEXT            system prompt (kept across /reset)
  --max-new-tokens N       per answer (default 512)
  --temperature T          sample with temperature T (default: the model's generation_config; 0 = greedy)
  --top-p P, --seed S
  --no-think               enable_thinking=false for templates that think (Qwen3, ...)
${MODEL_FLAGS_USAGE}
In the chat: /reset clears the conversation, /exit (or Ctrl-D) leaves, Ctrl-C stops the answer being written.`;

const VALUE_FLAGS = ["--system", "--max-new-tokens", "--temperature", "--top-p", "--seed", ...MODEL_FLAGS];

export async function chatCommand(argv: string[], input: NodeJS.ReadableStream = process.stdin, out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    out.write(`${USAGE}\n`);
    return 0;
  }
  let chat: Chat;
  let gen: ChatGenerateOptions;
  try {
    const { source, flags, on } = parseFlags(argv, VALUE_FLAGS, ["--no-think"]);
    if (!source) throw new Error("missing the model directory or repo id");
    const temperature = numberFlag(flags, "--temperature", (n) => n >= 0, "a number ≥ 0");
    gen = {
      maxNewTokens: numberFlag(flags, "--max-new-tokens", (n) => Number.isInteger(n) && n >= 1, "a positive integer") ?? 512,
      ...(temperature !== undefined ? (temperature > 0 ? { doSample: true, temperature } : { doSample: false }) : {}),
      topP: numberFlag(flags, "--top-p", (n) => n > 0 && n <= 1, "a number in (0, 1]"),
      seed: numberFlag(flags, "--seed", Number.isInteger, "an integer"),
    };
    const { model, tokenizer } = await loadModelAndTokenizer(source, flags, err);
    chat = new Chat(model, tokenizer, { systemPrompt: flags.get("--system"), templateKwargs: on.has("--no-think") ? { enable_thinking: false } : {}, generation: gen });
  } catch (e) {
    err.write(`moekit chat: ${(e as Error).message}\n`);
    return 1;
  }
  const tty = out.isTTY === true;
  const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[22m` : s);
  // model text must not drive the terminal: control characters are shown as their pictures (␛, ␔, ...)
  // eslint-disable-next-line no-control-regex -- the control characters are what this replaces
  const visible = (s: string) => (tty ? s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => String.fromCharCode(c === "\x7f" ? 0x2421 : 0x2400 + c.charCodeAt(0))).replace(/[\x80-\x9f]/g, "\uFFFD") : s);
  out.write(`${dim(`moekit chat — ${chat.model.modelType} on ${chat.model.backend.name}; /reset, /exit`)}\n`);
  const rl = createInterface({ input, output: out, prompt: "> ", terminal: tty });
  let turn: AbortController | undefined;
  rl.on("SIGINT", () => {
    if (turn) turn.abort();
    else rl.close();
  });
  rl.prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === "/exit" || line === "/quit") break;
    if (line === "/reset") {
      chat.reset();
      out.write(`${dim("(conversation cleared)")}\n`);
      rl.prompt();
      continue;
    }
    if (line === "") {
      rl.prompt();
      continue;
    }
    turn = new AbortController();
    try {
      let inThought = false;
      const it = chat.stream(line, { signal: turn.signal });
      let r = await it.next();
      while (!r.done) {
        const d = r.value;
        if (d.type === "reasoning") {
          out.write(dim(visible(d.text)));
          inThought = true;
        } else {
          if (inThought) out.write("\n\n");
          inThought = false;
          out.write(d.type === "content" ? visible(d.text) : `\n[tool call] ${d.call.function.name}(${typeof d.call.function.arguments === "string" ? d.call.function.arguments : JSON.stringify(d.call.function.arguments)})`);
        }
        r = await it.next();
      }
      const reply = r.value;
      const tps = reply.completionTokens > 1 ? ((reply.completionTokens - 1) / Math.max(reply.decodeMs, 1e-3)) * 1000 : 0;
      const stopped = reply.finishReason === "aborted" ? ", stopped" : reply.finishReason === "length" ? ", token limit" : "";
      out.write(`\n${dim(`[${reply.completionTokens} tokens, ${tps.toFixed(1)} tok/s; prompt ${reply.promptTokens} tokens in ${(reply.prefillMs / 1000).toFixed(2)} s${stopped}]`)}\n`);
    } catch (e) {
      err.write(`moekit chat: ${(e as Error).message}\n`);
    } finally {
      turn = undefined;
    }
    rl.prompt();
  }
  rl.close();
  chat.dispose();
  return 0;
}
