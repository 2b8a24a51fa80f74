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
  /** while set, need() keeps every byte from this offset on (stringArray's region) */
  private pinned: number | undefined;

  constructor(
    private readonly source: ByteSource,
    /** no byte at or past this offset is ever read */
    readonly limit: number,
    /** what the limit is, for errors: "the end of the file (N bytes)" */
    private readonly limitText: string,
  ) {}

  /** The source's name, for errors raised after parsing (lazy string arrays). */
  get sourceName(): string {
    return this.source.name;
  }

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
    // Keep the bytes from the pinned start (a string array being walked) or from pos; a pinned buffer
    // grows geometrically so a long array is copied O(1) times per byte.
    const from = this.pinned ?? this.pos;
    const keep = this.buf.subarray(from - this.base);
    const end = Math.min(this.limit, Math.max(this.pos + n, this.pos + CHUNK, from + 2 * keep.length));
    const fresh = await this.source.read(from + keep.length, end - from - keep.length);
    const next = new Uint8Array(end - from);
    next.set(keep, 0);
    next.set(fresh, keep.length);
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.base = from;
    return this.pos - from;
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
   * Walks `n` GGUF strings (u64 length + bytes each), checking every length against the bytes left, and
   * returns their bytes, length prefixes included, with the file offset they start at; decoding them is
   * left to the caller (lazy-strings.ts). The walk reads the lengths without a promise per element
   * while they are buffered.
   */
  async stringArray(n: number, what: string): Promise<{ bytes: Uint8Array; offset: number }> {
    const start = this.pos;
    this.pinned = start;
    try {
      for (let i = 0; i < n; i++) {
        let at = this.pos - this.base;
        if (at + 8 > this.buf.length) at = await this.need(8, `${what}[${i}]: string length`);
        const lo = this.view.getUint32(at, true);
        const hi = this.view.getUint32(at + 4, true);
        const left = this.limit - this.pos - 8;
        if (hi !== 0 || lo > left) {
          const v = (BigInt(hi) << 32n) | BigInt(lo);
          throw new Error(`${what}[${i}]: string length ${v} at byte ${this.pos} runs past ${this.limitText} (${Math.max(0, left)} bytes left)`);
        }
        if (at + 8 + lo > this.buf.length) await this.need(8 + lo, `${what}[${i}]`);
        this.pos += 8 + lo;
      }
      return { bytes: this.buf.slice(start - this.base, this.pos - this.base), offset: start };
    } finally {
      this.pinned = undefined;
    }
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

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
