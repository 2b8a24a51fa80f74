/**
 * Loading a model and its tokenizer for `moekit chat` / `moekit serve`: the flags they share
 * (--backend, --threads, --dtype, --compute, --experts) and a progress bar on stderr while the model
 * downloads and loads (drawn only on a TTY).
 */
import cliProgress from "cli-progress";
import { parseByteSize } from "./byte-size.js";
import type { BackendName } from "../backends/by-name.js";
import { backendFromFlags, checkBackendFlags, PLACEMENT_USAGE } from "./backend-flags.js";
import type { WeightDType } from "../models/build/weights.js";
import { KV_CACHE_DTYPES, type KvCacheDtype } from "../models/cache/kv-dtype.js";
import type { ProgressInfo } from "../pretrained/progress.js";
import type { MoeForCausalLM } from "../pretrained/moe-for-causal-lm.js";
import type { MoekitTokenizer } from "../text/tokenizer-interface.js";

export const MODEL_FLAGS = ["--backend", "--experts-on", "--experts-layers", "--threads", "--dtype", "--compute", "--experts", "--max-memory", "--kv-cache-dtype"];

export const MODEL_FLAGS_USAGE = `  --backend NAME           auto (default: cpu when the native addon loads), cpu, webgpu, reference
${PLACEMENT_USAGE}
  --threads N, --dtype auto|float32|bfloat16|float16, --experts NAME
  --max-memory SIZE        keep weights within SIZE (e.g. 2G): routed experts through a cache of the hot ones
  --compute auto|float32|bfloat16   cpu products' activation precision (auto: bfloat16 for bf16 weights)
  --kv-cache-dtype auto|float32|bfloat16|float16   KV cache format on cpu (auto: bfloat16 with bfloat16 compute)`;

/** `--name value` flags (from `valueFlags`), `--switch` flags (from `switches`), one positional. */
export function parseFlags(argv: string[], valueFlags: string[], switches: string[] = []): { source?: string; flags: Map<string, string>; on: Set<string> } {
  const flags = new Map<string, string>();
  const on = new Set<string>();
  let source: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (switches.includes(a)) on.add(a);
    else if (valueFlags.includes(a)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      flags.set(a, v);
    } else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else if (source === undefined) source = a;
    else throw new Error(`unexpected argument '${a}'`);
  }
  return { source, flags, on };
}

export function numberFlag(flags: Map<string, string>, name: string, check: (n: number) => boolean = Number.isFinite, what = "a number"): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || !check(n)) throw new Error(`${name} must be ${what}, got '${v}'`);
  return n;
}

/** A progress bar for download and load (bytes of each file); silent where stderr is not a TTY. */
function progressBar(stream: NodeJS.WriteStream): { onProgress: (p: ProgressInfo) => void; stop: () => void } {
  if (!stream.isTTY) return { onProgress: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream, format: "{kind} [{bar}] {percentage}% {file} {mb}/{totalMb} MB", barsize: 24, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.legacy,
  );
  let started = false;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    onProgress(p) {
      if (p.status !== "progress") return;
      const payload = { kind: p.kind === "download" ? "downloading" : "loading", file: p.file, mb: mb(p.loaded), totalMb: mb(p.total) };
      if (!started) {
        bar.start(p.total, p.loaded, payload);
        started = true;
      }
      bar.setTotal(p.total);
      bar.update(p.loaded, payload);
    },
    stop: () => bar.stop(),
  };
}

async function weightsDtype(dir: string, flag: string | undefined): Promise<string> {
  if (flag !== undefined && flag !== "auto") return flag;
  const { readFile } = await import("node:fs/promises");
  const cfg = JSON.parse(await readFile(`${dir}/config.json`, "utf8")) as { dtype?: unknown; torch_dtype?: unknown };
  const d = cfg.dtype ?? cfg.torch_dtype;
  return typeof d === "string" ? d : "float32";
}

/** --kv-cache-dtype: auto (default), float32, bfloat16 or float16. */
export function kvCacheDtypeFlag(v: string | undefined): KvCacheDtype | "auto" {
  if (v === undefined) return "auto";
  if (v === "auto" || (KV_CACHE_DTYPES as readonly string[]).includes(v)) return v as KvCacheDtype | "auto";
  throw new Error(`--kv-cache-dtype must be auto, ${KV_CACHE_DTYPES.join(", ")}, got '${v}'`);
}

export async function loadModelAndTokenizer(source: string, flags: Map<string, string>, err: NodeJS.WriteStream = process.stderr): Promise<{ model: MoeForCausalLM; tokenizer: MoekitTokenizer; dir: string }> {
  const { AutoModelForCausalLM } = await import("../pretrained/auto-model.js");
  const { AutoTokenizer } = await import("../text/auto-tokenizer.js");
  const { resolveCheckpointDir } = await import("../loading/resolve-source.js");
  const { progressFetch } = await import("../pretrained/progress.js");
  const computeFlag = flags.get("--compute") ?? "auto";
  if (!["auto", "float32", "bfloat16"].includes(computeFlag)) throw new Error(`--compute must be auto, float32 or bfloat16, got '${computeFlag}'`);
  const placement = {
    backend: (flags.get("--backend") ?? "auto") as BackendName,
    expertsOn: flags.get("--experts-on") as BackendName | undefined,
    expertsLayers: numberFlag(flags, "--experts-layers", (n) => Number.isInteger(n) && n >= 0, "an integer ≥ 0"),
  };
  checkBackendFlags(placement);
  const dtype = flags.get("--dtype");
  if (dtype !== undefined && !["auto", "float32", "bfloat16", "float16"].includes(dtype)) throw new Error(`--dtype must be auto, float32, bfloat16 or float16, got '${dtype}'`);
  const threads = numberFlag(flags, "--threads", (n) => Number.isInteger(n) && n >= 1 && n <= 255, "an integer in [1, 255]");
  const kvCacheDtype = kvCacheDtypeFlag(flags.get("--kv-cache-dtype"));
  const maxMemory = flags.get("--max-memory");
  const maxResidentBytes = maxMemory === undefined ? undefined : parseByteSize("--max-memory", maxMemory);
  const bar = progressBar(err);
  try {
    const dir = await resolveCheckpointDir(source, { fetch: progressFetch(source, bar.onProgress) });
    const compute = computeFlag === "auto" ? ((await weightsDtype(dir, dtype)) === "bfloat16" ? "bfloat16" : "float32") : (computeFlag as "float32" | "bfloat16");
    const { choice } = await backendFromFlags(placement, { compute, threads });
    const model = await AutoModelForCausalLM.fromPretrained(dir, { backend: choice, expertsImplementation: flags.get("--experts"), threads, dtype: dtype as WeightDType | undefined, maxResidentBytes, kvCacheDtype, progressCallback: bar.onProgress });
    const tokenizer = await AutoTokenizer.fromPretrained(dir);
    return { model, tokenizer, dir };
  } finally {
    bar.stop();
  }
}
