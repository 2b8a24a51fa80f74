/**
 * A mixer whose state has several parts (a convolution window and a recurrent matrix) keeps them in one
 * flat state slot [B, total]; this splits the slot into the parts' shapes and joins them back.
 */
import type { Backend } from "../../../backends/backend.js";
import { numel, type Tensor } from "../../../tensor.js";

export class StateParts {
  readonly sizes: number[];
  readonly total: number;

  constructor(readonly shapes: readonly (readonly number[])[]) {
    this.sizes = shapes.map((s) => numel(s));
    this.total = this.sizes.reduce((a, n) => a + n, 0);
  }

  /** The flat slot's shape (one entry). */
  get shape(): number[] {
    return [this.total];
  }

  /** state [B, total] → one tensor [B, ...shape_i] per part. */
  split(b: Backend, state: Tensor): Tensor[] {
    const batch = state.shape[0]!;
    let at = 0;
    return this.shapes.map((shape, i) => {
      const part = b.slice(state, 1, at, this.sizes[i]!).reshape([batch, ...shape]);
      at += this.sizes[i]!;
      return part;
    });
  }

  /** One tensor [B, ...shape_i] per part → [B, total]. */
  join(b: Backend, parts: readonly Tensor[]): Tensor {
    const batch = parts[0]!.shape[0]!;
    const flat = parts.map((p, i) => p.reshape([batch, this.sizes[i]!]));
    return flat.length === 1 ? flat[0]! : b.concat(flat, 1);
  }
}
