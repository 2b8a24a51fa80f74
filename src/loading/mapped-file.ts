/**
 * A checkpoint file mapped read-only by the native addon (native/src/mmap/): views of its bytes are
 * external ArrayBuffers over the mapping, so weights are read in place and only the pages a kernel touches
 * become resident. Node only, imported lazily (node-files.ts). `MOEKIT_MMAP=0` turns mapping off (every
 * tensor is then read into memory, as in a browser).
 */
import { loadNative, type NativeMmap } from "../backends/cpu/native.js";
import { registerMappedView, type MappedRegion, type MappingAdvice } from "./mapped-views.js";

/** Window k covers bytes [k·stride, (k + 2)·stride): any range up to one stride long lies in one window. */
const WINDOW_STRIDE = 2 ** 29;

export class MappedFile implements MappedRegion {
  private readonly windows = new Map<number, ArrayBuffer>();

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
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new Error(`${this.name}: view of ${length} bytes at ${offset} runs past the end (${this.size} bytes)`);
    }
    const k = Math.floor(offset / WINDOW_STRIDE);
    if (offset + length > (k + 2) * WINDOW_STRIDE) return new Uint8Array(this.buffer(offset, length));
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
    return this.mm.advise(this.handle, offset, length, kind);
  }

  resident(offset: number, length: number): number {
    return this.mm.resident(this.handle, offset, length);
  }
}
