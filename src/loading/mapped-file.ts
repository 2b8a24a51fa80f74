/**
 * A checkpoint file mapped read-only by the native addon (native/src/mmap/): views of its bytes are
 * external ArrayBuffers over the mapping, so weights are read in place and only the pages a kernel touches
 * become resident. Node only, imported lazily (node-files.ts). `MOEKIT_MMAP=0` turns mapping off (every
 * tensor is then read into memory, as in a browser).
 */
import { loadNative, type NativeMmap } from "../backends/cpu/native.js";
import { registerMappedView, type MappedRegion, type MappingAdvice } from "./mapped-views.js";

export class MappedFile implements MappedRegion {
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

  /** `length` bytes at `offset`, in place (no copy); the mapping lives while any view of it does. */
  view(offset: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new Error(`${this.name}: view of ${length} bytes at ${offset} runs past the end (${this.size} bytes)`);
    }
    const buffer = this.mm.view(this.handle, offset, length);
    registerMappedView(buffer, this, offset);
    return new Uint8Array(buffer);
  }

  advise(offset: number, length: number, kind: MappingAdvice): boolean {
    return this.mm.advise(this.handle, offset, length, kind);
  }

  resident(offset: number, length: number): number {
    return this.mm.resident(this.handle, offset, length);
  }
}
