/**
 * A checkpoint file mapped read-only by the native addon (native/src/mmap/): views of its bytes are
 * external ArrayBuffers over the mapping, so weights are read in place and only the pages a kernel touches
 * become resident. Node only, imported lazily (node-files.ts). `MOEKIT_MMAP=0` turns mapping off (every
 * tensor is then read into memory, as in a browser).
 *
 * A model's dispose() releases its files at once (retain/release below): every view handed out is
 * detached (its typed arrays then have length 0) and the file unmapped, so no script can reach the
 * pages afterwards. Mappings no model released are unmapped by the finalizers once unreferenced.
 */
import { loadNative, type NativeMmap } from "../backends/cpu/native.js";
import { registerMappedView, type MappedRegion, type MappingAdvice } from "./mapped-views.js";

/** Window k covers bytes [k·stride, (k + 2)·stride): any range up to one stride long lies in one window. */
const WINDOW_STRIDE = 2 ** 29;

export class MappedFile implements MappedRegion {
  private readonly windows = new Map<number, ArrayBuffer>();
  /** views made outside the windows (a range across a window boundary), to detach on unmap */
  private readonly loose = new Set<WeakRef<ArrayBuffer>>();
  /** models holding views of this file (retain / release) */
  private users = 0;
  private unmapped = false;

  private constructor(
    readonly name: string,
    private readonly mm: NativeMmap,
    private readonly handle: unknown,
    readonly size: number,
  ) {}

  /** The file mapped, or undefined where mapping is off or unavailable (no addon, no POSIX mmap): callers read instead. */
  static open(path: string): MappedFile | undefined {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    if (env?.MOEKIT_MMAP === "0") return undefined;
    let mm: NativeMmap | undefined;
    try {
      mm = loadNative().mmap;
    } catch {
      return undefined;
    }
    if (!mm) return undefined;
    const handle = mm.open(path);
    return new MappedFile(path, mm, handle, mm.size(handle));
  }

  /**
   * `length` bytes at `offset`, in place (no copy); the mapping lives while any view of it does. Views are
   * cut from a few large windows: V8 counts every external buffer's length as allocated memory, and one
   * buffer per tensor made loading a 3.5 GB checkpoint spend most of its time in garbage collection.
   */
  view(offset: number, length: number): Uint8Array {
    this.checkOpen();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new Error(`${this.name}: view of ${length} bytes at ${offset} runs past the end (${this.size} bytes)`);
    }
    const k = Math.floor(offset / WINDOW_STRIDE);
    if (offset + length > (k + 2) * WINDOW_STRIDE) {
      const b = this.buffer(offset, length);
      this.loose.add(new WeakRef(b));
      return new Uint8Array(b);
    }
    let w = this.windows.get(k);
    if (!w) {
      w = this.buffer(k * WINDOW_STRIDE, Math.min(this.size, (k + 2) * WINDOW_STRIDE) - k * WINDOW_STRIDE);
      this.windows.set(k, w);
    }
    return new Uint8Array(w, offset - k * WINDOW_STRIDE, length);
  }

  private buffer(offset: number, length: number): ArrayBuffer {
    const buffer = this.mm.view(this.handle, offset, length);
    registerMappedView(buffer, this, offset);
    return buffer;
  }

  advise(offset: number, length: number, kind: MappingAdvice): boolean {
    this.checkOpen();
    return this.mm.advise(this.handle, offset, length, kind);
  }

  resident(offset: number, length: number): number {
    this.checkOpen();
    return this.mm.resident(this.handle, offset, length);
  }

  /** Whether release() unmapped the file (a FileSource then maps it afresh for a new model). */
  get closed(): boolean {
    return this.unmapped;
  }

  /** A model now holds views of this file. */
  retain(): void {
    this.checkOpen();
    this.users++;
  }

  /** A model holding views was disposed; the last one out detaches every view and unmaps the file. */
  release(): void {
    if (this.unmapped || this.users === 0) return;
    if (--this.users > 0) return;
    const views = [...this.windows.values()];
    for (const ref of this.loose) {
      const b = ref.deref();
      if (b) views.push(b);
    }
    this.mm.unmap(this.handle, views);
    this.unmapped = true;
    this.windows.clear();
    this.loose.clear();
  }

  private checkOpen(): void {
    if (this.unmapped) throw new Error(`${this.name}: the file was unmapped when the model using it was disposed; load it again`);
  }
}
