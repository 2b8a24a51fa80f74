/** `moekit tune`: measure auto's crossover on this machine and store the profile auto loads. */
import { parseArgs } from "node:util";
import { defaultProfilePath, saveAutoProfileEntry } from "../experts/auto.js";
import { BACKEND_NAMES, resolveBackend, type BackendName } from "../bench/backends.js";
import { WEIGHT_DTYPES } from "../bench/options.js";
import { createProgress } from "../bench/progress.js";
import { checkOutputFile } from "./output-path.js";
import { DEFAULT_TUNE_TOKENS, measureProfile } from "../bench/tune.js";
import type { DType } from "../dtype.js";

export const TUNE_USAGE = `usage: moekit tune [options]

Measures batched_mm and grouped_mm (and registered auto candidates) at several token counts on one
MoE layer and stores the profile that the \`auto\` experts implementation uses on this machine.

  --model <dir>        checkpoint whose dims to tune for (default: synthetic Qwen1.5-MoE-A2.7B)
  --backend <b>        reference | cpu (default cpu when available)
  --dtype <d>          weights dtype: bfloat16 | float16 | float32 (default bfloat16 for the synthetic model)
  --threads <n>        cpu backend threads
  --tokens <a,b,...>   token counts (default ${DEFAULT_TUNE_TOKENS.join(",")})
  --warmup <n>         (default 1)   --iters <n> (default 3)   --seed <n> (default 0)
  --out <file>         profile path, in an existing directory (default $MOEKIT_AUTO_PROFILE or
                       ~/.cache/moekit/auto-profile.json, whose directory is created)
  -h, --help
`;

function int(name: string, v: string | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new Error(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return Number(v);
}

export async function tuneCommand(argv: string[]): Promise<number> {
  let opts;
  let out: string | undefined;
  let backendName: BackendName | undefined;
  try {
    const { values: v } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" }, backend: { type: "string" }, dtype: { type: "string" }, threads: { type: "string" },
        tokens: { type: "string" }, warmup: { type: "string" }, iters: { type: "string" }, seed: { type: "string" },
        out: { type: "string" }, help: { type: "boolean", short: "h" },
      },
    });
    if (v.help) {
      process.stdout.write(TUNE_USAGE);
      return 0;
    }
    if (v.backend !== undefined && !(BACKEND_NAMES as readonly string[]).includes(v.backend)) throw new Error(`--backend must be one of ${BACKEND_NAMES.join(", ")}, got '${v.backend}'`);
    if (v.dtype !== undefined && !(WEIGHT_DTYPES as readonly string[]).includes(v.dtype)) throw new Error(`--dtype must be one of ${WEIGHT_DTYPES.join(", ")}, got '${v.dtype}'`);
    backendName = v.backend as BackendName | undefined;
    const tokens = v.tokens === undefined ? DEFAULT_TUNE_TOKENS : v.tokens.split(",").map((t) => int("tokens", t.trim(), 0, 1));
    opts = {
      model: v.model,
      dtype: v.dtype as DType | undefined,
      threads: v.threads === undefined ? undefined : int("threads", v.threads, 0, 1),
      tokens: [...new Set(tokens)].sort((a, b) => a - b),
      warmup: int("warmup", v.warmup, 1, 0),
      iters: int("iters", v.iters, 3, 1),
      seed: int("seed", v.seed, 0, 0),
    };
    out = v.out;
    if (out !== undefined) await checkOutputFile("--out", out);
  } catch (e) {
    process.stderr.write(`moekit tune: ${(e as Error).message.split("\n")[0]} (see moekit tune --help)\n`);
    return 2;
  }
  const progress = createProgress();
  try {
    const { backend, warning } = await resolveBackend(backendName, opts.threads);
    if (warning) progress.note(`warning: ${warning}`);
    const entry = await measureProfile(opts, backend, (d, t, l) => progress.update(d, t, l));
    progress.end();
    const path = await saveAutoProfileEntry(entry, out ?? (await defaultProfilePath()));
    const names = Object.keys(entry.points[0]?.ms ?? {});
    process.stdout.write(`| slots | ${names.join(" ms | ")} ms |\n| ---: |${names.map(() => " ---: |").join("")}\n`);
    for (const p of entry.points) process.stdout.write(`| ${p.slots} | ${names.map((n) => p.ms[n]!.toFixed(2)).join(" | ")} |\n`);
    process.stdout.write(
      `\n${entry.backend}, ${entry.dtype}, E=${entry.dims.experts} H=${entry.dims.hidden} I=${entry.dims.intermediate} K=${entry.dims.topK}: ` +
        `grouped_mm ${entry.crossoverSlots === null ? "never beat batched_mm" : `at least as fast from ${entry.crossoverSlots} slots`}.\nprofile written to ${path}\n`,
    );
    return 0;
  } catch (e) {
    progress.end();
    process.stderr.write(`moekit tune: ${(e as Error).message}\n`);
    return 1;
  }
}
