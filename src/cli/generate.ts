/**
 * `moekit generate <dir|repo|file.gguf> (--prompt "..." [--chat] | --ids 1,2,3) [--experts NAME]
 * [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S]
 * [--backend auto|cpu|webgpu|reference] [--threads N] [--dtype auto|float32|bfloat16|float16] [--compute auto|float32|bfloat16]
 * [--kv-cache-dtype auto|float32|bfloat16|float16]`
 * Streams the continuation as it is produced (whole characters only), then prints prefill and decode
 * tokens/s (stderr). --chat renders the tokenizer's chat template for one user message, as
 * transformers' apply_chat_template(add_generation_prompt=True) does.
 * The cpu backend's compute mode follows the weights' dtype unless --compute says otherwise: bfloat16
 * weights compute in bfloat16, as transformers computes a bf16 model; anything else in float32. The KV
 * cache follows the compute mode unless --kv-cache-dtype says otherwise (bfloat16 with bfloat16 compute).
 */
import { backendFromFlags } from "./backend-flags.js";
import type { GenerateOptions } from "../generation/options.js";
import { Tensor } from "../tensor.js";
import { IncrementalDecoder } from "../text/streamer.js";
import { GENERATE_USAGE, parseGenerateArgs, UsageError } from "./generate-args.js";

export interface CommandIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

export async function generateCommand(argv: string[], io: CommandIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(`${GENERATE_USAGE}\n`);
    return 0;
  }
  try {
    const args = parseGenerateArgs(argv);
    const { AutoModelForCausalLM } = await import("../pretrained/auto-model.js");
    const { isGgufPath, openCheckpoint } = await import("../loading/open-checkpoint.js");
    const { resolveCheckpointDir } = await import("../loading/resolve-source.js");
    // a .gguf file holds weights, config and tokenizer; anything else is a directory or repo id
    const dir = isGgufPath(args.source) ? args.source : await resolveCheckpointDir(args.source);
    // opened first: a folder without config.json or weights (or a bad GGUF) is named here, before the tokenizer is read
    const ckpt = await openCheckpoint(dir);
    const tokenizer = args.prompt !== undefined ? await (await import("../text/auto-tokenizer.js")).AutoTokenizer.fromPretrained(dir) : undefined;
    const stored = ckpt.config.dtype ?? ckpt.config.torch_dtype;
    const weights = args.dtype !== undefined && args.dtype !== "auto" ? args.dtype : typeof stored === "string" ? stored : "float32";
    const compute = args.compute === "auto" ? (weights === "bfloat16" ? "bfloat16" : "float32") : args.compute;
    const { choice, rest: backend } = await backendFromFlags(args, { compute, threads: args.threads });
    const model = await AutoModelForCausalLM.fromPretrained(ckpt, { backend: choice, expertsImplementation: args.experts, threads: args.threads, dtype: args.dtype, maxResidentBytes: args.maxMemory, kvCacheDtype: args.kvCacheDtype });
    let ids: number[];
    if (tokenizer && args.chat) {
      if (tokenizer.chatTemplate === undefined) throw new Error(`${dir} has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json): use --prompt without --chat`);
      // the template writes the special tokens itself: tokenized without adding a second BOS
      ids = tokenizer.applyChatTemplate([{ role: "user", content: args.prompt! }], { addGenerationPrompt: true });
    } else if (tokenizer) ids = tokenizer.encode(args.prompt!);
    else ids = args.ids!;
    if (ids.length === 0) throw new Error("the prompt has no tokens");
    const opts: GenerateOptions = {
      maxNewTokens: args.maxNewTokens,
      doSample: args.temperature !== undefined,
      temperature: args.temperature,
      topK: args.topK,
      topP: args.topP,
      repetitionPenalty: args.repetitionPenalty,
      seed: args.seed,
    };
    const generated: number[] = [];
    // never a partial character: a byte-level tokenizer spreads one character over several tokens
    const text = tokenizer ? new IncrementalDecoder(tokenizer) : undefined;
    const t0 = performance.now();
    let tFirst = t0;
    for await (const tokens of model.stream(Tensor.from(Int32Array.from(ids), [1, ids.length]), opts)) {
      if (generated.length === 0) tFirst = performance.now();
      generated.push(tokens[0]!);
      if (text) io.out(text.push(tokens[0]!));
      else io.out(`${generated.length > 1 ? " " : ""}${tokens[0]}`);
    }
    if (text) io.out(text.flush());
    const tEnd = performance.now();
    const prefill = (ids.length / Math.max(tFirst - t0, 1e-3)) * 1000;
    const decodeTokens = Math.max(generated.length - 1, 0);
    const decode = decodeTokens > 0 ? (decodeTokens / Math.max(tEnd - tFirst, 1e-3)) * 1000 : 0;
    io.out("\n");
    io.err(`prefill: ${ids.length} tokens, ${prefill.toFixed(1)} tok/s; decode: ${decodeTokens} tokens, ${decode.toFixed(1)} tok/s (${model.backend.name}${"compute" in backend ? `, ${String(backend.compute)} compute, ${model.kvCacheDtype} kv cache` : ""}, ${model.getExpertsImplementation()})\n`);
    return 0;
  } catch (e) {
    io.err(`moekit generate: ${(e as Error).message}${e instanceof UsageError ? " (see moekit generate --help)" : ""}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
