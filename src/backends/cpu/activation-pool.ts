/**
 * A model forward's float32 results handed to the next forward instead of the garbage collector.
 *
 * Inside `run` (one forward), the cpu backend takes its outputs of at least `minFloats` values from free
 * lists kept by length; when the forward settles, every buffer it took goes back to them except those
 * behind the tensors it returns and those a cache kept (`retain`). A 4×128 prefill of the bench model
 * allocated ~130 MB of such buffers, and the collector then ran 20–30 ms per forward (~5% of it). Small ones
 * count too: V8 keeps a typed array of up to 64 bytes on its heap, and any larger one costs a native allocation
 * and a sweep, 2–5 µs here (`new Float32Array(2048)` in a loop: 4.5 µs), while a decode step of a 24-layer model
 * makes ~300 such outputs (docs/performance.md, session 16).
 *
 * Which forward a buffer belongs to is carried by AsyncLocalStorage: ops called outside a forward, or by
 * another forward running beside it, never take part in its release. A forward that throws hands nothing
 * back (what it made may still be referenced). The free lists hold at most `capBytes`.
 */
import { SegmentedStorage } from "../../formats/segments.js";
import type { Tensor } from "../../tensor.js";

interface Scope {
  taken: Float32Array[];
  /** ArrayBuffers a cache keeps (views of them included): never handed back. */
  retained: Set<ArrayBufferLike>;
}

interface ScopeStorage {
  run<R>(store: Scope, fn: () => R): R;
  getStore(): Scope | undefined;
}

/** The underlying ArrayBuffers of a host tensor's storage (one array, or the segments of a row view). */
function buffersOf(t: Tensor): ArrayBufferLike[] {
  const s = t.storage;
  if (ArrayBuffer.isView(s)) return [s.buffer];
  if (s instanceof SegmentedStorage) return s.segments.map((g) => g.data.buffer);
  return [];
}

function newScopeStorage(): ScopeStorage | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const hooks = proc?.getBuiltinModule?.("node:async_hooks") as typeof import("node:async_hooks") | undefined;
  return hooks ? new hooks.AsyncLocalStorage<Scope>() : undefined;
}

export class ActivationPool {
  private readonly free = new Map<number, Float32Array[]>();
  private freeBytes = 0;
  private readonly scopes = newScopeStorage();

  constructor(
    /** Buffers shorter than this are plain allocations (16 floats or fewer live on V8's heap, cheaply). */
    readonly minFloats = 17,
    /** Most bytes the free lists hold; a buffer that would pass it is left to the collector. */
    readonly capBytes = 256 * 2 ** 20,
  ) {}

  /** Bytes waiting in the free lists. */
  get heldBytes(): number {
    return this.freeBytes;
  }

  /** n float32 values, contents unspecified (the caller overwrites every one). */
  floats(n: number): Float32Array {
    const scope = this.scopes?.getStore();
    if (!scope || n < this.minFloats) return new Float32Array(n);
    let buf = this.free.get(n)?.pop();
    if (buf) this.freeBytes -= buf.byteLength;
    else buf = new Float32Array(n);
    scope.taken.push(buf);
    return buf;
  }

  /** Runs one forward; when it settles, what it took returns to the free lists but for the buffers of `kept(result)` and of retained tensors. */
  async run<T>(fn: () => Promise<T>, kept: (result: T) => readonly Tensor[]): Promise<T> {
    if (!this.scopes || this.scopes.getStore()) return fn(); // (a forward inside a forward belongs to the outer one)
    const scope: Scope = { taken: [], retained: new Set() };
    const result = await this.scopes.run(scope, fn);
    const keep = new Set(scope.retained);
    for (const t of kept(result)) for (const b of buffersOf(t)) keep.add(b);
    for (const buf of scope.taken) if (!keep.has(buf.buffer)) this.giveBack(buf);
    return result;
  }

  /** `t` outlives the forward that is running (a cache keeps it): its buffers are not handed back. */
  retain(t: Tensor): void {
    const scope = this.scopes?.getStore();
    if (scope) for (const b of buffersOf(t)) scope.retained.add(b);
  }

  private giveBack(buf: Float32Array): void {
    if (this.freeBytes + buf.byteLength > this.capBytes) return;
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.freeBytes += buf.byteLength;
  }
}
