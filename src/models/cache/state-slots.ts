/**
 * A recurrent or convolution layer's fixed-size state, one slot per sequence: read as a batch
 * [B, ...shape] (zeros for a sequence that has none yet), written back whole after the layer ran.
 */
import type { Backend } from "../../backends/backend.js";
import { shapeString, type Tensor } from "../../tensor.js";
import type { SequenceId } from "./layer-spec.js";

export class StateSlots {
  private readonly slots = new Map<SequenceId, Tensor>();

  constructor(
    readonly layer: number,
    readonly shape: readonly number[],
  ) {}

  read(b: Backend, ids: readonly SequenceId[]): Tensor {
    const rows = ids.map((id) => this.slots.get(id) ?? b.zeros([1, ...this.shape]));
    return rows.length === 1 ? rows[0]! : b.concat(rows, 0);
  }

  /** The states [B, ...shape] of `ids` after a call, split into one slot per sequence. */
  split(b: Backend, ids: readonly SequenceId[], state: Tensor): Map<SequenceId, Tensor> {
    const want = [ids.length, ...this.shape];
    if (state.rank !== want.length || state.shape.some((d, i) => d !== want[i])) {
      throw new Error(`cache: layer ${this.layer} keeps states ${shapeString(want)} for these ${ids.length} sequence(s), got ${shapeString(state.shape)}`);
    }
    const slots = new Map(ids.map((id, i) => [id, ids.length === 1 ? state : b.slice(state, 0, i, 1)]));
    for (const t of slots.values()) b.retain?.(t); // the slots outlive this forward
    return slots;
  }

  set(updates: ReadonlyMap<SequenceId, Tensor>): void {
    for (const [id, t] of updates) this.slots.set(id, t);
  }

  drop(id: SequenceId): void {
    this.slots.delete(id);
  }
}
