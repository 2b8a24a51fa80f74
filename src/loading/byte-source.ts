/** Random-access bytes: a file in Node, a Blob/File or fetched buffer in a browser. */
export interface ByteSource {
  readonly name: string;
  size(): Promise<number>;
  /** Exactly `length` bytes from `offset` into a fresh (hence aligned) buffer. */
  read(offset: number, length: number): Promise<Uint8Array>;
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
