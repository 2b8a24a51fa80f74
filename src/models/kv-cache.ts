/**
 * Key/value cache, one entry per layer: keys [B, S, Hkv, Dk] and values [B, S, Hkv, Dv] (k and v head
 * dims may differ, as in MLA). Layers append during a forward; `length` advances once the whole
 * forward has run (`commit`).
 */
import type { Backend } from "../backends/backend.js";
import { shapeString, type Tensor } from "../tensor.js";

interface Entry {
  k: Tensor;
  v: Tensor;
}

export class KVCache {
  private readonly entries: (Entry | undefined)[];
  private committed = 0;

  constructor(readonly numLayers: number) {
    this.entries = new Array<Entry | undefined>(numLayers).fill(undefined);
  }

  /** Tokens held by every layer. */
  get length(): number {
    return this.committed;
  }

  /** Append a layer's new keys/values [B, S, H, D]; returns the whole sequence so far. */
  append(b: Backend, layer: number, k: Tensor, v: Tensor): Entry {
    const prev = this.entries[layer];
    if (prev && (prev.k.shape[1] !== this.committed || prev.k.shape[0] !== k.shape[0])) {
      throw new Error(`KV cache: layer ${layer} holds ${shapeString(prev.k.shape)}, which does not continue a batch of ${k.shape[0]} at length ${this.committed}`);
    }
    const next = prev ? { k: b.concat([prev.k, k], 1), v: b.concat([prev.v, v], 1) } : { k, v };
    this.entries[layer] = next;
    return next;
  }

  /** Advance the cached length by `tokens` after a forward over all layers. */
  commit(tokens: number): void {
    this.committed += tokens;
  }
}
