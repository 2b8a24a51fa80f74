/**
 * Backends by name, for every entry that takes one (fromPretrained, loadCausalLM, loadMoeBlock, the
 * CLI, the benchmark): "cpu" (the native addon, Node), "webgpu" (a browser's GPU, or Dawn in Node),
 * "reference" (plain TypeScript, anywhere) or "auto", the default: cpu in Node when the addon loads,
 * webgpu in a browser with an adapter, else reference — saying once (console.warn) why it fell back.
 * A Backend object is taken as it is.
 */
import type { Backend } from "./backend.js";
import type { CpuCompute } from "./cpu/index.js";
import { referenceBackend } from "./reference/index.js";
import type { WebGpuBackendOptions } from "./webgpu/device.js";

export type BackendName = "auto" | "cpu" | "webgpu" | "reference";
export const BACKEND_NAMES: readonly BackendName[] = ["auto", "cpu", "webgpu", "reference"];

/** One backend, by name or as an object. */
export type SingleBackendChoice = BackendName | Backend;

/**
 * Where a model runs: one backend, or a placement of its parts on two (src/backends/placement.ts:
 * `{ rest: "webgpu", experts: "cpu" }` keeps the routed experts in system memory beside a GPU).
 */
export type BackendChoice = SingleBackendChoice | Placement;

/**
 * A whole model's parts on two backends: the routers and routed experts of MoE layers on `experts`,
 * everything else (embeddings, attention, norms, dense and shared MLPs, lm head) on `rest`.
 * `expertsLayers`: only the first N MoE-bearing layers put their experts there (llama.cpp's
 * `--n-cpu-moe N`); default all.
 */
export interface Placement {
  rest: SingleBackendChoice;
  experts: SingleBackendChoice;
  expertsLayers?: number;
}

const PLACEMENT_KEYS = ["rest", "experts", "expertsLayers"];

/** A plain object with placement keys (not a Backend object). */
export function isPlacement(v: unknown): v is Placement {
  if (v === null || typeof v !== "object") return false;
  const o = v as Record<string, unknown>;
  return !("linear" in o) && ("rest" in o || "experts" in o);
}

/** Checks a placement's keys and values; throws naming the first bad one. */
export function checkPlacement(p: Placement): void {
  const o = p as unknown as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !PLACEMENT_KEYS.includes(k));
  if (unknown.length > 0) throw new Error(`backend placement: unknown key(s) ${unknown.map((k) => `'${k}'`).join(", ")} (a placement has rest, experts and optionally expertsLayers)`);
  for (const k of ["rest", "experts"] as const) if (o[k] === undefined) throw new Error(`backend placement: '${k}' is missing (a backend name or a Backend)`);
  const n = p.expertsLayers;
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new Error(`backend placement: expertsLayers must be a non-negative integer, got ${String(n)}`);
}

export interface BackendOptions {
  /** cpu: threads of the native pool (process-wide). */
  threads?: number;
  /** cpu: activation precision of the products (default float32). */
  compute?: CpuCompute;
  /** webgpu: device options (an existing device, chunk sizes, ...). */
  webgpu?: WebGpuBackendOptions;
  /** Told why "auto" fell back to the reference backend; default: console.warn, once per process. */
  onFallback?: (reason: string) => void;
}

/** How this environment's backends are made; each throws, saying why, when its backend is unavailable. */
export interface BackendProbe {
  /** Node.js (where "auto" tries cpu) rather than a browser (where it tries webgpu). */
  inNode(): boolean;
  cpu(opts: Pick<BackendOptions, "threads" | "compute">): Promise<Backend>;
  webgpu(opts: WebGpuBackendOptions): Promise<Backend>;
}

export const environmentProbe: BackendProbe = {
  inNode: () => typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === "string",
  async cpu(opts) {
    const { createCpuBackend } = await import("./cpu/index.js");
    return createCpuBackend({ ...(opts.threads !== undefined ? { threads: opts.threads } : {}), ...(opts.compute ? { compute: opts.compute } : {}) });
  },
  async webgpu(opts) {
    const { createWebGpuBackend } = await import("./webgpu/index.js");
    return createWebGpuBackend(opts);
  },
};

/** Methods every backend has; an object lacking one is not a Backend (a typo, or a name given as an object). */
const REQUIRED_METHODS = ["fromHost", "adopt", "read", "zeros", "linear", "embedding", "rmsNorm", "rope", "attention", "slice", "concat"] as const satisfies readonly (keyof Backend)[];

const VALID = `one of ${BACKEND_NAMES.map((n) => `"${n}"`).join(", ")} or a Backend object`;

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || typeof v !== "object") return `${typeof v} ${String(v)}`;
  const cls = (v as { constructor?: { name?: string } }).constructor?.name;
  return !cls || cls === "Object" ? "a plain object" : `a ${cls}`;
}

/** The backend object of a choice that is not a name, or a clear error naming the valid choices. */
function asBackend(choice: unknown): Backend {
  if (choice === null || typeof choice !== "object") throw new Error(`backend must be ${VALID}, got ${describe(choice)}`);
  const o = choice as Record<string, unknown>;
  const missing = REQUIRED_METHODS.filter((m) => typeof o[m] !== "function");
  if (typeof o.name !== "string" || typeof o.isHost !== "boolean" || missing.length > 0) {
    const lacks = [...(typeof o.name !== "string" ? ["name"] : []), ...(typeof o.isHost !== "boolean" ? ["isHost"] : []), ...missing];
    throw new Error(`backend must be ${VALID}; ${describe(choice)} is not a Backend (it lacks ${lacks.join(", ")})`);
  }
  return choice as Backend;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0]!;
}

/** A resolver with its own "said once" memory and probe (tests pass a probe that simulates a missing addon). */
export function createBackendResolver(probe: BackendProbe = environmentProbe): (choice?: BackendChoice, opts?: BackendOptions) => Promise<Backend> {
  let warned = false;
  const warnOnce = (reason: string) => {
    if (warned) return;
    warned = true;
    console.warn(`moekit: ${reason}; using the reference backend (plain TypeScript: correct, but far slower)`);
  };
  return async (choice = "auto", opts = {}) => {
    if (isPlacement(choice)) throw new Error("backend: a placement ({ rest, experts }) applies to a whole model (fromPretrained, loadCausalLM, the CLI's --experts-on); give one backend here");
    if (typeof choice !== "string") return asBackend(choice);
    switch (choice) {
      case "reference":
        return referenceBackend;
      case "cpu":
        try {
          return await probe.cpu(opts);
        } catch (e) {
          throw new Error(`backend "cpu" is unavailable: ${firstLine(e)}`);
        }
      case "webgpu":
        try {
          return await probe.webgpu(opts.webgpu ?? {});
        } catch (e) {
          throw new Error(`backend "webgpu" is unavailable: ${firstLine(e)}`);
        }
      case "auto": {
        let reason: string;
        try {
          return probe.inNode() ? await probe.cpu(opts) : await probe.webgpu(opts.webgpu ?? {});
        } catch (e) {
          reason = probe.inNode() ? `the cpu backend's native addon did not load (${firstLine(e)})` : `no WebGPU adapter (${firstLine(e)})`;
        }
        (opts.onFallback ?? warnOnce)(reason);
        return referenceBackend;
      }
      default:
        throw new Error(`backend must be ${VALID}, got ${describe(choice)}`);
    }
  };
}

/** The backend for a name or object (default "auto"); see the module comment. */
export const resolveBackend = createBackendResolver();
