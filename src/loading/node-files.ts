/**
 * Node file access for checkpoints. Every Node built-in is imported inside the functions (and this
 * module itself is imported lazily), so browser bundlers never have to resolve node:fs.
 */
import type { ByteSource } from "./byte-source.js";

const fs = () => import("node:fs/promises");

export class FileSource implements ByteSource {
  constructor(readonly name: string) {}

  async size(): Promise<number> {
    return (await (await fs()).stat(this.name)).size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const fh = await (await fs()).open(this.name, "r");
    try {
      const buf = new Uint8Array(length);
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
