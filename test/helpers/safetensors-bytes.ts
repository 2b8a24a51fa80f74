/** Build safetensors files byte by byte for tests and the fuzz corpus (valid ones, or with any header). */

export interface RawEntry {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A file from a header value (any JSON, or a string or bytes taken verbatim) and a data section. */
export function fileFromHeader(header: unknown, data: Uint8Array, opts: { lengthField?: bigint; pad?: number } = {}): Uint8Array {
  const h =
    header instanceof Uint8Array ? header : new TextEncoder().encode((typeof header === "string" ? header : JSON.stringify(header)) + " ".repeat(opts.pad ?? 0));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.lengthField ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/**
 * A valid file: entries laid out in order (or in `order`, a permutation of entry indices, for the
 * data section), header padded with spaces to a multiple of 8 as the reference writer does.
 */
export function validFile(entries: RawEntry[], opts: { metadata?: Record<string, string>; order?: number[]; extraPad?: number } = {}): Uint8Array {
  const order = opts.order ?? entries.map((_, i) => i);
  // No prototype, so a tensor named "__proto__" is an own key like any other.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (opts.metadata) header.__metadata__ = opts.metadata;
  const offsets = new Map<number, [number, number]>();
  let at = 0;
  for (const i of order) {
    offsets.set(i, [at, at + entries[i]!.bytes.length]);
    at += entries[i]!.bytes.length;
  }
  entries.forEach((e, i) => (header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: offsets.get(i) }));
  const data = new Uint8Array(at);
  for (const i of order) data.set(entries[i]!.bytes, offsets.get(i)![0]);
  const jsonBytes = new TextEncoder().encode(JSON.stringify(header)).length;
  const pad = ((8 - (jsonBytes % 8)) % 8) + (opts.extraPad ?? 0);
  return fileFromHeader(header, data, { pad });
}

/** Little-endian bytes of a typed array. */
export function bytesOf(a: Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
