/**
 * A forward-only little-endian reader over a ByteSource for the GGUF header: it reads ranges of the
 * source in chunks (never the whole file) and refuses to go past `limit`, the smaller of the file size
 * and the header budget, so a hostile length fails as "runs past" before anything is allocated.
 */
import type { ByteSource } from "../byte-source.js";

const CHUNK = 1 << 20;

export class HeaderCursor {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  /** file offset of buf[0] */
  private base = 0;
  /** file offset of the next byte to read */
  pos = 0;

  constructor(
    private readonly source: ByteSource,
    /** no byte at or past this offset is ever read */
    readonly limit: number,
    /** what the limit is, for errors: "the end of the file (N bytes)" */
    private readonly limitText: string,
  ) {}

  /** Bytes left before the limit. */
  remaining(): number {
    return this.limit - this.pos;
  }

  /** Makes n bytes from pos available, or throws naming `what`. */
  private async need(n: number, what: string): Promise<number> {
    if (n > this.limit - this.pos) {
      throw new Error(`${what} at byte ${this.pos} needs ${n} bytes but runs past ${this.limitText}`);
    }
    const at = this.pos - this.base;
    if (at + n <= this.buf.length) return at;
    const keep = this.buf.subarray(at);
    const want = Math.min(Math.max(n, CHUNK), this.limit - this.pos);
    const fresh = await this.source.read(this.pos + keep.length, want - keep.length);
    const next = new Uint8Array(want);
    next.set(keep, 0);
    next.set(fresh, keep.length);
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.base = this.pos;
    return 0;
  }

  async u32(what: string): Promise<number> {
    const at = await this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(at, true);
  }

  async u64(what: string): Promise<bigint> {
    const at = await this.need(8, what);
    this.pos += 8;
    return this.view.getBigUint64(at, true);
  }

  /** A u64 that must be a safe integer no larger than `max`. */
  async count(what: string, max: number, maxText: string): Promise<number> {
    const v = await this.u64(what);
    if (v > BigInt(max)) throw new Error(`${what} is ${v}, more than ${maxText} before ${this.limitText} (${max})`);
    return Number(v);
  }

  /** n raw bytes, copied (so the result owns an aligned buffer). */
  async bytes(n: number, what: string): Promise<Uint8Array> {
    const at = await this.need(n, what);
    this.pos += n;
    return this.buf.slice(at, at + n);
  }

  /** A GGUF string: u64 length, then that many UTF-8 bytes (invalid UTF-8 is an error). */
  async string(what: string): Promise<string> {
    const v = await this.u64(`${what}: string length`);
    if (v > BigInt(this.remaining())) throw new Error(`${what}: string length ${v} runs past ${this.limitText} (${this.remaining()} bytes left)`);
    const len = Number(v);
    const at = await this.need(len, what);
    this.pos += len;
    try {
      return UTF8.decode(this.buf.subarray(at, at + len));
    } catch {
      throw new Error(`${what} at byte ${this.pos - len} is not valid UTF-8`);
    }
  }

  /**
   * The next GGUF string if it is already buffered (the common case inside big string arrays, read
   * without a promise per element), else undefined with nothing consumed. Bad lengths and UTF-8 are
   * left to string() to report.
   */
  stringIfBuffered(): string | undefined {
    const at = this.pos - this.base;
    if (at + 8 > this.buf.length) return undefined;
    const hi = this.view.getUint32(at + 4, true);
    const len = this.view.getUint32(at, true);
    if (hi !== 0 || at + 8 + len > this.buf.length || this.pos + 8 + len > this.limit) return undefined;
    let s: string;
    try {
      s = UTF8.decode(this.buf.subarray(at + 8, at + 8 + len));
    } catch {
      return undefined;
    }
    this.pos += 8 + len;
    return s;
  }

  /** Reads `n` fixed-size little-endian values of `size` bytes into a fresh typed array via `make`. */
  async array<T>(n: number, size: number, what: string, make: (bytes: Uint8Array) => T): Promise<T> {
    return make(await this.bytes(n * size, what));
  }

  /** One fixed-size scalar at the cursor. */
  async scalar(size: number, what: string): Promise<DataView> {
    const at = await this.need(size, what);
    this.pos += size;
    return new DataView(this.buf.buffer, this.buf.byteOffset + at, size);
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });
