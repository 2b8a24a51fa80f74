/**
 * `moekit generate <dir|repo> (--prompt "..." [--chat] | --ids 1,2,3) [--experts NAME]
 * [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S]
 * [--backend auto|cpu|webgpu|reference] [--threads N] [--dtype auto|float32|bfloat16|float16] [--compute auto|float32|bfloat16]`
 * Streams the continuation as it is produced (whole characters only), then prints prefill and decode
 * tokens/s (stderr). --chat renders the tokenizer's chat template for one user message, as
 * transformers' apply_chat_template(add_generation_prompt=True) does.
 * The cpu backend's compute mode follows the weights' dtype unless --compute says otherwise: bfloat16
 * weights compute in bfloat16, as transformers computes a bf16 model; anything else in float32.
 */
import { BACKEND_NAMES, resolveBackend } from "../backends/by-name.js";
import type { GenerateOptions } from "../generation/options.js";
import type { WeightDType } from "../models/build/weights.js";
import { Tensor } from "../tensor.js";
import { IncrementalDecoder } from "../text/streamer.js";

export interface CommandIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const USAGE = `Usage: moekit generate <dir|repo> (--prompt TEXT [--chat] | --ids 1,2,3) [options]
  --experts NAME           experts implementation (eager, batched_mm, grouped_mm, ...)
  --max-new-tokens N       default 64
  --temperature T          sample with temperature T (default: greedy)
  --top-k K, --top-p P, --repetition-penalty R, --seed S
  --backend NAME           auto (default: cpu when the native addon loads, else reference), cpu, webgpu, reference
  --threads N, --dtype auto|float32|bfloat16|float16
  --compute auto|float32|bfloat16   cpu products' activation precision (auto: bfloat16 for bf16 weights)`;

const VALUE_FLAGS = ["--prompt", "--ids", "--experts", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--repetition-penalty", "--seed", "--backend", "--threads", "--dtype", "--compute"];

function parseArgs(argv: string[]): { source?: string; flags: Map<string, string>; chat: boolean } {
  const flags = new Map<string, string>();
  let source: string | undefined;
  let chat = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--chat") chat = true;
    else if (VALUE_FLAGS.includes(a)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      flags.set(a, v);
    } else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else if (source === undefined) source = a;
    else throw new Error(`unexpected argument '${a}'`);
  }
  return { source, flags, chat };
}

function num(flags: Map<string, string>, name: string): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got '${v}'`);
  return n;
}

/** The weights' dtype after loading: --dtype, or for "auto" the checkpoint's config (`dtype` / `torch_dtype`). */
async function weightsDtype(dir: string, flag: string | undefined): Promise<string> {
  if (flag !== undefined && flag !== "auto") return flag;
  const { readFile } = await import("node:fs/promises");
  const cfg = JSON.parse(await readFile(`${dir}/config.json`, "utf8")) as { dtype?: unknown; torch_dtype?: unknown };
  const d = cfg.dtype ?? cfg.torch_dtype;
  return typeof d === "string" ? d : "float32";
}

export async function generateCommand(argv: string[], io: CommandIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  try {
    const { source, flags, chat } = parseArgs(argv);
    if (!source) throw new Error("missing the model directory or repo id");
    const prompt = flags.get("--prompt");
    const idsFlag = flags.get("--ids");
    if ((prompt === undefined) === (idsFlag === undefined)) throw new Error("give exactly one of --prompt or --ids");
    const { AutoModelForCausalLM } = await import("../pretrained/auto-model.js");
    const { resolveCheckpointDir } = await import("../loading/resolve-source.js");
    const dir = await resolveCheckpointDir(source);
    const tokenizer = prompt !== undefined ? await (await import("../text/auto-tokenizer.js")).AutoTokenizer.fromPretrained(dir) : undefined;
    const computeFlag = flags.get("--compute") ?? "auto";
    if (!["auto", "float32", "bfloat16"].includes(computeFlag)) throw new Error(`--compute must be auto, float32 or bfloat16, got '${computeFlag}'`);
    const compute = computeFlag === "auto" ? ((await weightsDtype(dir, flags.get("--dtype"))) === "bfloat16" ? "bfloat16" : "float32") : (computeFlag as "float32" | "bfloat16");
    const backendName = flags.get("--backend") ?? "auto";
    if (!(BACKEND_NAMES as readonly string[]).includes(backendName)) throw new Error(`--backend must be one of ${BACKEND_NAMES.join(", ")}, got '${backendName}'`);
    const backend = await resolveBackend(backendName as (typeof BACKEND_NAMES)[number], { compute, threads: num(flags, "--threads") });
    const model = await AutoModelForCausalLM.fromPretrained(dir, {
      backend,
      expertsImplementation: flags.get("--experts"),
      threads: num(flags, "--threads"),
      dtype: flags.get("--dtype") as WeightDType | undefined,
    });
    let ids: number[];
    if (tokenizer && chat) {
      if (tokenizer.chatTemplate === undefined) throw new Error(`${dir} has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json): use --prompt without --chat`);
      // the template writes the special tokens itself: tokenized without adding a second BOS
      ids = tokenizer.applyChatTemplate([{ role: "user", content: prompt! }], { addGenerationPrompt: true });
    } else if (tokenizer) ids = tokenizer.encode(prompt!);
    else ids = idsFlag!.split(",").map((s) => Number(s.trim()));
    if (ids.length === 0 || ids.some((x) => !Number.isInteger(x))) throw new Error("the prompt has no tokens, or --ids holds a non-integer");
    const temperature = num(flags, "--temperature");
    const opts: GenerateOptions = {
      maxNewTokens: num(flags, "--max-new-tokens") ?? 64,
      doSample: temperature !== undefined && temperature > 0,
      temperature: temperature && temperature > 0 ? temperature : undefined,
      topK: num(flags, "--top-k"),
      topP: num(flags, "--top-p"),
      repetitionPenalty: num(flags, "--repetition-penalty"),
      seed: num(flags, "--seed"),
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
    io.err(`prefill: ${ids.length} tokens, ${prefill.toFixed(1)} tok/s; decode: ${decodeTokens} tokens, ${decode.toFixed(1)} tok/s (${model.backend.name}${"compute" in backend ? `, ${String(backend.compute)} compute` : ""}, ${model.getExpertsImplementation()})\n`);
    return 0;
  } catch (e) {
    io.err(`moekit generate: ${(e as Error).message}\n`);
    return 1;
  }
}
