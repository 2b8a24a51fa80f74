/**
 * GGUF interop with gguf-py, without Python at test time (scripts/gguf-py-fixtures.ts made the files):
 * the file moekit writes is byte for byte the one gguf-py read, and gguf-py's reading of it (every
 * metadata value, nested arrays, tensor names, types, dims, offsets, data hashes) is moekit's; and
 * moekit reads the file gguf-py's GGUFWriter wrote exactly as gguf-py reads it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { BufferSource } from "../../src/loading/byte-source.js";
import { encodeGguf, GgufFile } from "../../src/loading/gguf/index.js";
import { fileJson, moekitCrosscheckFile } from "../helpers/gguf-crosscheck.js";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "gguf");
const bytes = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const json = (f: string) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as unknown;

describe("GGUF interop with gguf-py", () => {
  it("writes the file gguf-py read, and gguf-py read what moekit meant", async () => {
    const { metadata, tensors } = moekitCrosscheckFile();
    const written = encodeGguf(metadata, tensors);
    assert.deepEqual(written, bytes("moekit-written.gguf"));
    const ours = await fileJson(await GgufFile.open(new BufferSource("moekit-written.gguf", written)));
    assert.deepEqual(ours, json("moekit-written.gguf-py.json"));
  });

  it("reads the file gguf-py's GGUFWriter wrote as gguf-py reads it", async () => {
    const g = await GgufFile.open(new BufferSource("gguf-py-written.gguf", bytes("gguf-py-written.gguf")));
    assert.deepEqual(await fileJson(g), json("gguf-py-written.json"));
    assert.equal(g.string("general.architecture"), "gguf-py-test");
    assert.deepEqual(
      [...g.tensors.values()].map((t) => t.format),
      ["float32", "float16", "bfloat16", "q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "mxfp4", "int32"],
    );
  });
});
