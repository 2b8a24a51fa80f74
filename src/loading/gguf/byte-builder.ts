/**
 * A growable little-endian byte buffer for building GGUF headers. Every write reserves its bytes with
 * room() first and only then touches buf/view, which room() may have replaced.
 */
export class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.room(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.room(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.room(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.room(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.room(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.room(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.room(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.room(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: bigint | number): void {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  i64(v: bigint): void {
    const at = this.room(8);
    this.view.setBigInt64(at, v, true);
  }
  bytes(b: Uint8Array): void {
    const at = this.room(b.length); // before reading this.buf: room() may replace it
    this.buf.set(b, at);
  }
  /** A GGUF string: u64 byte length, UTF-8 bytes. */
  string(s: string): void {
    const b = ENCODER.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  zeros(n: number): void {
    this.room(n);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const ENCODER = new TextEncoder();
