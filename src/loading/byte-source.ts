/** Random-access bytes: a file in Node, a Blob/File or fetched buffer in a browser. */
export interface ByteSource {
  readonly name: string;
  size(): Promise<number>;
  /** Exactly `length` bytes from `offset` into a fresh (hence aligned) buffer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * The bytes in place, without copying (a memory-mapped file), or undefined where this source cannot map
   * them; the view stays valid while it is referenced. Its start has the alignment of `offset` in the file.
   */
  view?(offset: number, length: number): Uint8Array | undefined;
}

/**
 * `length` bytes at `offset` in place when the source maps them and `offset` suits a typed array of
 * `align`-byte elements; undefined otherwise (the caller reads a copy).
 */
export function alignedView(source: ByteSource, offset: number, length: number, align: number): Uint8Array | undefined {
  if (!source.view || offset % align !== 0) return undefined;
  return source.view(offset, length);
}

/** A ByteSource over bytes already in memory (browser downloads, tests). */
export class BufferSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {}

  async size(): Promise<number> {
    return this.bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.bytes.length) {
      throw new Error(`${this.name}: read of ${length} bytes at ${offset} runs past the end (${this.bytes.length} bytes)`);
    }
    return this.bytes.slice(offset, offset + length);
  }
}
