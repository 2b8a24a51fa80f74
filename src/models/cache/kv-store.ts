/** Where an attention layer's keys and values live between calls (host row buffers or backend tensors). */
import type { Tensor } from "../../tensor.js";
import type { SequenceId } from "./layer-spec.js";

export interface KvStore {
  /**
   * Append new keys / values [B, S, H, D] of sequences `ids`, which hold `pasts[i]` tokens each (rows
   * past that, left by a call that did not commit, are overwritten). Returns each sequence's keys and
   * values so far as [B, P + S, H, D] with P = max(pasts): a shorter sequence's rows come after
   * P − pasts[i] zero rows, which the call's key mask hides.
   */
  append(ids: readonly SequenceId[], pasts: readonly number[], k: Tensor, v: Tensor): { k: Tensor; v: Tensor };
  /** Forget a sequence. */
  drop(id: SequenceId): void;
}
