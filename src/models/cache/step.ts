/**
 * One forward call's view of a ModelCache: which sequences the batch rows are, how many tokens each
 * holds, the key mask that lines them up, and the layers' appends. Nothing changes in the cache until
 * `commit`, so a call that throws half-way leaves every sequence as it was.
 */
import type { Backend } from "../../backends/backend.js";
import { shapeString, Tensor } from "../../tensor.js";
import type { KvStore } from "./kv-store.js";
import type { SequenceId } from "./layer-spec.js";
import type { StateSlots } from "./state-slots.js";

/** What a step reaches of its cache (ModelCache builds it). */
export interface StepStores {
  kv(layer: number, b: Backend, k: Tensor, v: Tensor): KvStore;
  state(layer: number): StateSlots;
  /** Stored padding mask of a sequence (1 = token, 0 = padding), undefined when it holds no padding. */
  maskOf(id: SequenceId): readonly number[] | undefined;
  commit(step: CacheStep, masks: (readonly number[] | undefined)[], states: Map<number, Map<SequenceId, Tensor>>): void;
}

export class CacheStep {
  /** Longest stored length among the call's sequences: the new tokens' offset in the keys. */
  readonly past: number;
  private newMasks: (readonly number[] | undefined)[];
  private readonly states = new Map<number, Map<SequenceId, Tensor>>();

  constructor(
    readonly sequences: readonly SequenceId[],
    readonly pastLengths: readonly number[],
    readonly tokens: number,
    private readonly stores: StepStores,
  ) {
    this.past = Math.max(0, ...pastLengths);
    this.newMasks = sequences.map(() => undefined);
  }

  get batch(): number {
    return this.sequences.length;
  }

  /**
   * The call's key mask int32 [B, past + S] (undefined when nothing is padded): `attentionMask` as given
   * (then every sequence must hold the same number of tokens), else each sequence's stored mask,
   * right-aligned after zeros where it is shorter than `past`, then ones for the new tokens.
   */
  async keyMask(attentionMask?: Tensor): Promise<Tensor | undefined> {
    const { batch: n, past, tokens: s } = this;
    const total = past + s;
    if (attentionMask) {
      if (this.pastLengths.some((p) => p !== past)) {
        throw new Error(`forward: an attentionMask needs sequences of one length, these hold ${this.pastLengths.join(", ")} tokens (ragged batches take their padding from the cache)`);
      }
      if (!(attentionMask instanceof Tensor) || attentionMask.rank !== 2 || attentionMask.shape[0] !== n || attentionMask.shape[1] !== total) {
        throw new Error(`forward: attentionMask must be [${n}, ${total}] (cached + new tokens), got ${attentionMask instanceof Tensor ? shapeString(attentionMask.shape) : String(attentionMask)}`);
      }
      const m = await attentionMask.data();
      this.newMasks = this.sequences.map((_, b) => {
        const cols = Array.from(m.subarray(b * total + past, (b + 1) * total), (x) => (x !== 0 ? 1 : 0));
        return cols.every((x) => x === 1) ? undefined : cols;
      });
      return attentionMask;
    }
    const stored = this.sequences.map((id) => this.stores.maskOf(id));
    if (this.pastLengths.every((p) => p === past) && stored.every((m) => m === undefined)) return undefined;
    const out = new Int32Array(n * total);
    for (let b = 0; b < n; b++) {
      const held = this.pastLengths[b]!;
      const row = b * total + past - held;
      const m = stored[b];
      for (let j = 0; j < held; j++) out[row + j] = m ? m[j]! : 1;
      out.fill(1, b * total + past, (b + 1) * total);
    }
    return Tensor.from(out, [n, total]);
  }

  /** Append an attention layer's new keys / values [B, S, H, D]; returns [B, past + S, H, D]. */
  appendKV(b: Backend, layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    if (k.rank !== 4 || v.rank !== 4 || k.shape[0] !== this.batch || v.shape[0] !== this.batch || k.shape[1] !== this.tokens || v.shape[1] !== this.tokens) {
      throw new Error(`KV cache: layer ${layer} appends keys ${shapeString(k.shape)} / values ${shapeString(v.shape)}, but the call has ${this.batch} sequence(s) of ${this.tokens} new token(s)`);
    }
    return this.stores.kv(layer, b, k, v).append(this.sequences, this.pastLengths, k, v);
  }

  /** A state layer's states [B, ...shape] before this call (zeros for a sequence that has none). */
  readState(b: Backend, layer: number): Tensor {
    return this.stores.state(layer).read(b, this.sequences);
  }

  /** A state layer's states [B, ...shape] after this call; stored at commit. */
  writeState(b: Backend, layer: number, state: Tensor): void {
    this.states.set(layer, this.stores.state(layer).split(b, this.sequences, state));
  }

  /** Every layer ran: the sequences now hold `tokens` more tokens (and the states written). */
  commit(): void {
    this.stores.commit(this, this.newMasks, this.states);
  }
}
