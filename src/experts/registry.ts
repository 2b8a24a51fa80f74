import type { Backend } from "../backends/backend.js";
import { BACKEND_IMPLEMENTATIONS } from "./backend-implementations.js";
import { createAutoImplementation } from "./auto.js";
import { batchedMm } from "./batched-mm.js";
import { eager } from "./eager.js";
import { groupedMm } from "./grouped-mm.js";
import type { ExpertsImplementation } from "./types.js";

/** The names whose meaning never changes: transformers' three, and `auto`, which picks among candidates per call. */
export const BUILTIN_IMPLEMENTATIONS = ["eager", "batched_mm", "grouped_mm", "auto"] as const;
export const DEFAULT_IMPLEMENTATION = "grouped_mm";
/** Key of the entries that run on every backend. */
const ANY = "*";

export interface RegisterOptions {
  /** `auto` may pick this implementation (it then needs a cost entry; see experts/auto). */
  autoCandidate?: boolean;
  /**
   * The backend (by name) this entry runs on: a backend's own version of a name (it replaces the
   * portable one on that backend, as transformers' hub kernels replace an implementation on a device),
   * or an implementation only that backend can run. Default: every backend.
   */
  backend?: string;
  /** One line for `moekit info`. */
  description?: string;
}

/** One registered implementation, as `moekit info` lists them. */
export interface RegistryEntry {
  name: string;
  /** undefined: runs on every backend */
  backend?: string;
  autoCandidate: boolean;
  builtin: boolean;
  description?: string;
}

interface Entry extends RegistryEntry {
  impl: ExpertsImplementation;
}

function backendName(b: Backend | string | undefined): string | undefined {
  return typeof b === "string" ? b : b?.name;
}

/**
 * Name → experts implementation, per backend. Built-ins are registered up front, together with the
 * versions backends supply (the cpu backend's fused grouped_mm); user implementations are first-class:
 * selectable by name at load time and at run time exactly like the built-ins. A name is resolved for
 * the backend that runs it: that backend's own entry first, else the portable one.
 */
export class ExpertsInterface {
  private readonly entries = new Map<string, Map<string, Entry>>();

  constructor(withBuiltins = true) {
    if (!withBuiltins) return;
    this.put({ name: "eager", impl: eager, autoCandidate: false, builtin: true, description: "loops over the experts that received tokens" });
    this.put({ name: "batched_mm", impl: batchedMm, autoCandidate: true, builtin: true, description: "each token-slot multiplies its own expert's weights, read in place" });
    this.put({ name: "grouped_mm", impl: groupedMm, autoCandidate: true, builtin: true, description: "slots sorted by expert, one grouped product per projection" });
    this.put({ name: "auto", impl: createAutoImplementation(this), autoCandidate: false, builtin: true, description: "picks the cheapest candidate per call from a cost model" });
    for (const b of BACKEND_IMPLEMENTATIONS) this.put({ ...b, builtin: true });
  }

  private put(e: Entry): void {
    let byBackend = this.entries.get(e.name);
    if (!byBackend) this.entries.set(e.name, (byBackend = new Map()));
    byBackend.set(e.backend ?? ANY, e);
  }

  register(name: string, impl: ExpertsImplementation, opts: RegisterOptions = {}): void {
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
      throw new Error(`experts implementation name must be an identifier-like string, got ${JSON.stringify(name)}`);
    }
    if (typeof impl !== "function") throw new Error(`experts implementation '${name}' must be a function`);
    if (opts.backend !== undefined && (typeof opts.backend !== "string" || opts.backend === "" || opts.backend === ANY)) {
      throw new Error(`experts implementation '${name}': backend must be a backend name, got ${JSON.stringify(opts.backend)}`);
    }
    const builtin = (BUILTIN_IMPLEMENTATIONS as readonly string[]).includes(name);
    if (name === "auto" || (builtin && opts.backend === undefined)) {
      throw new Error(`'${name}' is a built-in experts implementation and cannot be replaced; register under another name${name === "auto" ? "" : ", or as one backend's version of it ({ backend })"}`);
    }
    this.put({ name, impl, autoCandidate: opts.autoCandidate ?? false, builtin: false, backend: opts.backend, description: opts.description });
  }

  /** Remove a user entry (the portable one, or one backend's). */
  unregister(name: string, opts: { backend?: string } = {}): boolean {
    const e = this.entries.get(name)?.get(opts.backend ?? ANY);
    if (e?.builtin) throw new Error(`cannot unregister built-in '${name}'${e.backend ? ` for backend '${e.backend}'` : ""}`);
    const removed = this.entries.get(name)?.delete(opts.backend ?? ANY) ?? false;
    if (this.entries.get(name)?.size === 0) this.entries.delete(name);
    return removed;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * The implementation `name` resolves to on `backend` (its own entry first, else the portable one).
   * An unknown name throws listing the valid ones; a name registered only for other backends throws
   * naming the backend and what it can run.
   */
  get(name: string, backend?: Backend | string): ExpertsImplementation {
    return this.resolve(name, backend).impl;
  }

  /** The entry `name` resolves to on `backend` (see get). */
  resolve(name: string, backend?: Backend | string): RegistryEntry & { impl: ExpertsImplementation } {
    const byBackend = this.entries.get(name);
    if (!byBackend) {
      throw new Error(`unknown experts implementation ${JSON.stringify(name)}: valid are ${this.list().map((n) => `'${n}'`).join(", ")}`);
    }
    const b = backendName(backend);
    const e = (b !== undefined ? byBackend.get(b) : undefined) ?? byBackend.get(ANY);
    if (e) return e;
    const owners = [...byBackend.keys()].map((k) => `'${k}'`).join(", ");
    if (b === undefined) throw new Error(`experts implementation '${name}' runs only on backend ${owners}; say which backend runs it`);
    throw new Error(`experts implementation '${name}' cannot run on backend '${b}' (it is registered for ${owners} only); '${b}' runs ${this.list(b).map((n) => `'${n}'`).join(", ")}`);
  }

  isAutoCandidate(name: string, backend?: Backend | string): boolean {
    return this.resolve(name, backend).autoCandidate;
  }

  /** Names runnable on `backend` (every name when no backend is given), in registration order. */
  list(backend?: Backend | string): string[] {
    const b = backendName(backend);
    return [...this.entries.entries()].filter(([, m]) => b === undefined || m.has(b) || m.has(ANY)).map(([n]) => n);
  }

  /** Every entry, portable and per backend, for listings. */
  describe(): RegistryEntry[] {
    return [...this.entries.values()].flatMap((m) => [...m.values()].map(({ impl: _impl, ...rest }) => rest));
  }

  /** Throws unless `name` is registered (for some backend); returns it. */
  validate(name: string): string {
    if (typeof name !== "string") throw new Error(`experts implementation must be a name (string), got ${JSON.stringify(name)}`);
    this.resolveAny(name);
    return name;
  }

  private resolveAny(name: string): void {
    if (!this.entries.has(name)) this.resolve(name);
  }
}

/** The process-wide registry used unless a model or module is given its own. */
export const expertsInterface = new ExpertsInterface();
