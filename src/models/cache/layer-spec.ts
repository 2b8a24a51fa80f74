/** What each layer of a model keeps between forward calls, declared by the model when it hands out a cache. */
import { numel } from "../../tensor.js";

/** A sequence of a cache: ids are handed out by `ModelCache.addSequence` and never reused. */
export type SequenceId = number;

export type CacheLayerSpec =
  /**
   * An attention layer: per sequence, keys [S, ·] and values [S, ·] that grow by the tokens appended;
   * `keyWidth` / `valueWidth` = heads × head dim of one token's keys / values (they differ under MLA).
   */
  | { kind: "attention"; keyWidth: number; valueWidth: number }
  /** A recurrent or convolution layer: one fixed-size float32 state per sequence, replaced each call. */
  | { kind: "state"; shape: readonly number[] };

/** States are float32; keys and values take `kvBytes` bytes a value (4, or 2 in a 16-bit KV cache). */
const BYTES_PER_VALUE = 4;

/** Bytes every token of a sequence adds (keys and values of all attention layers). */
export function bytesPerToken(layers: readonly CacheLayerSpec[], kvBytes = BYTES_PER_VALUE): number {
  return layers.reduce((s, l) => s + (l.kind === "attention" ? (l.keyWidth + l.valueWidth) * kvBytes : 0), 0);
}

/** Bytes every sequence holds whatever its length (the state slots). */
export function bytesPerSequence(layers: readonly CacheLayerSpec[]): number {
  return layers.reduce((s, l) => s + (l.kind === "state" ? numel(l.shape) * BYTES_PER_VALUE : 0), 0);
}

export function checkLayerSpec(spec: CacheLayerSpec, layer: number): void {
  const positive = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (spec?.kind === "attention" && positive(spec.keyWidth) && positive(spec.valueWidth)) return;
  if (spec?.kind === "state" && Array.isArray(spec.shape) && spec.shape.length > 0 && spec.shape.every(positive)) return;
  throw new Error(`cache: layer ${layer} must be { kind: "attention", keyWidth, valueWidth } or { kind: "state", shape } with positive integer sizes, got ${JSON.stringify(spec)}`);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
