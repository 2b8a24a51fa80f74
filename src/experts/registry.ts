import { createAutoImplementation } from "./auto.js";
import { batchedMm } from "./batched-mm.js";
import { eager } from "./eager.js";
import { groupedMm } from "./grouped-mm.js";
import type { ExpertsImplementation } from "./types.js";

/** The names whose meaning never changes: transformers' three, and `auto`, which picks among candidates per call. */
export const BUILTIN_IMPLEMENTATIONS = ["eager", "batched_mm", "grouped_mm", "auto"] as const;
export const DEFAULT_IMPLEMENTATION = "grouped_mm";

export interface RegisterOptions {
  /** `auto` may pick this implementation (it then needs a cost entry; see experts/auto). */
  autoCandidate?: boolean;
}

interface Entry {
  impl: ExpertsImplementation;
  autoCandidate: boolean;
}

/**
 * Name → experts implementation. Built-ins are registered up front; user implementations are
 * first-class: selectable by name at load time and at run time exactly like the built-ins.
 */
export class ExpertsInterface {
  private readonly entries = new Map<string, Entry>();

  constructor(withBuiltins = true) {
    if (!withBuiltins) return;
    this.entries.set("eager", { impl: eager, autoCandidate: false });
    this.entries.set("batched_mm", { impl: batchedMm, autoCandidate: true });
    this.entries.set("grouped_mm", { impl: groupedMm, autoCandidate: true });
    this.entries.set("auto", { impl: createAutoImplementation(this), autoCandidate: false });
  }

  register(name: string, impl: ExpertsImplementation, opts: RegisterOptions = {}): void {
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
      throw new Error(`experts implementation name must be an identifier-like string, got ${JSON.stringify(name)}`);
    }
    if ((BUILTIN_IMPLEMENTATIONS as readonly string[]).includes(name)) {
      throw new Error(`'${name}' is a built-in experts implementation and cannot be replaced; register under another name`);
    }
    if (typeof impl !== "function") throw new Error(`experts implementation '${name}' must be a function`);
    this.entries.set(name, { impl, autoCandidate: opts.autoCandidate ?? false });
  }

  unregister(name: string): boolean {
    if ((BUILTIN_IMPLEMENTATIONS as readonly string[]).includes(name)) throw new Error(`cannot unregister built-in '${name}'`);
    return this.entries.delete(name);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The implementation registered under `name`; an unknown name throws listing the valid ones. */
  get(name: string): ExpertsImplementation {
    return this.entry(name).impl;
  }

  isAutoCandidate(name: string): boolean {
    return this.entry(name).autoCandidate;
  }

  list(): string[] {
    return [...this.entries.keys()];
  }

  /** Throws unless `name` is registered; returns it. */
  validate(name: string): string {
    this.entry(name);
    return name;
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) {
      throw new Error(`unknown experts implementation ${JSON.stringify(name)}: valid are ${this.list().map((n) => `'${n}'`).join(", ")}`);
    }
    return e;
  }
}

/** The process-wide registry used unless a model or module is given its own. */
export const expertsInterface = new ExpertsInterface();
