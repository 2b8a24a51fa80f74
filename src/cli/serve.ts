/**
 * `moekit serve <dir|repo> [--port P] [options]`: an OpenAI-compatible server on the model
 * (src/serve): /v1/chat/completions, /v1/completions, /v1/models, /health, /metrics. Ctrl-C (or
 * SIGTERM) stops it: running requests are cancelled, the port closed.
 */
import { basename } from "node:path";
import { loadModelAndTokenizer, MODEL_FLAGS, MODEL_FLAGS_USAGE, numberFlag, parseFlags } from "./load-model.js";

const USAGE = `Usage: moekit serve <dir|repo> [options]
  --port P                 default 8080 (0: any free port)
  --host H                 default 127.0.0.1 (0.0.0.0 to listen on every interface)
  --model-id NAME          the name /v1/models lists (default: the repo id or directory name)
  --max-batch N            sequences decoding together (default 16)
  --max-queue N            requests waiting beyond that; more get HTTP 429 (default 64)
  --prefill-chunk N        prompt tokens per prefill step, interleaved with decode steps (default 64)
  --kv-budget-mb N         KV cache budget; requests wait for room (default: none)
  --max-tokens N           max_tokens when a request gives none (default 512)
  --timeout S              per-request limit in seconds (default 600)
  --non-deterministic      let batching change kernels (auto experts, batched prefill): faster, not batch-invariant
  --no-think               enable_thinking=false for every request (a request's chat_template_kwargs override it)
${MODEL_FLAGS_USAGE}`;

const VALUE_FLAGS = ["--port", "--host", "--model-id", "--max-batch", "--max-queue", "--prefill-chunk", "--kv-budget-mb", "--max-tokens", "--timeout", ...MODEL_FLAGS];

export async function serveCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const int = (f: Map<string, string>, name: string, min: number) => numberFlag(f, name, (n) => Number.isInteger(n) && n >= min, `an integer ≥ ${min}`);
  const { source, flags, on } = parseFlags(argv, VALUE_FLAGS, ["--non-deterministic", "--no-think"]);
  if (!source) throw new Error("missing the model directory or repo id");
  const port = numberFlag(flags, "--port", (n) => Number.isInteger(n) && n >= 0 && n <= 65535, "a port number") ?? 8080;
  const budgetMb = numberFlag(flags, "--kv-budget-mb", (n) => n > 0, "a positive number");
  const timeout = numberFlag(flags, "--timeout", (n) => n > 0, "a positive number of seconds");
  const opts = {
    maxBatch: int(flags, "--max-batch", 1),
    maxQueue: int(flags, "--max-queue", 0),
    prefillChunk: int(flags, "--prefill-chunk", 1),
    maxTokens: int(flags, "--max-tokens", 1),
  };
  const { model, tokenizer } = await loadModelAndTokenizer(source, flags);
  const { ModelServer } = await import("../serve/server.js");
  const server = new ModelServer({
    model,
    tokenizer,
    modelId: flags.get("--model-id") ?? (/^[\w.-]+\/[\w.-]+$/.test(source) ? source : basename(source.replace(/\/+$/, ""))),
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    ...(budgetMb !== undefined ? { cacheBudgetBytes: budgetMb * 1e6 } : {}),
    ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
    deterministic: !on.has("--non-deterministic"),
    templateKwargs: on.has("--no-think") ? { enable_thinking: false } : {},
  });
  const { url } = await server.listen(port, flags.get("--host") ?? "127.0.0.1");
  process.stderr.write(`moekit serve: ${server.context.modelId} (${model.modelType}, ${model.backend.name}) on ${url}/v1 — Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write("moekit serve: stopping\n");
  await server.close();
  model.dispose();
  return 0;
}
