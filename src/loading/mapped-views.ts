/**
 * Which buffers are views of a memory-mapped file, and where in the file they start: the loaders register
 * each mapped view they hand out (mapped-file.ts, Node only), and the expert cache (src/experts/residency.ts)
 * finds the file ranges behind a weight's row segments to advise the kernel about them. No Node import here:
 * browser code sees an empty registry.
 */

/** Page-cache advice for a range of a mapped file: read ahead, drop from this process, or drop from the page cache too. */
export type MappingAdvice = "willneed" | "dontneed" | "evict";

/** The operations the expert cache needs on a mapped file. */
export interface MappedRegion {
  readonly name: string;
  /** Whether the kernel took the advice. */
  advise(offset: number, length: number, kind: MappingAdvice): boolean;
  /** Bytes of the range's pages currently in the page cache (whole pages). */
  resident(offset: number, length: number): number;
  /** A model holds views of the file / no longer does (the last release unmaps it; mapped-file.ts). */
  retain(): void;
  release(): void;
}

/** A file range: `length` bytes from `offset` of `file`. */
export interface FileRange {
  file: MappedRegion;
  offset: number;
  length: number;
}

const views = new WeakMap<ArrayBufferLike, { file: MappedRegion; offset: number }>();

/** Records that `buffer` holds the bytes of `file` from `offset` on. */
export function registerMappedView(buffer: ArrayBufferLike, file: MappedRegion, offset: number): void {
  views.set(buffer, { file, offset });
}

/** The file range behind `length` bytes at `byteOffset` of a typed array's buffer, or undefined when it is not mapped. */
export function mappedRange(data: ArrayBufferView, byteOffset: number, length: number): FileRange | undefined {
  const v = views.get(data.buffer);
  if (!v) return undefined;
  return { file: v.file, offset: v.offset + data.byteOffset + byteOffset, length };
}

/** The mapped files behind the buffers of these arrays (a model's weights), each once. */
export function mappedFilesOf(arrays: Iterable<ArrayBufferView>): Set<MappedRegion> {
  const out = new Set<MappedRegion>();
  for (const a of arrays) {
    const v = views.get(a.buffer);
    if (v) out.add(v.file);
  }
  return out;
}
