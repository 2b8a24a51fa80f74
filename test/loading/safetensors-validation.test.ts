import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BufferSource, type ByteSource } from "../../src/loading/byte-source.js";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { fixtureDir } from "../helpers/fixtures.js";
import { bytesOf, fileFromHeader, validFile, type RawEntry } from "../helpers/safetensors-bytes.js";

const open = (bytes: Uint8Array, limits = {}) => SafetensorsFile.open(new BufferSource("t.safetensors", bytes), limits);

const A: RawEntry = { name: "a", dtype: "F32", shape: [2], bytes: bytesOf(new Float32Array([1, 2])) };
const B: RawEntry = { name: "b", dtype: "F32", shape: [3], bytes: bytesOf(new Float32Array([3, 4, 5])) };

/** A file whose header is padded with 8 spaces, so a header length up to 8 short still parses as JSON. */
function paddedFile(): Uint8Array {
  return validFile([A, B], { extraPad: 8 });
}

function withLengthField(bytes: Uint8Array, delta: number): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, dv.getBigUint64(0, true) + BigInt(delta), true);
  return out;
}

describe("safetensors: offsets tile the data section", () => {
  it("reads a valid padded file", async () => {
    const st = await open(paddedFile());
    assert.deepEqual(Array.from(await (await st.tensor("b")).data()), [3, 4, 5]);
  });

  for (let short = 1; short <= 8; short++) {
    it(`refuses a header length ${short} bytes short (it still parses as JSON)`, async () => {
      await assert.rejects(open(withLengthField(paddedFile(), -short)), new RegExp(`the tensors end ${short} bytes before the end of the file`));
    });
  }

  for (let long = 1; long <= 8; long++) {
    it(`refuses a header length ${long} bytes long`, async () => {
      await assert.rejects(open(withLengthField(paddedFile(), long)), /not valid (UTF-8|JSON)|past the end of the data section/);
    });
  }

  it("refuses trailing bytes after the last tensor", async () => {
    const f = paddedFile();
    const out = new Uint8Array(f.length + 3);
    out.set(f);
    await assert.rejects(open(out), /end 3 bytes before the end of the file/);
  });

  it("refuses a hole between tensors and one at the start, naming the neighbours", async () => {
    const data = new Uint8Array(24);
    await assert.rejects(
      open(fileFromHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [3], data_offsets: [12, 24] } }, data)),
      /4 bytes after tensor 'a' belong to no tensor \(a hole before 'b'\)/,
    );
    await assert.rejects(open(fileFromHeader({ b: { dtype: "F32", shape: [3], data_offsets: [12, 24] } }, data)), /12 bytes at the start of the data section belong to no tensor/);
  });

  it("refuses a zero-size tensor placed inside another", async () => {
    const header = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, z: { dtype: "F32", shape: [0], data_offsets: [4, 4] } };
    await assert.rejects(open(fileFromHeader(header, new Uint8Array(8))), /'a' and 'z' overlap/);
  });

  it("accepts tensors stored in another order than the header's, and zero-size tensors at the end", async () => {
    const Z: RawEntry = { name: "z", dtype: "BF16", shape: [0, 5], bytes: new Uint8Array(0) };
    const st = await open(validFile([A, B, Z], { order: [1, 2, 0] }));
    assert.deepEqual(Array.from(await (await st.tensor("a")).data()), [1, 2]);
    assert.deepEqual(Array.from(await (await st.tensor("b")).data()), [3, 4, 5]);
    assert.deepEqual([...(await st.tensor("z")).shape], [0, 5]);
  });

  it("the olmoe fixture with its header length 4 short is refused by Checkpoint.open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-short-"));
    copyFileSync(join(fixtureDir("olmoe"), "config.json"), join(dir, "config.json"));
    writeFileSync(join(dir, "model.safetensors"), withLengthField(readFileSync(join(fixtureDir("olmoe"), "model.safetensors")), -4));
    await assert.rejects(Checkpoint.open(dir), /the tensors end 4 bytes before the end of the file/);
  });
});

describe("safetensors: the header is bounded before it is parsed", () => {
  /** A source of `size` bytes whose header length field says `len`; records every read. */
  function lyingSource(size: number, len: bigint): ByteSource & { reads: [number, number][] } {
    const reads: [number, number][] = [];
    return {
      name: "huge.safetensors",
      reads,
      size: async () => size,
      read: async (offset, length) => {
        reads.push([offset, length]);
        const out = new Uint8Array(length);
        if (offset === 0) new DataView(out.buffer).setBigUint64(0, len, true);
        return out;
      },
    };
  }

  it("refuses a header length over the limit after reading only the 8-byte length", async () => {
    const src = lyingSource(2 ** 40, 200_000_000n);
    await assert.rejects(SafetensorsFile.open(src), /header length 200000000 exceeds the limit of 100000000 bytes/);
    assert.deepEqual(src.reads, [[0, 8]]);
    const max = lyingSource(2 ** 40, 2n ** 64n - 1n);
    await assert.rejects(SafetensorsFile.open(max), /header length 18446744073709551615 exceeds the limit/);
  });

  it("refuses more entries than the limit before parsing, and counts __metadata__ apart", async () => {
    const z = (name: string): RawEntry => ({ name, dtype: "F32", shape: [0], bytes: new Uint8Array(0) });
    const three = validFile([z("x"), z("y"), z("w")], { metadata: { format: "pt" } });
    await assert.rejects(open(three, { maxEntries: 2 }), /describes more than 2 tensors/);
    assert.equal((await open(three, { maxEntries: 3 })).keys().length, 3);
  });

  it("refuses 1.6 M zero-size entries (the issue's 95 MB header) quickly with the default limit", async () => {
    const entry = new TextEncoder().encode(`"t0000000":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},`);
    const n = 1_600_000;
    const header = new Uint8Array(2 + n * entry.length);
    header[0] = 0x7b;
    header.set(entry, 1);
    const body = n * entry.length;
    for (let filled = entry.length; filled < body; filled *= 2) header.copyWithin(1 + filled, 1, 1 + Math.min(filled, body - filled));
    const hex = new TextEncoder().encode("0123456789abcdef");
    for (let i = 0; i < n; i++) for (let d = 0, v = i; d < 7; d++, v >>= 4) header[1 + i * entry.length + 8 - d] = hex[v & 15]!;
    header[header.length - 2] = 0x20;
    header[header.length - 1] = 0x7d;
    const bytes = fileFromHeader(header, new Uint8Array(0));
    assert.ok(bytes.length > 80e6 && bytes.length < 100e6, String(bytes.length));
    await assert.rejects(open(bytes), /describes more than 131072 tensors/);
  });

  it("refuses nesting deeper than a header allows (JSON.parse of deep arrays takes minutes)", async () => {
    await assert.rejects(open(fileFromHeader(`{"a":{"shape":[[1]]}}`, new Uint8Array(0))), /nests deeper than a safetensors header can/);
    await assert.rejects(open(fileFromHeader("[".repeat(1000) + "]".repeat(1000), new Uint8Array(0))), /does not start with '\{'/);
    await assert.rejects(open(fileFromHeader("{" + `"a":`.repeat(1) + "[".repeat(100000), new Uint8Array(0))), /nests deeper/);
  });

  it("braces inside strings do not count as entries or depth", async () => {
    const st = await open(validFile([{ ...A, name: "a{[{[{[" }], { metadata: { note: '{"x":{"y":[[[]]]}} \\"{' } }), { maxEntries: 1 });
    assert.deepEqual(st.keys(), ["a{[{[{["]);
    assert.equal(st.metadata.note, '{"x":{"y":[[[]]]}} \\"{');
  });

  it("refuses a header that is not UTF-8", async () => {
    const f = fileFromHeader(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"__metadata__":{"k":"xx"}}`, new Uint8Array(0));
    const at = f.lastIndexOf(0x78);
    f[at] = 0xff;
    await assert.rejects(open(f), /header is not valid UTF-8/);
  });

  it("__metadata__ must be an object of strings (null means none)", async () => {
    const data = new Uint8Array(0);
    await assert.rejects(open(fileFromHeader({ __metadata__: ["x"] }, data)), /__metadata__ must be an object of strings/);
    await assert.rejects(open(fileFromHeader({ __metadata__: { format: 1 } }, data)), /__metadata__ value 'format' must be a string, got 1/);
    await assert.rejects(open(fileFromHeader({ __metadata__: "pt" }, data)), /__metadata__ must be an object/);
    assert.deepEqual((await open(fileFromHeader({ __metadata__: null }, data))).metadata, {});
  });

  it("shapes whose byte size overflows are refused, and long names are shortened in messages", async () => {
    await assert.rejects(open(fileFromHeader({ a: { dtype: "F32", shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 0] } }, new Uint8Array(0))), /more than 2\^53 elements/);
    await assert.rejects(open(fileFromHeader({ a: { dtype: "F64", shape: [2 ** 51], data_offsets: [0, 0] } }, new Uint8Array(0))), /needs more than 2\^53 bytes/);
    const name = "n".repeat(100000);
    const err = await open(fileFromHeader({ [name]: { dtype: "F32", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))).catch((e: Error) => e);
    assert.ok(err instanceof Error && /spans 8 bytes but F32 \[1\] needs 4/.test(err.message) && err.message.length < 400, String(err));
  });
});

describe("safetensors: a read states what it expects", () => {
  const entries: RawEntry[] = [
    { name: "w", dtype: "BF16", shape: [2], bytes: new Uint8Array(4) },
    { name: "i32", dtype: "I32", shape: [2], bytes: bytesOf(new Int32Array([5, -6])) },
    { name: "i64", dtype: "I64", shape: [1], bytes: bytesOf(new BigInt64Array([2n ** 40n])) },
    { name: "blocks", dtype: "U8", shape: [2, 16], bytes: Uint8Array.from({ length: 32 }, (_, i) => i) },
    { name: "scales", dtype: "F8_E8M0", shape: [2], bytes: Uint8Array.from([127, 128]) },
    { name: "fp8", dtype: "F8_E4M3", shape: [3], bytes: Uint8Array.from([1, 2, 3]) },
    { name: "mask", dtype: "BOOL", shape: [2], bytes: Uint8Array.from([0, 1]) },
    { name: "d", dtype: "F64", shape: [1], bytes: bytesOf(new Float64Array([0.25])) },
  ];
  const bytes = validFile(entries);

  it("float is the default: integer, boolean and byte tensors are refused by name", async () => {
    const st = await open(bytes);
    for (const [name, dtype] of [["i32", "I32"], ["i64", "I64"], ["blocks", "U8"], ["mask", "BOOL"], ["fp8", "F8_E4M3"]]) {
      await assert.rejects(st.tensor(name!), new RegExp(`tensor '${name}' has dtype ${dtype}, but a float tensor \\(F32 or BF16 or F16 or F64\\) is expected here`));
    }
    assert.equal((await st.tensor("w")).dtype, "bfloat16");
    assert.deepEqual(Array.from(await (await st.tensor("d")).data()), [0.25]);
  });

  it("int reads I32 and I64 (range-checked) and refuses floats", async () => {
    const st = await open(bytes);
    assert.deepEqual(Array.from(await (await st.tensor("i32", { expect: "int" })).data()), [5, -6]);
    await assert.rejects(st.tensor("i64", { expect: "int" }), /'i64' holds 1099511627776, outside int32/);
    await assert.rejects(st.tensor("w", { expect: "int" }), /'w' has dtype BF16, but an integer tensor \(I32 or I64\) is expected/);
  });

  it("raw kinds return the stored bytes only for their dtypes", async () => {
    const st = await open(bytes);
    const b = await st.bytes("blocks", { expect: "u8-blocks" });
    assert.deepEqual([b.stored, b.shape, b.bytes[31]], ["U8", [2, 16], 31]);
    assert.deepEqual(Array.from((await st.bytes("scales", { expect: "e8m0-scales" })).bytes), [127, 128]);
    assert.equal((await st.bytes("blocks", { expect: "e8m0-scales" })).bytes.length, 32);
    assert.deepEqual(Array.from((await st.bytes("fp8", { expect: "fp8" })).bytes), [1, 2, 3]);
    await assert.rejects(st.bytes("blocks", { expect: "fp8" }), /'blocks' has dtype U8, but an fp8 \(e4m3\) tensor \(F8_E4M3\) is expected/);
    await assert.rejects(st.bytes("w", { expect: "u8-blocks" }), /'w' has dtype BF16, but U8 quantized blocks \(U8\) is expected/);
    await assert.rejects(st.bytes("w", { expect: "nope" as never }), /unknown expectation "nope"/);
  });

  it("Checkpoint.tensor expects a float weight too, for any tensor provider", async () => {
    const ck = await Checkpoint.fromSources("c", {}, [new BufferSource("x.safetensors", bytes)]);
    await assert.rejects(ck.tensor("i32"), /checkpoint 'c': tensor 'i32' has dtype I32, but a float tensor/);
    assert.deepEqual(Array.from(await (await ck.tensor("i32", { expect: "int" })).data()), [5, -6]);
    assert.equal((await ck.bytes("fp8", { expect: "fp8" })).bytes.length, 3);
    assert.ok(!ck.unusedKeys().includes("fp8") && ck.unusedKeys().includes("blocks"));
    const lying = new Checkpoint("l", {}, new Map([["k", { info: () => ({ name: "k", stored: "F32", shape: [1], begin: 0, end: 4 }), tensor: async () => (await ck.tensor("i32", { expect: "int" })) }]]));
    await assert.rejects(lying.tensor("k"), /reading 'k' as float produced a int32 tensor/);
  });

  it("a ByteSource that returns the wrong number of bytes is an error; a misaligned view is copied", async () => {
    const good = new BufferSource("g", bytes);
    const short: ByteSource = { name: "short", size: () => good.size(), read: async (o, n) => (await good.read(o, n)).subarray(0, Math.max(0, n - 1)) };
    await assert.rejects(SafetensorsFile.open(short), /short: read of 8 bytes at 0 returned 7 bytes/);
    const misaligned: ByteSource = {
      name: "misaligned",
      size: () => good.size(),
      read: async (o, n) => {
        const buf = new Uint8Array(n + 1);
        buf.set(await good.read(o, n), 1);
        return buf.subarray(1);
      },
    };
    assert.deepEqual(Array.from(await (await (await SafetensorsFile.open(misaligned)).tensor("d")).data()), [0.25]);
  });
});

describe("checkpoint: cheap checks before reading", () => {
  it("missing(keys) names absent keys without reading anything", async () => {
    const ck = await Checkpoint.open(fixtureDir("olmoe"));
    assert.deepEqual(ck.missing(["model.norm.weight", "model.layers.999.x", "lm_head.weight", "y"]), ["model.layers.999.x", "y"]);
    assert.equal(ck.unusedKeys().length, ck.keys().length);
  });

  it("fromSources refuses the same tensor in two sources and a config that is not an object", async () => {
    const f = validFile([A]);
    await assert.rejects(Checkpoint.fromSources("c", {}, [new BufferSource("one", f), new BufferSource("two", f)]), /tensor 'a' is in both one and two/);
    await assert.rejects(Checkpoint.fromSources("c", null as never, [new BufferSource("one", f)]), /config must be a JSON object/);
  });

  it("config.json, generation_config.json and the index must be JSON objects; shards stay inside the directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-json-"));
    writeFileSync(join(dir, "model.safetensors"), validFile([A]));
    writeFileSync(join(dir, "config.json"), "null");
    await assert.rejects(Checkpoint.open(dir), /config.json: must hold a JSON object/);
    writeFileSync(join(dir, "config.json"), "{}");
    writeFileSync(join(dir, "generation_config.json"), "[1]");
    await assert.rejects(Checkpoint.open(dir), /generation_config.json: must hold a JSON object/);
    writeFileSync(join(dir, "generation_config.json"), "{}");
    for (const [map, msg] of [
      [[1], /no weight_map object/],
      [{ a: 3 }, /'a' maps to 3, not a file name/],
      [{ a: "../model.safetensors" }, /shard '..\/model.safetensors' of 'a' is not a file inside the checkpoint directory/],
      [{ a: "/etc/passwd" }, /is not a file inside the checkpoint directory/],
    ] as const) {
      writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: map }));
      await assert.rejects(Checkpoint.open(dir), msg);
    }
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { a: "model.safetensors" } }));
    assert.deepEqual((await Checkpoint.open(dir)).keys(), ["a"]);
  });

  it("JSON files are bounded in size and depth before JSON.parse (deep nesting takes V8 seconds per million levels)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-json-"));
    writeFileSync(join(dir, "model.safetensors"), validFile([A]));
    writeFileSync(join(dir, "config.json"), `{"a":${"[".repeat(2_000_000)}${"]".repeat(2_000_000)}}`);
    await assert.rejects(Checkpoint.open(dir), /config.json: JSON nests deeper than 64 levels \(byte 68\)/);
    writeFileSync(join(dir, "config.json"), `{"blob":"${"x".repeat(17 * 2 ** 20)}"}`);
    await assert.rejects(Checkpoint.open(dir), /config.json is 17825803 bytes, more than the 16777216 bytes allowed for it/);
    writeFileSync(join(dir, "config.json"), Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]));
    await assert.rejects(Checkpoint.open(dir), /config.json: not valid UTF-8/);
    rmSync(join(dir, "config.json"));
    mkdirSync(join(dir, "config.json"));
    await assert.rejects(Checkpoint.open(dir), /config.json is not a regular file/);
  });
});
