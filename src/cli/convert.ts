/**
 * `moekit convert <dir|repo> -o model.gguf [--dtype f32|f16|bf16|q8_0|q4_0|q4_k_m|...]`: a Hugging Face checkpoint
 * written as a GGUF file with moekit's own writer (src/loading/gguf-model/convert.ts), which moekit and
 * llama.cpp both load.
 */
import type { GgufValue } from "../loading/gguf/values.js";
import type { CommandIO } from "./generate.js";
import { parseCheckpointArgs } from "./checkpoint-args.js";
import { UsageError } from "./usage-error.js";

export const CONVERT_USAGE = `Usage: moekit convert <dir|repo> -o FILE.gguf [--dtype TYPE] [--no-tokenizer]

Writes a Hugging Face MoE checkpoint (qwen2_moe, qwen3_moe, olmoe, mixtral, phimoe, granitemoe,
granitemoeshared, dots1, hunyuan_v1_moe, ernie4_5_moe, glm4_moe, deepseek_v2, deepseek_v3) as a GGUF
file that moekit and llama.cpp load.
--dtype is the type of the weight matrices: f32, f16 (default), bf16, or quantized: q8_0, q4_0, q5_0,
q4_k, q6_k, mxfp4, q4_k_m. A quantized type follows llama.cpp's mix, as fromPretrained(dir, { dtype })
does (q4_k_m: q6_k for attention v and some ffn down projections; mxfp4: routed experts in mxfp4, the rest
q8_0; the lm head q6_k or q8_0), token embeddings stay f16; vectors, routers and matrices whose rows are
not whole blocks stay f32.
A byte-level BPE tokenizer.json (with tokenizer_config.json and chat templates) is converted too and
checked to tokenize as the checkpoint does; without tokenizer.json, or with --no-tokenizer, the file gets
a placeholder vocabulary (run it with --ids).`;

interface ConvertArgs {
  source: string;
  output: string;
  dtype: string;
  tokenizer: boolean;
}

function parse(argv: string[]): ConvertArgs {
  const { source, output, dtype = "f16", switches } = parseCheckpointArgs(argv, ["--no-tokenizer"]);
  if (!output) throw new UsageError("missing -o FILE.gguf");
  if (!/\.gguf$/i.test(output)) throw new UsageError(`-o ${output}: the output file must end in .gguf`);
  return { source, output, dtype, tokenizer: !switches.has("--no-tokenizer") };
}

/** The checkpoint's tokenizer as GGUF metadata, or undefined when the directory has no tokenizer.json. */
async function convertedTokenizer(dir: string, config: Record<string, unknown>): Promise<{ entries: [string, GgufValue][]; what: string } | undefined> {
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  if (!existsSync(join(dir, "tokenizer.json"))) return undefined;
  const { readTokenizerFiles } = await import("../text/tokenizer-files.js");
  const { TextTokenizer } = await import("../text/tokenizer.js");
  const { tokenizerMetadata } = await import("../loading/gguf-model/tokenizer-metadata.js");
  const files = await readTokenizerFiles(dir);
  const entries = await tokenizerMetadata(new TextTokenizer(files), files.tokenizerJson, files.tokenizerConfig ?? {}, config);
  const pre = entries.find(([k]) => k === "tokenizer.ggml.pre")![1].value as string;
  return { entries, what: `tokenizer converted (gpt2 BPE, pre-tokenizer ${pre})` };
}

export async function convertCommand(argv: string[], io: CommandIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(`${CONVERT_USAGE}\n`);
    return 0;
  }
  try {
    const args = parse(argv);
    const { CONVERT_TYPES, convertToGguf } = await import("../loading/gguf-model/convert.js");
    if (!Object.prototype.hasOwnProperty.call(CONVERT_TYPES, args.dtype)) throw new UsageError(`--dtype must be one of ${Object.keys(CONVERT_TYPES).join(", ")}, got '${args.dtype}'`);
    const { checkOutputFile } = await import("./output-path.js");
    await checkOutputFile("-o", args.output);
    const { resolveCheckpointDir } = await import("../loading/resolve-source.js");
    const { Checkpoint } = await import("../loading/checkpoint.js");
    const { basename } = await import("node:path");
    const dir = await resolveCheckpointDir(args.source);
    const ckpt = await Checkpoint.open(dir);
    const vocab = args.tokenizer ? await convertedTokenizer(dir, ckpt.config) : undefined;
    const r = await convertToGguf(ckpt, args.output, args.dtype as keyof typeof CONVERT_TYPES, basename(dir), vocab?.entries);
    const counts = new Map<string, number>();
    for (const t of r.tensors) counts.set(t.format, (counts.get(t.format) ?? 0) + 1);
    const types = [...counts].map(([f, n]) => `${n} ${f}`).join(", ");
    io.err(`wrote ${args.output}: ${r.arch}, ${r.tensors.length} tensors (${types}), ${r.layout.totalBytes} bytes; ${vocab ? vocab.what : "tokenizer not converted (placeholder vocabulary)"}\n`);
    return 0;
  } catch (e) {
    io.err(`moekit convert: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
