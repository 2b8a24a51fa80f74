/** `moekit bench` options: parsed with node's util.parseArgs, every bad value a clear error. */
import { KV_CACHE_DTYPES, type KvCacheDtype } from "../models/cache/kv-dtype.js";
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { DType } from "../dtype.js";
import { QUANT_DTYPES } from "../models/build/quantize.js";
import { BACKEND_NAMES, COMPUTE_NAMES, type BackendName, type ComputeName } from "./backends.js";
import type { BenchOptions } from "./engine.js";
import { DEFAULT_GRID, parseGrid } from "./grid.js";
import type { ModelDType } from "./model-run.js";
import { PEER_NAMES, type PeerName } from "./peers.js";
import type { Scope } from "./work-model.js";

export const SCOPES: readonly Scope[] = ["experts", "block", "model"];
export const WEIGHT_DTYPES: readonly DType[] = ["bfloat16", "float16", "float32"];
/** Float dtypes and the ones moekit quantizes a float checkpoint to at load. */
export const BENCH_DTYPES: readonly ModelDType[] = [...WEIGHT_DTYPES, ...QUANT_DTYPES];
/** The model scope's prefill points when --grid is not given. */
export const MODEL_GRID = "1x128,4x128";
export const MODEL_CONTEXTS = [4096, 32768];
/** Where the model scope's quantized weights come from: quantized at load, or a checkpoint `moekit quantize` wrote. */
export const QUANT_SOURCES = ["load", "file"] as const;
export type QuantSource = (typeof QUANT_SOURCES)[number];

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
  --grid <points>        batch x sequence points (default ${DEFAULT_GRID}; decode: 1x1,4x1);
                         for --scope model the prefill points (default ${MODEL_GRID}; 'none': no prefill case)
  --impl <a,b,...>       experts implementations (default: all registered, auto included)
  --backend <b>          reference | cpu (default cpu when available, else reference with a warning)
  --dtype <d>            weights dtype: bfloat16 | float16 | float32, or quantized at load: ${QUANT_DTYPES.join(" | ")};
                         --scope model takes a list (bfloat16,q8_0,q4_0: rows of each, side by side)
  --compute <c>          cpu products in float32 | bfloat16 (default: bfloat16 for bfloat16 weights, as
                         transformers computes a bf16 model; float32 otherwise)
  --kv-cache-dtype <d>   --scope model: KV cache auto | float32 | bfloat16 | float16 (auto: bfloat16 with
                         bfloat16 compute, else float32)
  --threads <n>          cpu backend threads
  --warmup <n>           untimed iterations per case (default 1)
  --iters <n>            timed iterations per case (default 5)
  --layers <n>           MoE layers timed (default 2)
  --seed <n>             weights and inputs seed (default 0)
  --probe-mib <n>        bandwidth probe buffer, MiB (default 256)
  --peer <name>          add a peer to the table: transformers | onnxruntime (experts, block) |
                         llama.cpp (--scope model; bench/peers/llama-cpp/install.sh) (repeatable)

--scope model (a whole causal-LM forward with a KV cache; each case right after its own GEMM and read probes,
each row with its floor and share of it; llama.cpp on a cached GGUF of the same weights in the same format):
  --prompt-len <n>       decode case: prompt tokens (default 16)
  --new-tokens <n>       decode case: timed greedy steps (default 64; 0: no decode case)
  --contexts <n,...>     long-context cases: prefill n tokens in chunks of 512, then decode (default
                         ${MODEL_CONTEXTS.join(",")}; 'none': skip)
  --context-new <n>      decode steps timed at each long context (default 16)
  --quant-source <s>     quantized dtypes: load (the float checkpoint quantized at load, default) | file (the
                         checkpoint \`moekit quantize\` writes, cached beside the GGUFs, loaded mapped)
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

/** `--dtype`: one dtype, or for the model scope a comma-separated list (each once). */
export function parseDtypes(v: string | undefined, scope: Scope): ModelDType[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(",").map((x) => x.trim());
  const out = list.map((d) => oneOf<ModelDType>("dtype", d, BENCH_DTYPES)!);
  if (new Set(out).size !== out.length) throw new Error(`--dtype lists a dtype twice: '${v}'`);
  if (out.length > 1 && scope !== "model") throw new Error(`--dtype takes a list for --scope model only; --scope ${scope} takes one dtype, got '${v}'`);
  return out;
}

/** `--contexts`: positive token counts, or 'none' for no long-context case. */
export function parseContexts(v: string | undefined): number[] {
  if (v === undefined) return [...MODEL_CONTEXTS];
  if (v.trim() === "none") return [];
  return v.split(",").map((x) => int("contexts", x.trim(), 0, 1));
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
      "kv-cache-dtype": { type: "string" },
      threads: { type: "string" },
      warmup: { type: "string" },
      iters: { type: "string" },
      layers: { type: "string" },
      seed: { type: "string" },
      "probe-mib": { type: "string" },
      peer: { type: "string", multiple: true },
      "prompt-len": { type: "string" },
      "new-tokens": { type: "string" },
      contexts: { type: "string" },
      "context-new": { type: "string" },
      "quant-source": { type: "string" },
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
  const scope = oneOf<Scope>("scope", s("scope"), SCOPES) ?? "experts";
  const dtypes = parseDtypes(s("dtype"), scope);
  const options: BenchOptions = {
    model: s("model"),
    scope,
    grid: scope === "model" && s("grid")?.trim() === "none" ? [] : parseGrid(s("grid") ?? (scope === "model" ? MODEL_GRID : DEFAULT_GRID)),
    impls,
    backend: oneOf<BackendName>("backend", s("backend"), BACKEND_NAMES),
    dtype: dtypes?.[0],
    dtypes,
    promptLen: int("prompt-len", s("prompt-len"), 16, 1),
    newTokens: int("new-tokens", s("new-tokens"), 64, 0),
    contexts: parseContexts(s("contexts")),
    contextNew: int("context-new", s("context-new"), 16, 1),
    compute: oneOf<ComputeName>("compute", s("compute"), COMPUTE_NAMES),
    kvCacheDtype: oneOf<KvCacheDtype | "auto">("kv-cache-dtype", s("kv-cache-dtype"), ["auto", ...KV_CACHE_DTYPES]),
    quantSource: oneOf<QuantSource>("quant-source", s("quant-source"), QUANT_SOURCES),
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
