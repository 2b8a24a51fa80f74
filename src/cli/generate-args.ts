/**
 * `moekit generate`'s arguments, every one validated before anything is loaded: a mistake is reported
 * at once (exit 2), not after the model has been read.
 */
import { BACKEND_NAMES, type BackendName } from "../backends/by-name.js";
import { parseByteSize } from "./byte-size.js";
import { PLACEMENT_USAGE } from "./backend-flags.js";
import { expertsInterface } from "../experts/registry.js";
import type { WeightDType } from "../models/build/weights.js";
import { UsageError } from "./usage-error.js";

export const GENERATE_USAGE = `Usage: moekit generate <dir|repo|file.gguf> (--prompt TEXT [--chat] | --ids 1,2,3) [options]
  --experts NAME           experts implementation (eager, batched_mm, grouped_mm, ...)
  --max-new-tokens N       default 64
  --temperature T          sample with temperature T > 0 (default, or 0: greedy)
  --top-k K, --top-p P, --repetition-penalty R, --seed S
  --backend NAME           auto (default: cpu when the native addon loads, else reference), cpu, webgpu, reference
${PLACEMENT_USAGE}
  --threads N, --dtype auto|float32|bfloat16|float16
  --max-memory SIZE        keep weights within SIZE (e.g. 2G): dense parts resident, routed experts read
                           from the memory-mapped checkpoint through a cache of the hot ones
  --compute auto|float32|bfloat16   cpu products' activation precision (auto: bfloat16 for bf16 weights)`;

const VALUE_FLAGS = ["--prompt", "--ids", "--experts", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--repetition-penalty", "--seed", "--backend", "--experts-on", "--experts-layers", "--threads", "--dtype", "--compute", "--max-memory", "--kv-cache-dtype"];
const DTYPES: readonly WeightDType[] = ["auto", "float32", "bfloat16", "float16"];
const COMPUTES = ["auto", "float32", "bfloat16"] as const;
const KV_DTYPES = ["auto", "float32", "bfloat16", "float16"] as const;

export interface GenerateArgs {
  source: string;
  prompt?: string;
  chat: boolean;
  ids?: number[];
  experts?: string;
  maxNewTokens: number;
  /** undefined: greedy */
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  backend: BackendName;
  expertsOn?: BackendName;
  expertsLayers?: number;
  threads?: number;
  dtype?: WeightDType;
  /** --max-memory in bytes */
  maxMemory?: number;
  compute: (typeof COMPUTES)[number];
  kvCacheDtype: (typeof KV_DTYPES)[number];
}

export { UsageError };

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got '${v}'`);
  return v as T;
}

function integer(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) throw new UsageError(`${flag} must be an integer ≥ ${min}, got '${v}'`);
  return Number(v);
}

function real(flag: string, v: string | undefined, ok: (x: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const x = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(x) || !ok(x)) throw new UsageError(`${flag} must be ${what}, got '${v}'`);
  return x;
}

/** "1,2,3" → [1, 2, 3]; every entry a non-negative integer (no empty entries). */
function tokenIds(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  const bad = parts.findIndex((s) => !/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)));
  if (bad >= 0) throw new UsageError(`--ids must list token ids separated by commas, entry ${bad + 1} is '${parts[bad]}'`);
  return parts.map(Number);
}

export function parseGenerateArgs(argv: string[]): GenerateArgs {
  const flags = new Map<string, string>();
  let source: string | undefined;
  let chat = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--chat") chat = true;
    else if (VALUE_FLAGS.includes(a)) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      if (flags.has(a)) throw new UsageError(`${a} is given twice`);
      flags.set(a, v);
    } else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else if (source === undefined) source = a;
    else throw new UsageError(`unexpected argument '${a}'`);
  }
  if (!source) throw new UsageError("missing the model directory, repo id or .gguf file");
  const prompt = flags.get("--prompt");
  const idsFlag = flags.get("--ids");
  if ((prompt === undefined) === (idsFlag === undefined)) throw new UsageError("give exactly one of --prompt or --ids");
  if (chat && prompt === undefined) throw new UsageError("--chat needs --prompt");
  const experts = flags.get("--experts");
  if (experts !== undefined) {
    try {
      expertsInterface.validate(experts);
    } catch (e) {
      throw new UsageError(`--experts: ${(e as Error).message}`);
    }
  }
  const temperature = real("--temperature", flags.get("--temperature"), (x) => x >= 0, "a number ≥ 0 (0: greedy)");
  return {
    source,
    prompt,
    chat,
    ids: idsFlag === undefined ? undefined : tokenIds(idsFlag),
    experts,
    maxNewTokens: integer("--max-new-tokens", flags.get("--max-new-tokens"), 0) ?? 64,
    temperature: temperature === 0 ? undefined : temperature,
    topK: integer("--top-k", flags.get("--top-k"), 0),
    topP: real("--top-p", flags.get("--top-p"), (x) => x > 0 && x <= 1, "in (0, 1]"),
    repetitionPenalty: real("--repetition-penalty", flags.get("--repetition-penalty"), (x) => x > 0, "a number > 0"),
    seed: integer("--seed", flags.get("--seed"), 0),
    backend: oneOf("--backend", flags.get("--backend"), BACKEND_NAMES) ?? "auto",
    expertsOn: oneOf("--experts-on", flags.get("--experts-on"), BACKEND_NAMES),
    expertsLayers: expertsLayers(flags),
    threads: integer("--threads", flags.get("--threads"), 1),
    dtype: oneOf("--dtype", flags.get("--dtype"), DTYPES),
    compute: oneOf("--compute", flags.get("--compute"), COMPUTES) ?? "auto",
    kvCacheDtype: oneOf("--kv-cache-dtype", flags.get("--kv-cache-dtype"), KV_DTYPES) ?? "auto",
    maxMemory: byteSize(flags.get("--max-memory")),
  };
}

function byteSize(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseByteSize("--max-memory", v);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function expertsLayers(flags: Map<string, string>): number | undefined {
  const n = integer("--experts-layers", flags.get("--experts-layers"), 0);
  if (n !== undefined && !flags.has("--experts-on")) throw new UsageError("--experts-layers needs --experts-on (which backend those layers' experts go to)");
  return n;
}
