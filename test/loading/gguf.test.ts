import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferSource, type ByteSource } from "../../src/loading/byte-source.js";
import { encodeGguf, GgufFile, ggufLayout, type GgufMetadata, type GgufTensorData, type GgufValue } from "../../src/loading/gguf/index.js";
import { rawGguf } from "../helpers/gguf-raw.js";

const open = (bytes: Uint8Array, maxHeaderBytes?: number) => GgufFile.open(new BufferSource("t.gguf", bytes), { maxHeaderBytes });

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("needle not found");
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a >>> 24;
  }
  return out;
}

function everyTypeMetadata(): GgufMetadata {
  return new Map<string, GgufValue>([
    ["general.architecture", { type: "string", value: "qwen2moe" }],
    ["general.name", { type: "string", value: "Ünïcødé 名前 🙂" }],
    ["t.u8", { type: "uint8", value: 255 }],
    ["t.i8", { type: "int8", value: -128 }],
    ["t.u16", { type: "uint16", value: 65535 }],
    ["t.i16", { type: "int16", value: -32768 }],
    ["t.u32", { type: "uint32", value: 4294967295 }],
    ["t.i32", { type: "int32", value: -2147483648 }],
    ["t.f32", { type: "float32", value: -1.5 }],
    ["t.f64", { type: "float64", value: Math.PI }],
    ["t.u64", { type: "uint64", value: (1n << 64n) - 1n }],
    ["t.i64", { type: "int64", value: -(1n << 63n) }],
    ["t.bool", { type: "bool", value: true }],
    ["t.empty", { type: "string", value: "" }],
    ["t.arr.u8", { type: "array", value: { type: "uint8", values: Uint8Array.of(0, 1, 255) } }],
    ["t.arr.i8", { type: "array", value: { type: "int8", values: Int8Array.of(-128, 0, 127) } }],
    ["t.arr.u16", { type: "array", value: { type: "uint16", values: Uint16Array.of(1, 65535) } }],
    ["t.arr.i16", { type: "array", value: { type: "int16", values: Int16Array.of(-32768, 7) } }],
    ["t.arr.u32", { type: "array", value: { type: "uint32", values: Uint32Array.of(3, 4294967295) } }],
    ["t.arr.i32", { type: "array", value: { type: "int32", values: Int32Array.of(-1, 2147483647) } }],
    ["t.arr.f32", { type: "array", value: { type: "float32", values: Float32Array.of(0.5, -Infinity, 1e-45) } }],
    ["t.arr.f64", { type: "array", value: { type: "float64", values: Float64Array.of(1e300, -0) } }],
    ["t.arr.u64", { type: "array", value: { type: "uint64", values: BigUint64Array.of(0n, (1n << 64n) - 1n) } }],
    ["t.arr.i64", { type: "array", value: { type: "int64", values: BigInt64Array.of(-5n, 1n << 62n) } }],
    ["t.arr.bool", { type: "array", value: { type: "bool", values: [true, false, true] } }],
    ["t.arr.str", { type: "array", value: { type: "string", values: ["a", "", "Ġhello", "<|im_end|>", "中文"] } }],
    ["t.arr.empty", { type: "array", value: { type: "float32", values: new Float32Array(0) } }],
    [
      "t.arr.nested",
      {
        type: "array",
        value: {
          type: "array",
          values: [
            { type: "int32", values: Int32Array.of(1, 2, 3) },
            { type: "array", values: [{ type: "string", values: ["deep"] }] },
            { type: "string", values: [] },
          ],
        },
      },
    ],
  ]);
}

/** One tensor of every moekit format GGUF carries, random bytes of the right size. */
function everyFormatTensors(): GgufTensorData[] {
  const specs: [string, number[], string, number][] = [
    ["f32", [3, 5], "float32", 3 * 5 * 4],
    ["f16", [7], "float16", 14],
    ["bf16", [2, 3, 4], "bfloat16", 48],
    ["q8_0", [2, 64], "q8_0", 2 * 2 * 34],
    ["q4_0", [3, 32], "q4_0", 3 * 18],
    ["q5_0", [1, 96], "q5_0", 3 * 22],
    ["q4_k", [2, 256], "q4_k", 2 * 144],
    ["q6_k", [1, 512], "q6_k", 2 * 210],
    ["mxfp4", [4, 2, 32], "mxfp4", 8 * 17],
    ["i32", [5], "int32", 20],
  ];
  return specs.map(([name, shape, format, bytes], i) => ({ name: `blk.0.${name}.weight`, shape, format, data: randomBytes(bytes, i + 1) }));
}

describe("GGUF writer and reader", () => {
  it("round-trips metadata of every type, nested arrays included, and tensors of every format", async () => {
    const metadata = everyTypeMetadata();
    const tensors = everyFormatTensors();
    const bytes = encodeGguf(metadata, tensors);
    const g = await open(bytes);
    assert.equal(g.version, 3);
    assert.equal(g.alignment, 32);
    assert.deepEqual([...g.metadata.keys()], [...metadata.keys()]);
    for (const [k, v] of metadata) assert.deepEqual(g.metadata.get(k), v, k);
    assert.equal(g.dataOffset % 32, 0);
    for (const t of tensors) {
      const got = await g.tensorBytes(t.name);
      assert.equal(got.format, t.format);
      assert.deepEqual(got.info.shape, t.shape);
      assert.deepEqual(got.info.dims, [...t.shape].reverse());
      assert.equal(got.info.relativeOffset % 32, 0);
      assert.deepEqual(got.bytes, t.data, t.name);
    }
    assert.equal(g.string("general.architecture"), "qwen2moe");
    assert.equal(g.integer("t.u32"), 4294967295);
    assert.equal(g.integer("t.i8"), -128);
    assert.equal(g.float("t.f32"), -1.5);
    assert.equal(g.bool("t.bool"), true);
    assert.equal(g.integer("missing.key"), undefined);
  });

  it("round-trips a header far bigger than the writer's first buffer (a 150k-token vocabulary)", async () => {
    const tokens = Array.from({ length: 150_000 }, (_, i) => `tok${i}·${String.fromCodePoint(0x4e00 + (i % 2000))}`);
    const metadata: GgufMetadata = new Map<string, GgufValue>([
      ["tokenizer.ggml.tokens", { type: "array", value: { type: "string", values: tokens } }],
      ["tokenizer.ggml.token_type", { type: "array", value: { type: "int32", values: Int32Array.from(tokens, (_, i) => i % 7) } }],
      ["after", { type: "uint64", value: 12345678901234n }],
    ]);
    const g = await open(encodeGguf(metadata, everyFormatTensors()));
    assert.deepEqual(g.metadata, metadata);
    for (const t of everyFormatTensors()) assert.deepEqual((await g.tensorBytes(t.name)).bytes, t.data);
  });

  it("honours general.alignment: every tensor offset and the data section are multiples of it", async () => {
    const metadata: GgufMetadata = new Map([["general.alignment", { type: "uint32", value: 256 }]]);
    const tensors = everyFormatTensors();
    const layout = ggufLayout(metadata, tensors);
    assert.equal(layout.header.length % 256, 0);
    const bytes = encodeGguf(metadata, tensors);
    assert.equal(bytes.length, layout.totalBytes);
    const g = await open(bytes);
    assert.equal(g.alignment, 256);
    for (const t of g.tensors.values()) assert.equal((t.begin - g.dataOffset) % 256, 0);
    for (const t of tensors) assert.deepEqual((await g.tensorBytes(t.name)).bytes, t.data);
  });

  it("reads only header ranges when opening, never the tensor data", async () => {
    const big: GgufTensorData = { name: "big", shape: [1024, 1024], format: "float32", data: new Uint8Array(4 << 20) };
    const bytes = encodeGguf(everyTypeMetadata(), [big]);
    let read = 0;
    const inner = new BufferSource("counted.gguf", bytes);
    const counted: ByteSource = { name: inner.name, size: () => inner.size(), read: (o, n) => ((read += n), inner.read(o, n)) };
    const g = await GgufFile.open(counted);
    assert.ok(read < 2 << 20, `read ${read} bytes to open a ${bytes.length}-byte file`);
    assert.equal(g.info("big").end - g.info("big").begin, 4 << 20);
  });

  it("refuses to write what GGUF cannot hold, naming the tensor or key", () => {
    const t = (over: Partial<GgufTensorData>): GgufTensorData => ({ name: "w", shape: [2, 32], format: "q8_0", data: new Uint8Array(68), ...over });
    assert.throws(() => encodeGguf(new Map(), [t({ shape: [2, 31], data: new Uint8Array(62) })]), /'w'.*31 values.*q8_0 block size 32/);
    assert.throws(() => encodeGguf(new Map(), [t({ data: new Uint8Array(67) })]), /'w': 67 bytes of data.*need 68/);
    assert.throws(() => encodeGguf(new Map(), [t({}), t({})]), /'w' appears twice/);
    assert.throws(() => encodeGguf(new Map(), [t({ format: "q3_k" })]), /no tensor type for moekit format 'q3_k'/);
    assert.throws(() => encodeGguf(new Map(), [t({ name: "x".repeat(64) })]), /64 bytes or longer/);
    assert.throws(() => encodeGguf(new Map([["k", { type: "uint8", value: 256 }]]), []), /'k': 256 is not a uint8/);
    assert.throws(() => encodeGguf(new Map([["k", { type: "int32", value: 1.5 }]]), []), /'k': 1.5 is not a int32/);
    assert.throws(() => encodeGguf(new Map([["general.alignment", { type: "uint32", value: 48 }]]), []), /power of 2/);
    assert.throws(() => encodeGguf(new Map([["s", { type: "string", value: "a\uD800b" }]]), []), /'s': the string holds a lone UTF-16 surrogate/);
  });
});

describe("GGUF reader on bad files", () => {
  const f32 = (name: string, offset: number | bigint, dims: (number | bigint)[] = [4]) => ({ name, dims, type: 0, offset });

  const cases: [string, () => Uint8Array, RegExp][] = [
    ["a file too short for the magic", () => Uint8Array.of(0x47, 0x47), /not a GGUF file \(only 2 bytes\)/],
    ["the wrong magic", () => rawGguf({ magic: 0x12345678 }), /not a GGUF file \(magic 0x12345678/],
    ["version 1", () => rawGguf({ version: 1 }), /version 1 is not supported/],
    ["version 4", () => rawGguf({ version: 4 }), /unsupported GGUF version 4/],
    ["a big-endian file", () => rawGguf({ version: 3 << 24 }), /big-endian/],
    ["a truncated header", () => rawGguf({ kv: [["general.name", { type: "string", value: "abcdef" }]] }).subarray(0, 40), /runs past the end of the file/],
    ["a tensor count larger than the file could hold", () => rawGguf({ tensorCount: 1n << 40n }), /tensor_count is 1099511627776, more than/],
    ["a key/value count larger than the file could hold", () => rawGguf({ kvCount: (1n << 64n) - 1n }), /metadata_kv_count is 18446744073709551615/],
    [
      "a string length past the end",
      () => {
        const b = rawGguf({ kv: [["general.name", { type: "string", value: "abc" }]] });
        new DataView(b.buffer).setBigUint64(b.length - 11, 1n << 50n, true);
        return b;
      },
      /metadata .general.name.: string length 1125899906842624 runs past the end of the file/,
    ],
    [
      "an array count past the end",
      () => {
        const b = rawGguf({ kv: [["tokenizer.ggml.scores", { type: "array", value: { type: "float32", values: Float32Array.of(1, 2) } }]] });
        new DataView(b.buffer).setBigUint64(b.length - 16, 1n << 40n, true);
        return b;
      },
      /metadata 'tokenizer.ggml.scores': array length is 1099511627776/,
    ],
    [
      "an unknown metadata value type",
      () => {
        const b = rawGguf({ kv: [["general.x", { type: "uint32", value: 7 }]] });
        new DataView(b.buffer).setUint32(b.length - 8, 99, true);
        return b;
      },
      /metadata 'general.x' has unknown GGUF value type 99/,
    ],
    [
      "arrays nested too deep",
      () => {
        let a: import("../../src/loading/gguf/values.js").GgufArray = { type: "uint8", values: Uint8Array.of(1) };
        for (let i = 0; i < 5; i++) a = { type: "array", values: [a] };
        return rawGguf({ kv: [["deep", { type: "array", value: a }]] });
      },
      /metadata 'deep'.*nests arrays deeper than 4/,
    ],
    [
      "a bool that is neither 0 nor 1",
      () => {
        const b = rawGguf({ kv: [["flag", { type: "bool", value: true }]] });
        b[b.length - 1] = 2;
        return b;
      },
      /metadata 'flag' is a bool stored as 2/,
    ],
    ["a duplicated key", () => rawGguf({ kv: [["a", { type: "uint8", value: 1 }], ["a", { type: "uint8", value: 2 }]] }), /metadata key 'a' appears twice/],
    ["general.alignment of the wrong type", () => rawGguf({ kv: [["general.alignment", { type: "uint64", value: 32n }]] }), /'general.alignment' is uint64, expected uint32/],
    ["general.alignment not a power of 2", () => rawGguf({ kv: [["general.alignment", { type: "uint32", value: 24 }]] }), /'general.alignment' is 24, not a power of 2/],
    ["an unknown tensor type", () => rawGguf({ tensors: [{ name: "w", dims: [32], type: 77, offset: 0 }], data: new Uint8Array(128) }), /tensor 'w' has unknown ggml type 77/],
    ["too many dimensions", () => rawGguf({ tensors: [f32("w", 0, [1, 1, 1, 1, 1])], data: new Uint8Array(32) }), /tensor 'w' has 5 dimensions/],
    ["a row not a multiple of the block", () => rawGguf({ tensors: [{ name: "q", dims: [33, 2], type: 8, offset: 0 }], data: new Uint8Array(256) }), /'q' has 33 values per row, not a multiple of the q8_0 block size 32/],
    ["an element count beyond 2^53", () => rawGguf({ tensors: [f32("w", 0, [1n << 30n, 1n << 30n, 1n << 30n])] }), /'w' has .* elements, more than 2\^53/],
    ["a dimension beyond 2^53", () => rawGguf({ tensors: [f32("w", 0, [1n << 60n])] }), /'w' has dims\[0\] = 1152921504606846976, too large/],
    ["a misaligned tensor offset", () => rawGguf({ tensors: [f32("a", 0), f32("b", 20)], data: new Uint8Array(64) }), /'b' has offset 20, not a multiple of the alignment 32/],
    ["a tensor running past the end", () => rawGguf({ tensors: [f32("a", 0), f32("b", 32, [64])], data: new Uint8Array(64) }), /'b' \(f32 \[64\], 256 bytes at data offset 32\) runs past the end/],
    ["a lying huge offset", () => rawGguf({ tensors: [f32("a", (1n << 64n) - 32n)], data: new Uint8Array(32) }), /'a' has offset 18446744073709551584, too large/],
    ["overlapping tensors", () => rawGguf({ tensors: [f32("a", 0, [16]), f32("b", 32)], data: new Uint8Array(128) }), /tensors 'a' and 'b' overlap/],
    ["a duplicated tensor name", () => rawGguf({ tensors: [f32("a", 0), f32("a", 32)], data: new Uint8Array(64) }), /tensor 'a' appears twice/],
    ["a tensor name of 64 bytes", () => rawGguf({ tensors: [f32("n".repeat(64), 0)], data: new Uint8Array(32) }), /has a name of 64 characters/],
    [
      "a name that is not UTF-8",
      () => {
        const b = rawGguf({ kv: [["ab", { type: "uint8", value: 1 }]] });
        b[32] = 0xff;
        return b;
      },
      /metadata key 0 at byte 32 is not valid UTF-8/,
    ],
  ];
  for (const [what, make, expected] of cases) {
    it(`names the problem: ${what}`, async () => {
      await assert.rejects(open(make()), (e: Error) => {
        assert.match(e.message, /^t\.gguf: /);
        assert.match(e.message, expected);
        return true;
      });
    });
  }

  it("reads version 2 files (the same layout as 3)", async () => {
    const g = await open(rawGguf({ version: 2, kv: [["general.architecture", { type: "string", value: "llama" }]], tensors: [f32("w", 0)], data: new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer) }));
    assert.equal(g.version, 2);
    assert.equal(g.string("general.architecture"), "llama");
    assert.deepEqual(new Float32Array((await g.tensorBytes("w")).bytes.buffer), Float32Array.of(1, 2, 3, 4));
  });

  it("decodes string arrays at first use, and names a bad string only then", async () => {
    const tokens = ["a", "Ġb", "名前", "🙂x", "", "\uFEFFbom", "end"];
    const bytes = encodeGguf(new Map<string, GgufValue>([["tokenizer.ggml.tokens", { type: "array", value: { type: "string", values: tokens } }], ["after", { type: "uint8", value: 7 }]]), []);
    const good = await open(bytes);
    assert.equal(good.integer("after"), 7);
    const arr = good.get("tokenizer.ggml.tokens");
    assert.ok(arr?.type === "array" && arr.value.type === "string");
    assert.deepEqual(arr.value.values, tokens);
    // Corrupt the 4th string ("🙂x"): its first byte 0xF0 becomes 0xFF.
    const at = indexOf(bytes, new TextEncoder().encode("🙂x"));
    const bad = bytes.slice();
    bad[at] = 0xff;
    const g = await open(bad);
    assert.equal(g.integer("after"), 7, "the header parses: strings are not decoded yet");
    const v = g.get("tokenizer.ggml.tokens");
    assert.ok(v?.type === "array" && v.value.type === "string");
    assert.throws(() => v.value.values, new RegExp(`^Error: t\\.gguf: metadata 'tokenizer\\.ggml\\.tokens'\\[3\\] at byte ${at} is not valid UTF-8$`));
  });

  it("splits one decode of many strings at the right characters (multi-byte, surrogate pairs, boundaries)", async () => {
    const tokens = Array.from({ length: 3000 }, (_, i) => ["", "é", "€", "😀", "ab", "\u0000", "Ġ", "𝔘𝔫"][i % 8]!.repeat(i % 5) + String(i));
    const g = await open(encodeGguf(new Map<string, GgufValue>([["t", { type: "array", value: { type: "string", values: tokens } }]]), []), 1 << 20);
    const v = g.get("t");
    assert.ok(v?.type === "array" && v.value.type === "string");
    assert.deepEqual(v.value.values, tokens);
  });

  it("walks a string array longer than the cursor's read chunk", async () => {
    const tokens = Array.from({ length: 40000 }, (_, i) => `tok${i}-${"x".repeat(i % 60)}`);
    const g = await open(encodeGguf(new Map<string, GgufValue>([["t", { type: "array", value: { type: "string", values: tokens } }], ["z", { type: "string", value: "last" }]]), []));
    assert.equal(g.string("z"), "last");
    const v = g.get("t");
    assert.ok(v?.type === "array" && v.value.type === "string");
    assert.deepEqual(v.value.values, tokens);
  });

  it("names a string length inside an array that runs past the end", async () => {
    const bytes = encodeGguf(new Map<string, GgufValue>([["t", { type: "array", value: { type: "string", values: ["ab", "cd"] } }]]), []);
    const at = indexOf(bytes, new TextEncoder().encode("cd")) - 8;
    new DataView(bytes.buffer).setBigUint64(at, 1n << 40n, true);
    await assert.rejects(open(bytes), /^Error: t\.gguf: metadata 't'\[1\]: string length 1099511627776 at byte \d+ runs past the end of the file/);
  });

  it("bounds the header by maxHeaderBytes, not by the file", async () => {
    const bytes = encodeGguf(new Map([["s", { type: "string", value: "x".repeat(5000) }]]), []);
    await assert.rejects(open(bytes, 1024), /runs past the header budget \(maxHeaderBytes 1024\)/);
    assert.equal((await open(bytes, 8192)).string("s")!.length, 5000);
  });

  it("names a metadata value of the wrong type when it is asked for", async () => {
    const g = await open(encodeGguf(new Map<string, GgufValue>([["a", { type: "string", value: "x" }], ["n", { type: "uint32", value: 3 }], ["l", { type: "array", value: { type: "string", values: ["q"] } }]]), []));
    assert.throws(() => g.integer("a"), /metadata 'a' is string, expected an integer/);
    assert.throws(() => g.string("n"), /metadata 'n' is uint32, expected a string/);
    assert.throws(() => g.bool("l"), /metadata 'l' is array of string, expected a bool/);
    assert.throws(() => g.string("absent", true), /metadata 'absent' is missing/);
  });

  it("parses tensors of ggml types moekit does not compute with, and refuses their bytes by name", async () => {
    const g = await open(rawGguf({ tensors: [{ name: "k5", dims: [256], type: 13, offset: 0 }], data: new Uint8Array(192) }));
    assert.equal(g.info("k5").type.ggml, "q5_K");
    assert.equal(g.info("k5").end - g.info("k5").begin, 176);
    await assert.rejects(g.tensorBytes("k5"), /tensor 'k5' is stored as ggml type q5_K, which moekit does not read/);
  });
});
