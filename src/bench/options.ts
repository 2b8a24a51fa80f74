/** `moekit bench` options: parsed with node's util.parseArgs, every bad value a clear error. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { DType } from "../dtype.js";
import { BACKEND_NAMES, COMPUTE_NAMES, type BackendName, type ComputeName } from "./backends.js";
import type { BenchOptions } from "./engine.js";
import { DEFAULT_GRID, parseGrid } from "./grid.js";
import { PEER_NAMES, type PeerName } from "./peers.js";
import type { Scope } from "./work-model.js";

export const SCOPES: readonly Scope[] = ["experts", "block", "model"];
export const WEIGHT_DTYPES: readonly DType[] = ["bfloat16", "float16", "float32"];

export interface BenchOutputs {
  json?: string;
  markdown?: string;
  svg?: string;
}

export const BENCH_USAGE = `usage: moekit bench [options]

Times moekit's experts implementations (and optional peers) on a grid of batch x sequence points,
each case in a fresh process. Default: a synthetic Qwen1.5-MoE-A2.7B (hidden 2048, 60 experts x 1408,
top-4, shared expert 5632) with 2 layers of seeded random bfloat16 weights, generated on the fly.

  --model <dir>          a local Hugging Face checkpoint instead of the synthetic model
  --scope <s>            experts | block | model (default experts)
  --grid <points>        batch x sequence points (default ${DEFAULT_GRID}; decode: 1x1,4x1)
  --impl <a,b,...>       experts implementations (default: all registered, auto included)
  --backend <b>          reference | cpu (default cpu when available, else reference with a warning)
  --dtype <d>            weights dtype: bfloat16 | float16 | float32
  --compute <c>          cpu products in float32 | bfloat16 (default: bfloat16 for bfloat16 weights, as
                         transformers computes a bf16 model; float32 otherwise)
  --threads <n>          cpu backend threads
  --warmup <n>           untimed iterations per case (default 1)
  --iters <n>            timed iterations per case (default 5)
  --layers <n>           MoE layers timed (default 2)
  --seed <n>             weights and inputs seed (default 0)
  --probe-mib <n>        bandwidth probe buffer, MiB (default 256)
  --peer <name>          add a peer to the table: transformers | onnxruntime (repeatable)
  --json <file>          write one JSON record per case ('-': stdout instead of the table)
  --markdown <file>      write the markdown table
  --svg <file>           write latency vs tokens (log-log), one line per implementation
  -h, --help             this text
`;

/** An integer option ≥ min (the fallback when absent), or an error naming the option. */
export function int(name: string, v: string | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new Error(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return Number(v);
}

/** An option restricted to `allowed` (undefined when absent), or an error listing the allowed values. */
export function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`--${name} must be one of ${allowed.join(", ")}, got '${v}'`);
  return v as T;
}

/** node's parseArgs, strict and without positionals; its error's first line names the bad option. */
export function strictArgs(argv: string[], options: ParseArgsConfig["options"], usage: string): Record<string, string | string[] | boolean | undefined> {
  try {
    return parseArgs({ args: argv, allowPositionals: false, strict: true, options }).values;
  } catch (e) {
    throw new Error(`${(e as Error).message.split("\n")[0]} (see ${usage} --help)`);
  }
}

export function parseBenchArgs(argv: string[]): { options: BenchOptions; outputs: BenchOutputs; help: boolean } {
  const values: Record<string, string | string[] | boolean | undefined> = strictArgs(
    argv,
    {
      model: { type: "string" },
      scope: { type: "string" },
      grid: { type: "string" },
      impl: { type: "string" },
      backend: { type: "string" },
      dtype: { type: "string" },
      compute: { type: "string" },
      threads: { type: "string" },
      warmup: { type: "string" },
      iters: { type: "string" },
      layers: { type: "string" },
      seed: { type: "string" },
      "probe-mib": { type: "string" },
      peer: { type: "string", multiple: true },
      json: { type: "string" },
      markdown: { type: "string" },
      svg: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "moekit bench",
  );
  const s = (k: string) => values[k] as string | undefined;
  const impls = s("impl")?.split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (impls && impls.length === 0) throw new Error("--impl needs at least one implementation name");
  const peers = ((values.peer as string[] | undefined) ?? []).flatMap((p) => p.split(",")).map((p) => oneOf<PeerName>("peer", p.trim(), PEER_NAMES)!);
  const options: BenchOptions = {
    model: s("model"),
    scope: oneOf<Scope>("scope", s("scope"), SCOPES) ?? "experts",
    grid: parseGrid(s("grid") ?? DEFAULT_GRID),
    impls,
    backend: oneOf<BackendName>("backend", s("backend"), BACKEND_NAMES),
    dtype: oneOf<DType>("dtype", s("dtype"), WEIGHT_DTYPES),
    compute: oneOf<ComputeName>("compute", s("compute"), COMPUTE_NAMES),
    threads: s("threads") === undefined ? undefined : int("threads", s("threads"), 0, 1),
    warmup: int("warmup", s("warmup"), 1, 0),
    iters: int("iters", s("iters"), 5, 1),
    layers: int("layers", s("layers"), 2, 1),
    peers: [...new Set(peers)],
    seed: int("seed", s("seed"), 0, 0),
    probeMiB: int("probe-mib", s("probe-mib"), 256, 1),
  };
  return { options, outputs: { json: s("json"), markdown: s("markdown"), svg: s("svg") }, help: values.help === true };
}
