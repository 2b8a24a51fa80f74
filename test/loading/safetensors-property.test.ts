// Property-based tests of the safetensors reader (fast-check): valid random files round-trip exactly;
// damaged files, random headers and random bytes give a clean Error or a read of exactly the bytes
// their header points at, never another exception.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BufferSource } from "../../src/loading/byte-source.js";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { STORED_DTYPES } from "../../src/loading/safetensors-dtypes.js";
import { expectationFor, expectedBytes, fingerprint, fingerprintsFromBytes, readAll } from "../fuzz/read-all.js";
import { fileFromHeader, validFile, type RawEntry } from "../helpers/safetensors-bytes.js";

const open = (bytes: Uint8Array) => SafetensorsFile.open(new BufferSource("p.safetensors", bytes));

/** Resolves to the fingerprints, or to the Error; any other exception fails the property. */
async function readOrError(bytes: Uint8Array): Promise<Record<string, string> | Error> {
  try {
    return await readAll(await open(bytes));
  } catch (e) {
    if (!(e instanceof Error) || e.constructor !== Error) throw new Error(`not a clean error: ${String(e)} (${(e as object)?.constructor?.name})`);
    return e;
  }
}

/** A read that succeeded must agree with an independent parse of the same bytes. */
function agreesWithBytes(bytes: Uint8Array, got: Record<string, string>): void {
  const want = fingerprintsFromBytes(bytes);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
  for (const [k, v] of Object.entries(want)) if (v !== "out-of-range") assert.equal(got[k], v, k);
}

const dtypes = Object.keys(STORED_DTYPES);
const name = fc.string({ unit: "binary", maxLength: 12 }).filter((s) => s !== "__metadata__");
const entries = fc
  .uniqueArray(fc.record({ name, dtype: fc.constantFrom(...dtypes), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) }), { selector: (e) => e.name, maxLength: 8 })
  .chain((specs) =>
    fc.tuple(
      ...specs.map((s) => {
        const bytes = s.shape.reduce((a, d) => a * d, 1) * STORED_DTYPES[s.dtype]!;
        return fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b): RawEntry => ({ ...s, bytes: b }));
      }),
    ),
  );
const validFiles = entries.chain((es) =>
  fc.record({
    entries: fc.constant(es),
    order: fc.shuffledSubarray(es.map((_, i) => i), { minLength: es.length, maxLength: es.length }),
    metadata: fc.option(fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), fc.string({ unit: "binary", maxLength: 16 }), { maxKeys: 3 }), { nil: undefined }),
  }),
);

describe("safetensors reader properties", () => {
  it("valid random files round-trip: names, shapes, dtypes, metadata and values", async () => {
    await fc.assert(
      fc.asyncProperty(validFiles, async ({ entries: es, order, metadata }) => {
        const st = await open(validFile(es, { order, metadata }));
        assert.deepEqual(st.keys().sort(), es.map((e) => e.name).sort());
        assert.deepEqual({ ...st.metadata }, { ...metadata });
        for (const e of es) {
          assert.deepEqual([st.info(e.name).stored, st.info(e.name).shape], [e.dtype, e.shape]);
          const expect = expectationFor(e.dtype);
          if (expect === null) {
            await assert.rejects(st.tensor(e.name), /is expected here/);
            continue;
          }
          const want = expectedBytes(e.dtype, e.bytes);
          const read = async () => {
            if (expect !== "float" && expect !== "int") return (await st.bytes(e.name, { expect })).bytes;
            const s = (await st.tensor(e.name, { expect })).hostStorage();
            return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
          };
          if (want === null) await assert.rejects(read(), /outside int32/);
          else assert.equal(fingerprint(await read()), fingerprint(want));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("damaged valid files: a clean error or exactly the bytes the header points at", async () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
      fc.record({ kind: fc.constant("length" as const), delta: fc.integer({ min: -9, max: 9 }) }),
    );
    await fc.assert(
      fc.asyncProperty(validFiles, fc.array(damage, { minLength: 1, maxLength: 3 }), async ({ entries: es, order, metadata }, edits) => {
        let f = validFile(es, { order, metadata });
        for (const d of edits) {
          if (d.kind === "flip") {
            f = f.slice();
            f[d.at % f.length]! ^= 1 << d.bit;
          } else if (d.kind === "cut") f = f.slice(0, d.at % (f.length + 1));
          else if (d.kind === "insert") {
            const at = d.at % (f.length + 1);
            f = Uint8Array.from([...f.subarray(0, at), ...d.bytes, ...f.subarray(at)]);
          } else if (f.length >= 8) {
            f = f.slice();
            const dv = new DataView(f.buffer);
            dv.setBigUint64(0, BigInt.asUintN(64, dv.getBigUint64(0, true) + BigInt(d.delta)), true);
          }
        }
        const got = await readOrError(f);
        if (!(got instanceof Error)) agreesWithBytes(f, got);
      }),
      { numRuns: 400 },
    );
  });

  it("random headers and random bytes: a clean error or a consistent read", async () => {
    const entryLike = fc.record(
      { dtype: fc.oneof(fc.constantFrom(...dtypes), fc.jsonValue()), shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 3 }), fc.jsonValue()), data_offsets: fc.oneof(fc.tuple(fc.integer({ min: -4, max: 64 }), fc.integer({ min: -4, max: 64 })), fc.jsonValue()) },
      { requiredKeys: [] },
    );
    const header = fc.oneof(fc.dictionary(fc.oneof(name, fc.constant("__metadata__")), fc.oneof(entryLike, fc.jsonValue()), { maxKeys: 5 }), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(header, fc.uint8Array({ maxLength: 96 }), fc.integer({ min: -3, max: 3 }), async (h, data, delta) => {
        const plain = fileFromHeader(h, data);
        const f = delta === 0 || plain.length < 8 ? plain : fileFromHeader(h, data, { lengthField: BigInt(Math.max(0, plain.length - 8 - data.length + delta)) });
        const got = await readOrError(f);
        if (!(got instanceof Error)) agreesWithBytes(f, got);
      }),
      { numRuns: 500 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), async (bytes) => {
        const got = await readOrError(bytes);
        if (!(got instanceof Error)) agreesWithBytes(bytes, got);
      }),
      { numRuns: 500 },
    );
  });
});
