import type { Tensor } from "../../tensor.js";
import type { CacheStep } from "../cache/step.js";

/** What every sequence mixer (attention or other) of one forward call shares. */
export interface AttentionContext {
  /** cos/sin [B·S, R/2] for this call's positions. */
  cos: Tensor;
  sin: Tensor;
  /** int32 [B, past + S], 0 for padding; absent when nothing is padded. */
  keyMask?: Tensor;
  /**
   * int32 [B, S]: this call's own tokens, 0 for padding; absent when none of them is padding. State
   * mixers read it (attention reads keyMask).
   */
  tokenMask?: Tensor;
  /** keyMask's values on the host (chunked attention slices rows by their padding). */
  keyMaskHost?: Int32Array;
  /** Each query token's position (real tokens before it in its row), int32 [B·S] on the host. */
  positions?: Int32Array;
  /** Tokens before this call's (the longest sequence's, when their lengths differ). */
  pastLength: number;
  /** This call's view of the cache, through which each attention layer appends its keys / values and each state mixer keeps its state. */
  cache?: CacheStep;
  /** A shortcut MoE output held back by one layer for the next to add (longcat_flash; see DecoderLayer). */
  deferred?: Tensor;
}
