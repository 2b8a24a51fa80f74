/**
 * Keys / values as backend tensors (webgpu, or any dtype or backend without host rows), grown by
 * concatenation. Sequences appended together at one length share one [B, L, H, D] tensor (a group), so
 * the usual batch that steps together costs one concat per layer and call; a call over another set of
 * sequences splits the groups it touches into one tensor per sequence, and a batch of ragged lengths
 * is assembled with zero rows on the left of the shorter ones.
 */
import type { Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import type { KvStore } from "./kv-store.js";
import type { SequenceId } from "./layer-spec.js";

interface Group {
  ids: SequenceId[];
  k: Tensor;
  v: Tensor;
}

export class TensorGroups implements KvStore {
  private groups: Group[] = [];

  constructor(
    private readonly b: Backend,
    private readonly layer: number,
  ) {}

  append(ids: readonly SequenceId[], pasts: readonly number[], k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const out = this.appendGroups(ids, pasts, k, v);
    // what the groups hold (k and v, their slices and concatenations) outlives this forward
    for (const g of this.groups) for (const t of [g.k, g.v]) this.b.retain?.(t);
    return out;
  }

  private appendGroups(ids: readonly SequenceId[], pasts: readonly number[], k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const b = this.b;
    const past = Math.max(...pasts);
    const aligned = pasts.every((p) => p === past);
    const same = this.groups.find((g) => g.ids.length === ids.length && g.ids.every((id, i) => id === ids[i]));
    if (same && aligned) {
      same.k = this.extend(same.k, past, k);
      same.v = this.extend(same.v, past, v);
      return { k: same.k, v: same.v };
    }
    if (past === 0 && ids.every((id) => !this.groups.some((g) => g.ids.includes(id)))) {
      this.groups.push({ ids: [...ids], k, v });
      return { k, v };
    }
    const singles = ids.map((id, i) => {
      const g = this.single(id);
      const row = (x: Tensor) => (ids.length === 1 ? x : b.slice(x, 0, i, 1));
      const next = { ids: [id], k: this.extend(g?.k, pasts[i]!, row(k)), v: this.extend(g?.v, pasts[i]!, row(v)) };
      if (g) this.groups.splice(this.groups.indexOf(g), 1, next);
      else this.groups.push(next);
      return next;
    });
    if (ids.length === 1) return { k: singles[0]!.k, v: singles[0]!.v };
    if (aligned) {
      const joined: Group = { ids: [...ids], k: b.concat(singles.map((g) => g.k), 0), v: b.concat(singles.map((g) => g.v), 0) };
      this.groups = [...this.groups.filter((g) => !singles.includes(g)), joined];
      return { k: joined.k, v: joined.v };
    }
    const padded = (x: Tensor, p: number) => (p === past ? x : b.concat([b.zeros([1, past - p, ...x.shape.slice(2)], x.dtype), x], 1));
    return {
      k: b.concat(singles.map((g, i) => padded(g.k, pasts[i]!)), 0),
      v: b.concat(singles.map((g, i) => padded(g.v, pasts[i]!)), 0),
    };
  }

  drop(id: SequenceId): void {
    const g = this.groups.find((x) => x.ids.includes(id));
    if (!g) return;
    this.split(g);
    this.groups = this.groups.filter((x) => x.ids[0] !== id);
  }

  /** `prev`'s first `past` tokens (rows of a call that did not commit are cut off), then `next`. */
  private extend(prev: Tensor | undefined, past: number, next: Tensor): Tensor {
    if (past === 0) return next;
    const held = prev?.shape[1] ?? 0;
    if (!prev || held < past) throw new Error(`KV cache: layer ${this.layer} holds ${held} tokens of a sequence that has ${past}`);
    return this.b.concat([held === past ? prev : this.b.slice(prev, 1, 0, past), next], 1);
  }

  /** The group holding `id` alone (splitting a shared group), or undefined when it holds nothing yet. */
  private single(id: SequenceId): Group | undefined {
    const g = this.groups.find((x) => x.ids.includes(id));
    if (!g) return undefined;
    return g.ids.length === 1 ? g : this.split(g).find((x) => x.ids[0] === id);
  }

  /** Replace a shared group by one group per sequence. */
  private split(g: Group): Group[] {
    if (g.ids.length === 1) return [g];
    const parts = g.ids.map((id, i) => ({ ids: [id], k: this.b.slice(g.k, 0, i, 1), v: this.b.slice(g.v, 0, i, 1) }));
    this.groups.splice(this.groups.indexOf(g), 1, ...parts);
    return parts;
  }
}
