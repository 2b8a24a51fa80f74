/**
 * Property-based tests of the GGUF reader (fast-check): random metadata and tensors round-trip through
 * the writer; random mutations of valid files (byte flips, lying u64 fields, truncation, splices) never
 * crash, hang or read outside the file: each either parses to a self-consistent file or rejects with an
 * Error that names the file.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BufferSource, type ByteSource } from "../../src/loading/byte-source.js";
import { ByteBuilder } from "../../src/loading/gguf/byte-builder.js";
import { encodeGguf, GgufFile, type GgufArray, type GgufMetadata, type GgufTensorData, type GgufValue } from "../../src/loading/gguf/index.js";

const key = fc.string({ minLength: 1, maxLength: 24, unit: "grapheme" });
const f32 = fc.float({ noNaN: true });

function arrayOf(depth: number): fc.Arbitrary<GgufArray> {
  const leaves: fc.Arbitrary<GgufArray>[] = [
    fc.uint8Array({ maxLength: 8 }).map((values) => ({ type: "uint8" as const, values })),
    fc.int16Array({ maxLength: 8 }).map((values) => ({ type: "int16" as const, values })),
    fc.int32Array({ maxLength: 8 }).map((values) => ({ type: "int32" as const, values })),
    fc.array(f32, { maxLength: 8 }).map((v) => ({ type: "float32" as const, values: Float32Array.from(v) })),
    fc.bigUint64Array({ maxLength: 4 }).map((values) => ({ type: "uint64" as const, values })),
    fc.array(fc.boolean(), { maxLength: 8 }).map((values) => ({ type: "bool" as const, values })),
    fc.array(fc.string({ maxLength: 12, unit: "grapheme" }), { maxLength: 8 }).map((values) => ({ type: "string" as const, values })),
  ];
  if (depth > 1) leaves.push(fc.array(arrayOf(depth - 1), { maxLength: 3 }).map((values) => ({ type: "array" as const, values })));
  return fc.oneof(...leaves);
}

const value: fc.Arbitrary<GgufValue> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((v) => ({ type: "uint8" as const, value: v })),
  fc.integer({ min: -128, max: 127 }).map((v) => ({ type: "int8" as const, value: v })),
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({ type: "uint32" as const, value: v })),
  fc.integer().map((v) => ({ type: "int32" as const, value: v })),
  f32.map((v) => ({ type: "float32" as const, value: Math.fround(v) })),
  fc.double({ noNaN: true }).map((v) => ({ type: "float64" as const, value: v })),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => ({ type: "uint64" as const, value: v })),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((v) => ({ type: "int64" as const, value: v })),
  fc.boolean().map((v) => ({ type: "bool" as const, value: v })),
  fc.string({ maxLength: 40, unit: "grapheme" }).map((v) => ({ type: "string" as const, value: v })),
  arrayOf(3).map((v) => ({ type: "array" as const, value: v })),
);

const FORMATS: [string, number, number][] = [
  ["float32", 1, 4],
  ["float16", 1, 2],
  ["bfloat16", 1, 2],
  ["q8_0", 32, 34],
  ["q4_0", 32, 18],
  ["q4_k", 256, 144],
  ["mxfp4", 32, 17],
];

const tensor = (i: number): fc.Arbitrary<GgufTensorData> =>
  fc.record({ f: fc.constantFrom(...FORMATS), rows: fc.integer({ min: 1, max: 3 }), blocks: fc.integer({ min: 1, max: 2 }), seed: fc.integer() }).map(({ f, rows, blocks, seed }) => {
    const [format, elems, bytes] = f;
    const data = new Uint8Array(rows * blocks * bytes);
    for (let j = 0; j < data.length; j++) data[j] = (seed + j * 31) & 0xff;
    return { name: `blk.${i}.w`, shape: [rows, blocks * elems], format, data };
  });

const file = fc
  .record({
    kv: fc.uniqueArray(fc.tuple(key, value), { maxLength: 8, selector: ([k]) => k }),
    nTensors: fc.integer({ min: 0, max: 4 }),
    alignment: fc.constantFrom(undefined, 1, 8, 64),
  })
  .chain(({ kv, nTensors, alignment }) =>
    fc.tuple(...Array.from({ length: nTensors }, (_, i) => tensor(i))).map((tensors) => {
      const metadata: GgufMetadata = new Map(kv);
      if (alignment !== undefined) metadata.set("general.alignment", { type: "uint32", value: alignment });
      return { metadata, tensors, bytes: encodeGguf(metadata, tensors) };
    }),
  );

/** A ByteSource that fails the test if anything reads outside the file. */
function guarded(bytes: Uint8Array): ByteSource & { readBytes: number } {
  const inner = new BufferSource("fuzz.gguf", bytes);
  const s = {
    name: inner.name,
    readBytes: 0,
    size: () => inner.size(),
    read: (o: number, n: number) => {
      assert.ok(Number.isSafeInteger(o) && Number.isSafeInteger(n) && o >= 0 && n >= 0 && o + n <= bytes.length, `read(${o}, ${n}) outside ${bytes.length} bytes`);
      s.readBytes += n;
      return inner.read(o, n);
    },
  };
  return s;
}

/** Opens mutated bytes: an Error naming the file, or a file whose every tensor lies inside it, aligned and apart. */
async function openOrReject(bytes: Uint8Array): Promise<GgufFile | null> {
  const source = guarded(bytes);
  let g: GgufFile;
  try {
    g = await GgufFile.open(source, { maxHeaderBytes: 1 << 20 });
  } catch (e) {
    assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
    assert.match(e.message, /^fuzz\.gguf: /);
    return null;
  }
  const spans = [...g.tensors.values()].sort((a, b) => a.begin - b.begin);
  for (const [i, t] of spans.entries()) {
    assert.ok(t.begin >= g.dataOffset && t.end <= bytes.length && (t.begin - g.dataOffset) % g.alignment === 0, t.name);
    assert.equal(t.end - t.begin, (t.dims.reduce((a, d) => a * d, 1) / t.type.blockElems) * t.type.blockBytes);
    if (i > 0 && t.end > t.begin) assert.ok(t.begin >= spans[i - 1]!.end, `${t.name} overlaps`);
    if (t.format !== null) assert.equal((await g.tensorBytes(t.name)).bytes.length, t.end - t.begin);
  }
  // String arrays are decoded at first use: a bad one must then be an Error naming the file and the field.
  for (const [k, v] of g.metadata) {
    try {
      touchStrings(v);
    } catch (e) {
      assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
      assert.ok(e.message.startsWith(`fuzz.gguf: metadata '${k}'`), e.message);
      assert.match(e.message, /\] at byte \d+ is not valid UTF-8$/);
      return null;
    }
  }
  // Whatever parsed re-encodes and reads back to the same metadata.
  const again = await GgufFile.open(new BufferSource("again.gguf", encodeGguf(g.metadata, [])));
  assert.deepEqual(again.metadata, g.metadata);
  return g;
}

/** Reads every string of a value (decoding lazy string arrays). */
function touchStrings(v: GgufValue | GgufArray): void {
  if ("value" in v) {
    if (v.type === "array") touchStrings(v.value);
    return;
  }
  if (v.type === "string") void v.values.length;
  else if (v.type === "array") for (const a of v.values) touchStrings(a);
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("u64" as const), at: fc.nat(), v: fc.constantFrom(0n, 1n, 31n, 255n, 1n << 32n, 1n << 53n, (1n << 64n) - 1n) }),
  fc.record({ kind: fc.constant("u32" as const), at: fc.nat(), v: fc.constantFrom(0, 1, 4, 9, 12, 13, 39, 99, 0xffffffff) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), insert: fc.uint8Array({ maxLength: 12 }), remove: fc.nat({ max: 12 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const b = bytes.slice();
  if (b.length === 0) return b;
  const at = m.at % b.length;
  const dv = new DataView(b.buffer);
  switch (m.kind) {
    case "flip":
      b[at]! ^= 1 << m.bit;
      return b;
    case "u64":
      if (at + 8 <= b.length) dv.setBigUint64(at, m.v, true);
      return b;
    case "u32":
      if (at + 4 <= b.length) dv.setUint32(at, m.v, true);
      return b;
    case "truncate":
      return b.subarray(0, at);
    case "splice": {
      const out = new Uint8Array(b.length - Math.min(m.remove, b.length - at) + m.insert.length);
      out.set(b.subarray(0, at), 0);
      out.set(m.insert, at);
      out.set(b.subarray(at + m.remove), at + m.insert.length);
      return out;
    }
  }
}

describe("GGUF reader under fast-check", () => {
  it("ByteBuilder writes every kind of value correctly when that write is the one that grows its buffer", () => {
    const kinds: [string, number, (b: ByteBuilder) => void, (dv: DataView) => void][] = [
      ["u8", 1, (b) => b.u8(0xab), (dv) => dv.setUint8(0, 0xab)],
      ["i8", 1, (b) => b.i8(-3), (dv) => dv.setInt8(0, -3)],
      ["u16", 2, (b) => b.u16(0xbeef), (dv) => dv.setUint16(0, 0xbeef, true)],
      ["i16", 2, (b) => b.i16(-2), (dv) => dv.setInt16(0, -2, true)],
      ["u32", 4, (b) => b.u32(0xdeadbeef), (dv) => dv.setUint32(0, 0xdeadbeef, true)],
      ["i32", 4, (b) => b.i32(-5), (dv) => dv.setInt32(0, -5, true)],
      ["f32", 4, (b) => b.f32(1.5), (dv) => dv.setFloat32(0, 1.5, true)],
      ["f64", 8, (b) => b.f64(-2.25), (dv) => dv.setFloat64(0, -2.25, true)],
      ["u64", 8, (b) => b.u64(0x0102030405060708n), (dv) => dv.setBigUint64(0, 0x0102030405060708n, true)],
      ["i64", 8, (b) => b.i64(-7n), (dv) => dv.setBigInt64(0, -7n, true)],
      ["bytes", 8, (b) => b.bytes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), (dv) => new Uint8Array(dv.buffer).set([1, 2, 3, 4, 5, 6, 7, 8])],
    ];
    for (const [kind, size, write, expect] of kinds) {
      for (let fill = (1 << 16) - size; fill <= 1 << 16; fill++) {
        const b = new ByteBuilder();
        b.bytes(new Uint8Array(fill).fill(0x11));
        write(b);
        const dv = new DataView(new ArrayBuffer(size));
        expect(dv);
        const got = b.result();
        assert.equal(got.length, fill + size);
        assert.deepEqual(got.subarray(fill), new Uint8Array(dv.buffer), `${kind} after ${fill} bytes`);
        assert.equal(got[fill - 1], 0x11);
      }
    }
  });

  it("round-trips random metadata (every type, nested arrays) and tensors", async () => {
    await fc.assert(
      fc.asyncProperty(file, async ({ metadata, tensors, bytes }) => {
        const g = await GgufFile.open(new BufferSource("rt.gguf", bytes));
        assert.deepEqual(g.metadata, metadata);
        for (const t of tensors) assert.deepEqual((await g.tensorBytes(t.name)).bytes, t.data);
      }),
      { numRuns: 150 },
    );
  });

  it("never crashes, hangs or reads outside the file on mutated files", async () => {
    await fc.assert(
      fc.asyncProperty(file, fc.array(mutation, { minLength: 1, maxLength: 4 }), async ({ bytes }, ms) => {
        const bad = ms.reduce(mutate, bytes);
        const first = await openOrReject(bad);
        const second = await openOrReject(bad);
        assert.equal(first === null, second === null, "the same bytes parse the same way twice");
      }),
      { numRuns: 400 },
    );
  });
});
