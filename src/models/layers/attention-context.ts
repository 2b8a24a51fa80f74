import type { Tensor } from "../../tensor.js";
import type { KVCache } from "../cache/kv-cache.js";

/** What every attention layer of one forward call shares. */
export interface AttentionContext {
  /** cos/sin [B·S, R/2] for this call's positions. */
  cos: Tensor;
  sin: Tensor;
  /** int32 [B, past + S], 0 for padding; absent when nothing is padded. */
  keyMask?: Tensor;
  /** Tokens already in the cache before this call. */
  pastLength: number;
  cache?: KVCache;
}
