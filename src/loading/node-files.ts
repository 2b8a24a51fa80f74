/**
 * Node file access for checkpoints. Every Node built-in is imported inside the functions (and this
 * module itself is imported lazily), so browser bundlers never have to resolve node:fs.
 */
import { alignedBytes } from "../formats/aligned.js";
import type { ByteSource } from "./byte-source.js";
import { MappedFile } from "./mapped-file.js";

const fs = () => import("node:fs/promises");

export interface FileSourceOptions {
  /** Map the file and hand out views of it instead of reading (default true; MOEKIT_MMAP=0 turns it off). */
  mmap?: boolean;
}

export class FileSource implements ByteSource {
  private mapped: MappedFile | null | undefined;

  constructor(
    readonly name: string,
    private readonly opts: FileSourceOptions = {},
  ) {}

  /** The mapping, made on first use; null where mapping is off or unavailable. */
  mapping(): MappedFile | null {
    // a mapping a disposed model released is made afresh for the next model
    if (this.mapped === undefined || this.mapped?.closed) this.mapped = this.opts.mmap === false ? null : (MappedFile.open(this.name) ?? null);
    return this.mapped;
  }

  view(offset: number, length: number): Uint8Array | undefined {
    const m = this.mapping();
    if (!m) return undefined;
    if (offset + length > m.size) throw new Error(`${this.name}: file ends before byte ${offset + length}`);
    return m.view(offset, length);
  }

  async size(): Promise<number> {
    return (await (await fs()).stat(this.name)).size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const fh = await (await fs()).open(this.name, "r");
    try {
      const buf = alignedBytes(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${this.name}: file ends before byte ${offset + length}`);
        done += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }
}

/** A whole regular file of at most `maxBytes` (checked before reading). */
export async function readBytes(path: string, maxBytes: number): Promise<Uint8Array> {
  const f = await fs();
  const st = await f.stat(path);
  if (!st.isFile()) throw new Error(`${path} is not a regular file`);
  if (st.size > maxBytes) throw new Error(`${path} is ${st.size} bytes, more than the ${maxBytes} bytes allowed for it`);
  return new Uint8Array(await f.readFile(path));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await (await fs()).stat(path);
    return true;
  } catch {
    return false;
  }
}
