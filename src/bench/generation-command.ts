/**
 * The whole-model generation benchmark (bench/models/generate.ts): options, one fresh child process
 * per experts implementation (so each peak RSS is its own), a markdown report and JSON records.
 */
import { writeFile } from "node:fs/promises";
import type { DType } from "../dtype.js";
import { BACKEND_NAMES, resolveBackend, type BackendName } from "./backends.js";
import { measureGeneration, type GenerationRecord, type GenerationSpec } from "./generation.js";
import type { Breakdown } from "./op-profile.js";
import { runInChild } from "./spawn.js";
import { int, oneOf, strictArgs } from "./options.js";

export const DEFAULT_GENERATION_IMPLS = ["eager", "batched_mm", "grouped_mm", "auto"];

export const GENERATION_USAGE = `usage: node --import tsx bench/models/generate.ts [options]

Prefill and decode tokens/s of a whole model, loaded through AutoModelForCausalLM.fromPretrained.
Default: a synthetic OLMoE-1B-7B (hidden 2048, 64 experts x 1024, top-8, 16 heads, vocab 50304,
q/k norm, RoPE 10000) with 2 decoder layers of seeded random bfloat16 weights, generated on the fly.
Greedy, batch 1, eos disabled; each implementation in a fresh process.

  --model <dir>          a local Hugging Face checkpoint instead of the synthetic model
  --layers <n>           decoder layers of the synthetic model (default 2)
  --prompt-len <n>       prompt tokens (default 128)
  --new-tokens <n>       decode steps timed after the prefill (default 32; n + 1 tokens are generated)
  --impl <a,b,...>       experts implementations (default ${DEFAULT_GENERATION_IMPLS.join(",")})
  --backend <b>          reference | cpu (default cpu when available, else reference with a warning)
  --threads <n>          cpu backend threads
  --dtype <d>            weights dtype: bfloat16 | float16 | float32
  --runs <n>             timed runs per implementation (default 2)
  --warmup <n>           untimed short runs first (default 1)
  --no-breakdown         skip the profiled run (where prefill / decode time goes)
  --in-process           run every implementation in this process (peak RSS is then shared)
  --seed <n>             weights and prompt seed (default 0)
  --json <file>          write the records as JSON ('-': stdout instead of the report)
  -h, --help             this text
`;

export interface GenerationCommandOptions {
  spec: Omit<GenerationSpec, "impl" | "backend"> & { backend?: BackendName };
  impls: string[];
  inProcess: boolean;
  json?: string;
  help: boolean;
}

export function parseGenerationArgs(argv: string[]): GenerationCommandOptions {
  const values = strictArgs(
    argv,
    {
      model: { type: "string" },
      layers: { type: "string" },
      "prompt-len": { type: "string" },
      "new-tokens": { type: "string" },
      impl: { type: "string" },
      backend: { type: "string" },
      threads: { type: "string" },
      dtype: { type: "string" },
      runs: { type: "string" },
      warmup: { type: "string" },
      "no-breakdown": { type: "boolean" },
      "in-process": { type: "boolean" },
      seed: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "bench/models/generate.ts",
  ) as Record<string, string | boolean | undefined>; // (no option here is `multiple`)
  const s = (k: string) => values[k] as string | undefined;
  const impls = (s("impl") ?? DEFAULT_GENERATION_IMPLS.join(",")).split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (impls.length === 0) throw new Error("--impl needs at least one implementation name");
  return {
    spec: {
      model: s("model"),
      layers: int("layers", s("layers"), 2, 1),
      dtype: oneOf<DType>("dtype", s("dtype"), ["bfloat16", "float16", "float32"]),
      backend: oneOf<BackendName>("backend", s("backend"), BACKEND_NAMES),
      threads: s("threads") === undefined ? undefined : int("threads", s("threads"), 0, 1),
      promptLen: int("prompt-len", s("prompt-len"), 128, 1),
      newTokens: int("new-tokens", s("new-tokens"), 32, 1),
      runs: int("runs", s("runs"), 2, 1),
      warmup: int("warmup", s("warmup"), 1, 0),
      breakdown: values["no-breakdown"] !== true,
      seed: int("seed", s("seed"), 0, 0),
    },
    impls: [...new Set(impls)],
    inProcess: values["in-process"] === true,
    json: s("json"),
    help: values.help === true,
  };
}

/** Every implementation, each in a fresh child unless `inProcess`. */
export async function runGenerationBench(o: GenerationCommandOptions, note: (line: string) => void = () => undefined): Promise<GenerationRecord[]> {
  const { backend, warning } = await resolveBackend(o.spec.backend, o.spec.threads);
  if (warning) note(`warning: ${warning}`);
  const backendName = backend.name === "cpu" ? "cpu" : "reference";
  const out: GenerationRecord[] = [];
  for (const impl of o.impls) {
    const spec: GenerationSpec = { ...o.spec, impl, backend: backendName };
    note(`${impl}: loading and timing (${spec.runs} runs of ${spec.promptLen} prompt + ${spec.newTokens} decode tokens)`);
    out.push(o.inProcess ? await measureGeneration(spec) : await runInChild<GenerationRecord>({ kind: "generate", spec }));
  }
  return out;
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

function partTable(pre: Breakdown, dec: Breakdown, steps: number): string[] {
  const names = [...new Set([...pre.parts.map((p) => p.part), ...dec.parts.map((p) => p.part)])];
  const get = (b: Breakdown, n: string) => b.parts.find((p) => p.part === n);
  names.sort((a, b) => (get(dec, b)?.ms ?? 0) - (get(dec, a)?.ms ?? 0));
  const rows = [
    "| part | prefill ms | prefill % | decode ms/token | decode % | of which in backend ops (decode) |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const n of names) {
    const p = get(pre, n);
    const d = get(dec, n);
    const dms = (d?.ms ?? 0) / steps;
    const inOps = d && d.ms > 0 ? `${f((100 * d.opMs) / d.ms, 0)}%` : "";
    rows.push(`| ${n} | ${f(p?.ms ?? 0)} | ${f((100 * (p?.ms ?? 0)) / pre.totalMs)} | ${f(dms, 2)} | ${f((100 * (d?.ms ?? 0)) / dec.totalMs)} | ${inOps} |`);
  }
  rows.push(`| total (profiled run) | ${f(pre.totalMs)} | 100 | ${f(dec.totalMs / steps, 2)} | 100 | |`);
  return rows;
}

function opTable(b: Breakdown, steps: number, top: number): string[] {
  const per = steps === 1 ? "" : "/token";
  const rows = [`| part | backend op | calls${per} | ms${per} | % |`, "|---|---|---:|---:|---:|"];
  for (const o of b.ops.slice(0, top)) rows.push(`| ${o.part} | ${o.op} | ${f(o.calls / steps, 0)} | ${f(o.ms / steps, 3)} | ${f((100 * o.ms) / b.totalMs)} |`);
  return rows;
}

export function generationReport(records: GenerationRecord[]): string {
  if (records.length === 0) return "";
  const r0 = records[0]!;
  const lines = [
    `${r0.model} (${r0.model_type}), ${r0.layers} layers, ${r0.dtype} weights (${f(r0.weights_mb / 1e3, 2)} GB), backend ${r0.backend}` +
      `${r0.threads ? ` (${r0.threads} threads)` : ""}, batch 1, prompt ${r0.prompt_len}, ${r0.new_tokens} decode steps, greedy, ${r0.runs} runs`,
    "",
    "| experts impl | prefill ms | prefill tok/s | decode ms/token (median) | decode p90 ms | decode tok/s | peak RSS MB | load s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of records) {
    const impl = r.auto_choice ? `auto (→ ${r.auto_choice.prefill ?? "?"} / ${r.auto_choice.decode ?? "?"})` : r.implementation;
    lines.push(
      `| ${impl} | ${f(r.prefill_ms)} | ${f(r.prefill_tokens_per_s)} | ${f(r.decode_ms_per_token, 2)} | ${f(r.decode_ms_p90, 2)} | ${f(r.decode_tokens_per_s, 2)} | ${f(r.peak_mem_mb, 0)} | ${f(r.load_ms / 1e3)} |`,
    );
  }
  for (const r of records) {
    if (!r.breakdown) continue;
    const { prefill, decode, decode_steps: steps } = r.breakdown;
    lines.push("", `Where the time goes, ${r.implementation} (one profiled run; every backend op timed):`, "", ...partTable(prefill, decode, steps));
    lines.push("", `Top backend ops of the prefill, ${r.implementation}:`, "", ...opTable(prefill, 1, 8));
    lines.push("", `Top backend ops per decode token, ${r.implementation}:`, "", ...opTable(decode, steps, 12));
  }
  return `${lines.join("\n")}\n`;
}

export async function generationBenchCommand(argv: string[]): Promise<number> {
  let o: GenerationCommandOptions;
  try {
    o = parseGenerationArgs(argv);
  } catch (e) {
    process.stderr.write(`bench/models/generate: ${(e as Error).message}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(GENERATION_USAGE);
    return 0;
  }
  try {
    const records = await runGenerationBench(o, (l) => process.stderr.write(`${l}\n`));
    const json = `${JSON.stringify(records, null, 2)}\n`;
    if (o.json === "-") process.stdout.write(json);
    else process.stdout.write(generationReport(records));
    if (o.json && o.json !== "-") await writeFile(o.json, json);
    return 0;
  } catch (e) {
    process.stderr.write(`bench/models/generate: ${(e as Error).message}\n`);
    return 1;
  }
}
