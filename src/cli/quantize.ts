/**
 * `moekit quantize <dir|repo> --dtype q8_0|q4_0|q4_k_m|mxfp4|... -o OUT_DIR`: a float checkpoint written as
 * safetensors with its matrices quantized as `fromPretrained(dir, { dtype })` quantizes them at load, plus a
 * config.json whose `quantization_config` (quant_method "moekit") moekit loads back, staying quantized
 * (src/models/build/quantize-writer.ts).
 */
import type { CommandIO } from "./generate.js";
import { parseCheckpointArgs } from "./checkpoint-args.js";
import { UsageError } from "./usage-error.js";

const DTYPES = "q8_0, q4_0, q5_0, q4_k, q6_k, mxfp4, fp8_e4m3_b128, q4_k_m";

export const QUANTIZE_USAGE = `Usage: moekit quantize <dir|repo> --dtype DTYPE -o OUT_DIR

Quantizes a float Hugging Face MoE checkpoint and writes it to OUT_DIR (an existing, empty directory) as
config.json + model.safetensors, which moekit loads quantized (fromPretrained(OUT_DIR), or any command).
DTYPE is one of ${DTYPES}: the same mixes as fromPretrained(dir, { dtype }) (embeddings, routers and norms
stay float; q4_k_m and mxfp4 follow llama.cpp's rules).`;

interface QuantizeArgs {
  source: string;
  output: string;
  dtype: string;
}

function parse(argv: string[]): QuantizeArgs {
  const { source, output, dtype } = parseCheckpointArgs(argv);
  if (!dtype) throw new UsageError(`missing --dtype (one of ${DTYPES})`);
  if (!output) throw new UsageError("missing -o OUT_DIR");
  return { source, output, dtype };
}

export async function quantizeCommand(argv: string[], io: CommandIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(`${QUANTIZE_USAGE}\n`);
    return 0;
  }
  try {
    const args = parse(argv);
    const { isQuantDType } = await import("../models/build/quantize.js");
    if (!isQuantDType(args.dtype)) throw new UsageError(`--dtype must be one of ${DTYPES}, got '${args.dtype}'`);
    const { readdir, stat } = await import("node:fs/promises");
    const { resolve } = await import("node:path");
    const out = resolve(args.output);
    if (!(await stat(out).catch(() => undefined))?.isDirectory()) throw new Error(`-o ${args.output}: not an existing directory (create it first)`);
    if ((await readdir(out)).length > 0) throw new Error(`-o ${args.output}: the directory is not empty`);
    const { resolveCheckpointDir } = await import("../loading/resolve-source.js");
    const { Checkpoint } = await import("../loading/checkpoint.js");
    const dir = await resolveCheckpointDir(args.source);
    if (resolve(dir) === out) throw new Error(`-o ${args.output} is the source checkpoint`);
    const { quantizeCheckpoint } = await import("../models/build/quantize-writer.js");
    const r = await quantizeCheckpoint(await Checkpoint.open(dir), args.dtype, out);
    const formats = Object.entries(r.formats).map(([f, n]) => `${n} ${f}`).join(", ");
    io.err(`wrote ${args.output}: ${formats || "no"} quantized tensors, ${r.copied} copied as stored, ${r.bytes} bytes\n`);
    return 0;
  } catch (e) {
    io.err(`moekit quantize: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
