/** Weights as the native addon reads them: a format code, [rows, cols] and the row segments (row strides included), with no copy. */
import { SegmentedStorage } from "../../formats/segments.js";
import { FORMATS, type HostStorage } from "../../formats/table.js";
import { numel, type Tensor } from "../../tensor.js";
import type { NativeAddon, NativeWeight, WeightArg, WeightHandle } from "./native.js";

/** A host weight (contiguous, or a view of row segments) as a native descriptor: leading dims flattened into rows. */
export function nativeWeight(t: Tensor, op: string, what: string): NativeWeight {
  if (!t.isHost) throw new Error(`${op}: ${what} is on backend '${t.backend!.name}', not in host memory`);
  const cols = t.rank === 0 ? 1 : t.shape[t.rank - 1]!;
  const rows = numel(t.shape.slice(0, -1));
  const s = t.storage;
  const segments =
    s instanceof SegmentedStorage
      ? s.segments.map((g) => (g.rowStride === undefined ? { data: g.data, byteOffset: g.byteOffset, rows: g.rows } : { data: g.data, byteOffset: g.byteOffset, rows: g.rows, rowStride: g.rowStride }))
      : [{ data: s as HostStorage, byteOffset: 0, rows }];
  return { format: FORMATS[t.dtype].code, rows, cols, segments };
}

/**
 * Tensors the products read again, as handles of their parsed descriptors (NativeAddon.weightHandle). A weight's
 * descriptor costs a property read per field, and a view of a mapped checkpoint's per-expert tensors has two
 * segments per expert: at 60 experts reading the two stacks' descriptors made a small fusedExperts call 3x slower
 * (docs/performance.md, session 16). A tensor's first use passes its descriptor, so a weight used once (an expert
 * the out-of-core cache loads for one step) never costs a handle; its second use makes one.
 */
const handles = new WeakMap<Tensor, WeightHandle | "once" | "never">();

export function weightArg(addon: NativeAddon, t: Tensor, op: string, what: string): WeightArg {
  const known = handles.get(t);
  if (known !== undefined && known !== "once" && known !== "never") return known;
  const descriptor = nativeWeight(t, op, what);
  if (known === undefined) handles.set(t, "once");
  if (known !== "once") return descriptor;
  try {
    const handle = addon.weightHandle({ weight: descriptor });
    handles.set(t, handle);
    return handle;
  } catch {
    // not a descriptor the addon reads (the product then refuses it, naming itself and the field) or rows in a
    // buffer it does not check (a SharedArrayBuffer): this tensor keeps passing its descriptor
    handles.set(t, "never");
    return descriptor;
  }
}
