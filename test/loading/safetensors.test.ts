import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BufferSource } from "../../src/loading/byte-source.js";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { loadMoeBlock } from "../../src/models/build/load-moe-block.js";
import { toBf16Bits, toF16Bits } from "../../src/dtype.js";
import { fixtureDir } from "../helpers/fixtures.js";

/** A safetensors file from a header object and a data section. */
function file(header: unknown, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const open = (bytes: Uint8Array) => SafetensorsFile.open(new BufferSource("test.safetensors", bytes));

describe("safetensors reader", () => {
  it("reads F32, BF16, F16 and I64 tensors with their shapes and values", async () => {
    const f32 = new Float32Array([1.5, -2, 3.25, 0]);
    const bf = new Uint16Array([toBf16Bits(1.5), toBf16Bits(-0.375)]);
    const f16 = new Uint16Array([toF16Bits(0.5), toF16Bits(-65504)]);
    const i64 = new BigInt64Array([7n, -3n]);
    const parts = [new Uint8Array(f32.buffer), new Uint8Array(bf.buffer), new Uint8Array(f16.buffer), new Uint8Array(i64.buffer)];
    const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let off = 0;
    const offs: [number, number][] = [];
    for (const p of parts) {
      data.set(p, off);
      offs.push([off, off + p.length]);
      off += p.length;
    }
    const st = await open(
      file(
        {
          __metadata__: { format: "pt" },
          a: { dtype: "F32", shape: [2, 2], data_offsets: offs[0] },
          b: { dtype: "BF16", shape: [2], data_offsets: offs[1] },
          c: { dtype: "F16", shape: [2], data_offsets: offs[2] },
          d: { dtype: "I64", shape: [2], data_offsets: offs[3] },
        },
        data,
      ),
    );
    assert.deepEqual(st.metadata, { format: "pt" });
    const a = await st.tensor("a");
    assert.deepEqual([...a.shape], [2, 2]);
    assert.deepEqual(Array.from(await a.data()), [1.5, -2, 3.25, 0]);
    const b = await st.tensor("b");
    assert.equal(b.dtype, "bfloat16");
    assert.deepEqual(Array.from(await b.data()), [1.5, -0.375]);
    assert.deepEqual(Array.from(await (await st.tensor("c")).data()), [0.5, -65504]);
    await assert.rejects(st.tensor("d"), /tensor .d. has dtype I64, but a float tensor \(F32 or BF16 or F16 or F64\) is expected here/);
    const d = await st.tensor("d", { expect: "int" });
    assert.equal(d.dtype, "int32");
    assert.deepEqual(Array.from(await d.data()), [7, -3]);
  });

  const data16 = new Uint8Array(16);
  const bad: [string, Uint8Array, RegExp][] = [
    ["too short to hold a header length", new Uint8Array(4), /not a safetensors file/],
    ["header length past the end of the file", file({}, data16, 1000n), /header length 1000 runs past the end/],
    ["header that is not JSON", (() => { const f = file({}, data16); f[8] = 0x7b; f[9] = 0x7b; return f; })(), /not valid JSON/],
    ["offsets past the data section", file({ a: { dtype: "F32", shape: [8], data_offsets: [0, 32] } }, data16), /past the end of the data section \(16 bytes\)/],
    ["offsets that end before they begin", file({ a: { dtype: "F32", shape: [0], data_offsets: [8, 4] } }, data16), /end before they begin/],
    ["overlapping tensors", file({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, data16), /'a' and 'b' overlap/],
    ["byte count that does not match the shape", file({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data16), /spans 8 bytes but F32 \[3\] needs 12/],
    ["unknown dtype", file({ a: { dtype: "F33", shape: [2], data_offsets: [0, 8] } }, data16), /unknown dtype "F33"/],
    ["negative shape", file({ a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, data16), /invalid shape/],
    ["missing offsets", file({ a: { dtype: "F32", shape: [2] } }, data16), /invalid data_offsets/],
  ];
  for (const [name, bytes, msg] of bad) {
    it(`rejects ${name}`, async () => {
      await assert.rejects(open(bytes), msg);
    });
  }

  it("rejects reading a dtype it cannot represent, naming the tensor", async () => {
    const st = await open(file({ q: { dtype: "U8", shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await assert.rejects(st.tensor("q"), /'q' has dtype U8/);
    await assert.rejects(st.tensor("nope"), /no tensor named 'nope'/);
  });
});

describe("checkpoint directories", () => {
  it("a truncated model.safetensors is refused when the block is loaded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-trunc-"));
    copyFileSync(join(fixtureDir("olmoe"), "config.json"), join(dir, "config.json"));
    const full = readFileSync(join(fixtureDir("olmoe"), "model.safetensors"));
    writeFileSync(join(dir, "model.safetensors"), full.subarray(0, full.length - 1000));
    await assert.rejects(loadMoeBlock(dir, 0), /past the end of the data section/);
  });

  it("sharded checkpoints load through model.safetensors.index.json and name missing shards", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-shard-"));
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(fixtureDir("mixtral"), "config.json"), join(dir, "config.json"));
    copyFileSync(join(fixtureDir("mixtral"), "model.safetensors"), join(dir, "model-00001-of-00001.safetensors"));
    const src = await Checkpoint.open(fixtureDir("mixtral"));
    const weightMap = Object.fromEntries(src.keys().map((k) => [k, "model-00001-of-00001.safetensors"]));
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: weightMap }));
    const ck = await Checkpoint.open(dir);
    assert.equal(ck.keys().length, src.keys().length);
    const block = await loadMoeBlock(ck, 1);
    assert.equal(block.experts.numExperts, 8);
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { ...weightMap, extra: "model-2.safetensors" } }));
    await assert.rejects(Checkpoint.open(dir), /shard 'model-2.safetensors' is missing/);
  });

  it("a tensor whose shape contradicts the config is named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-cfg-"));
    const cfg = JSON.parse(readFileSync(join(fixtureDir("olmoe"), "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, intermediate_size: 48 }));
    copyFileSync(join(fixtureDir("olmoe"), "model.safetensors"), join(dir, "model.safetensors"));
    await assert.rejects(loadMoeBlock(dir, 0), /'model.layers.0.mlp.experts.0.gate_proj.weight' has shape \[32, 64\], config implies \[48, 64\]/);
  });

  it("an unsupported model_type lists the supported ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moekit-type-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "llama" }));
    copyFileSync(join(fixtureDir("olmoe"), "model.safetensors"), join(dir, "model.safetensors"));
    await assert.rejects(loadMoeBlock(dir, 0), /unsupported model_type "llama": supported are qwen2_moe, .*hunyuan_v1_moe/);
  });
});
