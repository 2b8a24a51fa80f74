/**
 * Where a whole-model forward spends its time, measured: a backend wrapper times every backend op
 * (outermost calls only, so an op implemented through other ops counts once), and the model's modules
 * are wrapped so that each op is attributed to the part of the model that issued it (attention, router,
 * experts, ...). Host backends run ops synchronously, so an op's wall time is its cost; on a device
 * backend ops only enqueue and the figures would mean little.
 *
 * Off by default: while `enabled` is false the wrapper forwards every call untouched (one Proxy `get`).
 */
import type { Backend } from "../backends/backend.js";
import type { MoeForCausalLM } from "../pretrained/moe-for-causal-lm.js";

/** The parts of a decoder-only MoE model a forward is split into. */
export type ModelPart = "embedding" | "norms" | "attention" | "router" | "experts" | "shared experts" | "dense mlp" | "lm_head" | "rest";

export interface PartTime {
  part: ModelPart;
  /** inclusive wall time of the part's module calls (for "rest": the total minus every other part) */
  ms: number;
  /** of which inside backend ops */
  opMs: number;
}

export interface OpTime {
  part: ModelPart;
  op: string;
  calls: number;
  ms: number;
}

export interface Breakdown {
  totalMs: number;
  parts: PartTime[];
  ops: OpTime[];
}

export class OpProfiler {
  enabled = false;
  private readonly labels: ModelPart[] = [];
  private depth = 0;
  private partMs = new Map<ModelPart, number>();
  private ops = new Map<string, OpTime>();
  private started = 0;

  /** Start a measured interval (clears what was gathered). */
  reset(): void {
    this.partMs = new Map();
    this.ops = new Map();
    this.started = performance.now();
  }

  /** What was gathered since `reset`, with the interval's wall time as the total. */
  snapshot(): Breakdown {
    const totalMs = performance.now() - this.started;
    const opMs = new Map<ModelPart, number>();
    for (const o of this.ops.values()) opMs.set(o.part, (opMs.get(o.part) ?? 0) + o.ms);
    const parts: PartTime[] = [];
    let labelled = 0;
    for (const [part, ms] of this.partMs) {
      parts.push({ part, ms, opMs: opMs.get(part) ?? 0 });
      labelled += ms;
    }
    parts.push({ part: "rest", ms: Math.max(0, totalMs - labelled), opMs: opMs.get("rest") ?? 0 });
    parts.sort((a, b) => b.ms - a.ms);
    const ops = [...this.ops.values()].sort((a, b) => b.ms - a.ms);
    return { totalMs, parts, ops };
  }

  /** A backend that behaves as `backend` and, while enabled, times each op. Load the model with it. */
  wrap<B extends Backend>(backend: B): B {
    return new Proxy(backend, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (!this.enabled || typeof value !== "function" || typeof prop !== "string" || prop === "constructor") return value;
        const fn = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (this.depth > 0) return fn.apply(receiver, args);
          this.depth++;
          const t0 = performance.now();
          try {
            return fn.apply(receiver, args);
          } finally {
            this.depth--;
            this.recordOp(prop, performance.now() - t0);
          }
        };
      },
    });
  }

  /** Attribute the model's module calls to parts (the model must run on a backend from `wrap`). */
  instrument(model: MoeForCausalLM): void {
    const p = model.parts;
    this.label(p.norm, "forward", "norms");
    this.label(p.lmHead, "forward", "lm_head");
    for (const layer of p.layers) {
      for (const norm of layer.allNorms()) this.label(norm, "forward", "norms");
      this.label(layer.mixer, "forward", "attention");
      if (layer.ffn.kind === "moe") {
        const block = layer.ffn.block;
        this.label(block.router, "route", "router");
        this.label(block.experts, "forward", "experts");
        // a shared expert run inside the routed experts' pass counts as experts (the pass is one native call)
        if (block.sharedFused) this.label(block.sharedFused.experts, "forward", "experts");
        if (block.shared) this.label(block.shared.mlp, "forward", "shared experts");
        if (layer.ffn.beside) this.label(layer.ffn.beside, "forward", "shared experts");
      } else {
        this.label(layer.ffn.mlp, "forward", "dense mlp");
      }
    }
  }

  private recordOp(op: string, ms: number): void {
    const part = this.labels[this.labels.length - 1] ?? (op === "embedding" ? "embedding" : "rest");
    const key = `${part}\u0000${op}`;
    const o = this.ops.get(key);
    if (o) {
      o.calls++;
      o.ms += ms;
    } else {
      this.ops.set(key, { part, op, calls: 1, ms });
    }
    if (part === "embedding" && this.labels.length === 0) this.partMs.set("embedding", (this.partMs.get("embedding") ?? 0) + ms);
  }

  /** Replace `obj[method]` on this instance by a wrapper that runs it under `part` (sync or async). */
  private label(obj: object, method: string, part: ModelPart): void {
    const target = obj as Record<string, unknown>;
    const original = target[method] as (...args: unknown[]) => unknown;
    if (typeof original !== "function") throw new Error(`op profile: ${obj.constructor.name} has no method ${method}`);
    const enter = () => {
      if (!this.enabled) return undefined;
      this.labels.push(part);
      return performance.now();
    };
    const leave = (t0: number) => {
      this.labels.pop();
      // A part nested in another (none today) would be counted in both; only outermost parts add up.
      if (!this.labels.includes(part)) this.partMs.set(part, (this.partMs.get(part) ?? 0) + performance.now() - t0);
    };
    target[method] = (...args: unknown[]) => {
      const t0 = enter();
      if (t0 === undefined) return original.apply(obj, args);
      let out: unknown;
      try {
        out = original.apply(obj, args);
      } catch (e) {
        leave(t0);
        throw e;
      }
      if (out instanceof Promise) return out.finally(() => leave(t0));
      leave(t0);
      return out;
    };
  }
}
