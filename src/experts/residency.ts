/**
 * An expert cache for models larger than memory (`maxResidentBytes`): routed experts stay in their
 * memory-mapped checkpoint file, and this cache decides which of them are kept resident. Each MoE block
 * reports the experts a batch routes to (`routed`), right after its router and before the experts run:
 * experts not resident are prefetched (madvise WILLNEED starts the reads while the block does the rest of
 * its work), and when the resident experts pass the budget the coldest ones — lowest routing count,
 * decayed per step — are dropped from the process and the page cache (madvise + posix_fadvise DONTNEED;
 * clean file pages, nothing is written). Data never changes, only where it lives: logits are the same
 * with or without a budget. Weights not mapped from a file (in-memory or device tensors) are an error at
 * install. The experts a batch routes to are never evicted while it runs, so decode goes on (over budget,
 * counted) when one layer's active experts alone exceed it.
 */
import { rowByteRuns, SegmentedStorage } from "../formats/segments.js";
import { rowBytes } from "../formats/table.js";
import { mappedRange, type FileRange } from "../loading/mapped-views.js";
import type { Tensor } from "../tensor.js";
import type { ExpertsWeights } from "./types.js";

export interface ExpertCacheStats {
  /** Routed experts (unique per layer call) already resident / brought in. */
  hits: number;
  misses: number;
  evictions: number;
  /** Layer calls whose routed experts alone exceeded the budget. */
  overBudget: number;
  /** Bytes of the experts this cache holds resident now, and its budget for them. */
  residentBytes: number;
  budgetBytes: number;
}

/** What a MoE block calls with its routing (int32 ids, any shape). */
export interface ExpertsResidencyHook {
  routed(ids: Int32Array): void;
}

export interface ExpertCacheOptions {
  /** Per-step decay of an expert's routing count (default 0.9: a count halves in about 7 steps). */
  decay?: number;
}

/** The file ranges holding expert `e`'s rows of `t` ([E, ...] with E leading), or undefined when t is not mapped. */
function expertRanges(t: Tensor, experts: number, e: number, what: string): FileRange[] {
  if (!t.isHost) throw new Error(`expert cache: ${what} is on backend '${t.backend!.name}', not memory-mapped host weights`);
  const cols = t.shape[t.rank - 1]!;
  const rows = t.size / cols;
  const per = rows / experts;
  const rb = rowBytes(t.dtype, cols);
  const s = t.storage;
  const segments = s instanceof SegmentedStorage ? s : new SegmentedStorage([{ data: t.hostStorage(), byteOffset: 0, rows }]);
  const out: FileRange[] = [];
  let r = e * per;
  const end = (e + 1) * per;
  while (r < end) {
    const { segment, row } = segments.locate(r);
    const n = Math.min(end - r, segment.rows - row);
    for (const run of rowByteRuns(segment, rb, row, n)) {
      const range = mappedRange(segment.data, run.byteOffset, run.length);
      if (!range) throw new Error(`expert cache: ${what} is not memory-mapped from a checkpoint file (load it from a file in Node, with mapping on)`);
      const last = out[out.length - 1];
      if (last && last.file === range.file && last.offset + last.length === range.offset) last.length += range.length;
      else out.push(range);
    }
    r += n;
  }
  return out;
}

interface Slot {
  ranges: FileRange[];
  bytes: number;
  score: number;
  /** Step at which `score` was last brought up to date. */
  at: number;
  resident: boolean;
}

export class ExpertCache {
  private readonly slots: Slot[][];
  private readonly decay: number;
  private step = 0;
  private residentBytes = 0;
  private readonly counters = { hits: 0, misses: 0, evictions: 0, overBudget: 0 };

  constructor(
    layers: readonly ExpertsWeights[],
    readonly budgetBytes: number,
    opts: ExpertCacheOptions = {},
  ) {
    if (!Number.isFinite(budgetBytes) || budgetBytes < 0) throw new Error(`expert cache: budget must be a non-negative number of bytes, got ${budgetBytes}`);
    this.decay = opts.decay ?? 0.9;
    if (!(this.decay > 0 && this.decay <= 1)) throw new Error(`expert cache: decay must be in (0, 1], got ${opts.decay}`);
    this.slots = layers.map((w, l) =>
      Array.from({ length: w.numExperts }, (_, e) => {
        const ranges: FileRange[] = [];
        const parts: [Tensor | undefined, string][] = [
          [w.gateUp, "gate_up_proj"],
          [w.up, "up_proj"],
          [w.down, "down_proj"],
          [w.gateUpBias, "gate_up_proj_bias"],
          [w.downBias, "down_proj_bias"],
        ];
        for (const [t, name] of parts) if (t) ranges.push(...expertRanges(t, w.numExperts, e, `MoE layer ${l} ${name}`));
        return { ranges, bytes: ranges.reduce((a, r) => a + r.length, 0), score: 0, at: 0, resident: false };
      }),
    );
  }

  /** Bytes of all routed experts (what a budget is compared with). */
  get expertBytes(): number {
    return this.slots.reduce((a, layer) => a + layer.reduce((b, s) => b + s.bytes, 0), 0);
  }

  /** The hook for MoE layer `layer` (0-based among the MoE layers). */
  layer(layer: number): ExpertsResidencyHook {
    if (!this.slots[layer]) throw new Error(`expert cache: no MoE layer ${layer} (${this.slots.length} layers)`);
    return { routed: (ids) => this.routed(layer, ids) };
  }

  stats(): ExpertCacheStats {
    return { ...this.counters, residentBytes: this.residentBytes, budgetBytes: this.budgetBytes };
  }

  /** Which experts of `layer` this cache holds resident now. */
  residentExperts(layer: number): number[] {
    return (this.slots[layer] ?? []).flatMap((s, e) => (s.resident ? [e] : []));
  }

  /** Drops every expert from memory and the page cache (a cold start for benchmarks); counters are kept. */
  evictAll(): void {
    for (const layer of this.slots) for (const s of layer) this.evict(s, true);
  }

  private routed(layer: number, ids: Int32Array): void {
    this.step++;
    const slots = this.slots[layer]!;
    const now = new Set<number>();
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= slots.length) continue; // identity experts and padding: no weights
      now.add(id);
    }
    for (const e of now) {
      const s = slots[e]!;
      s.score = this.scoreOf(s) + 1;
      s.at = this.step;
      if (s.resident) {
        this.counters.hits++;
        continue;
      }
      this.counters.misses++;
      s.resident = true;
      this.residentBytes += s.bytes;
      for (const r of s.ranges) r.file.advise(r.offset, r.length, "willneed");
    }
    if (this.residentBytes > this.budgetBytes) this.shrink(slots, now);
  }

  private scoreOf(s: Slot): number {
    return s.score * Math.pow(this.decay, this.step - s.at);
  }

  /** Evicts the coldest resident experts (never those of the current call) until the budget holds. */
  private shrink(current: Slot[], keep: Set<number>): void {
    const candidates: { s: Slot; score: number }[] = [];
    for (const layer of this.slots) {
      layer.forEach((s, e) => {
        if (s.resident && !(layer === current && keep.has(e))) candidates.push({ s, score: this.scoreOf(s) });
      });
    }
    candidates.sort((a, b) => a.score - b.score);
    for (const { s } of candidates) {
      if (this.residentBytes <= this.budgetBytes) break;
      this.evict(s, false);
    }
    if (this.residentBytes > this.budgetBytes) this.counters.overBudget++;
  }

  private evict(s: Slot, always: boolean): void {
    if (!s.resident && !always) return;
    for (const r of s.ranges) r.file.advise(r.offset, r.length, "evict");
    if (s.resident) {
      s.resident = false;
      this.residentBytes -= s.bytes;
      this.counters.evictions++;
    }
  }
}

/**
 * An ExpertCache over `layers` for a process budget of `maxResidentBytes`, of which `denseBytes` (every weight
 * but the routed experts) stay resident: the experts get the rest. A budget below the dense parts is an error.
 */
export function expertCacheFor(layers: readonly ExpertsWeights[], maxResidentBytes: number, denseBytes: number, opts: ExpertCacheOptions = {}): ExpertCache {
  if (!Number.isFinite(maxResidentBytes) || maxResidentBytes <= 0) throw new Error(`maxResidentBytes must be a positive number of bytes, got ${maxResidentBytes}`);
  if (layers.length === 0) throw new Error("maxResidentBytes: the model has no routed experts to keep out of memory");
  if (maxResidentBytes <= denseBytes) {
    throw new Error(`maxResidentBytes ${maxResidentBytes} leaves nothing for experts: the dense weights alone take ${denseBytes} bytes`);
  }
  return new ExpertCache(layers, maxResidentBytes - denseBytes, opts);
}
