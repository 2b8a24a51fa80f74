/**
 * Node file access for checkpoints. Imported lazily (dynamic import) so the package still loads in
 * browsers, which provide their own ByteSource and text readers.
 */
import { open, readFile, stat } from "node:fs/promises";
import type { ByteSource } from "./byte-source.js";

export class FileSource implements ByteSource {
  constructor(readonly name: string) {}

  async size(): Promise<number> {
    return (await stat(this.name)).size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const fh = await open(this.name, "r");
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

export async function readText(path: string): Promise<string> {
  return readFile(path, "utf8");
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
