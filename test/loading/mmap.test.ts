import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { toBf16Bits } from "../../src/dtype.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { openGgufCheckpoint } from "../../src/loading/gguf-model/open.js";
import { mappedRange } from "../../src/loading/mapped-views.js";
import { FileSource } from "../../src/loading/node-files.js";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { fixtureDir } from "../helpers/fixtures.js";
import { ggufPath } from "../helpers/gguf-models.js";

const tmp = mkdtempSync(join(tmpdir(), "moekit-mmap-"));

/** A safetensors file whose data section starts at byte 8 + header length ≡ 2 (mod 4): F32 "a" misaligned, BF16 "b" aligned. */
function misalignedFile(): { path: string; a: Float32Array; b: Uint16Array; bStart: number } {
  const a = new Float32Array([1.5, -2, 3.25]);
  const b = new Uint16Array([toBf16Bits(0.5), toBf16Bits(-7), toBf16Bits(3)]);
  const header = { a: { dtype: "F32", shape: [3], data_offsets: [0, 12] }, b: { dtype: "BF16", shape: [3], data_offsets: [12, 18] } };
  let json = JSON.stringify(header);
  while ((8 + json.length) % 4 !== 2) json += " ";
  const out = new Uint8Array(8 + json.length + 18);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  out.set(new Uint8Array(a.buffer), 8 + json.length);
  out.set(new Uint8Array(b.buffer), 8 + json.length + 12);
  const path = join(tmp, "misaligned.safetensors");
  writeFileSync(path, out);
  return { path, a, b, bStart: 8 + json.length + 12 };
}

/** Lines of /proc/self/maps naming `path` (the file's mappings in this process). */
const mapsOf = (path: string) => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.endsWith(` ${path}`)).length;
const ON_LINUX = process.platform === "linux";
/** A copy of `src` no other test maps, so /proc/self/maps shows this test's mappings only. */
function privateCopy(src: string, name: string): string {
  const out = join(tmp, name);
  copyFileSync(src, out);
  return out;
}

const storageOf = (t: Tensor) => (t.storage instanceof SegmentedStorage ? t.storage.segments[0]!.data : t.hostStorage());

describe("memory-mapped weights", () => {
  it("safetensors tensors are views of the mapped file; a tensor whose offset does not suit its dtype is read and named", async () => {
    const { path, a, b, bStart } = misalignedFile();
    const st = await SafetensorsFile.open(new FileSource(path));
    const ta = await st.tensor("a");
    const tb = await st.tensor("b");
    assert.deepEqual([...(ta.hostStorage() as Float32Array)], [...a]);
    assert.deepEqual([...(tb.hostStorage() as Uint16Array)], [...b]);
    const rb = mappedRange(tb.hostStorage(), 0, 6);
    assert.ok(rb, "b is a view of the mapping");
    assert.equal(rb.offset, bStart);
    assert.equal(mappedRange(ta.hostStorage(), 0, 12), undefined, "a (F32 at an offset ≡ 2 mod 4) is a copy");
    assert.deepEqual(st.copied, ["a"]);
  });

  it("with mapping off every tensor is read, with the same values", async () => {
    const { path, b } = misalignedFile();
    const st = await SafetensorsFile.open(new FileSource(path, { mmap: false }));
    const tb = await st.tensor("b");
    assert.deepEqual([...(tb.hostStorage() as Uint16Array)], [...b]);
    assert.equal(mappedRange(tb.hostStorage(), 0, 6), undefined);
    assert.deepEqual(st.copied, []);
  });

  it("a view past the end of the file is an error naming the file", () => {
    const { path } = misalignedFile();
    const src = new FileSource(path);
    assert.throws(() => src.view!(0, 1 << 20), /misaligned\.safetensors: file ends before byte 1048576/);
  });

  it("a model loaded from a checkpoint directory reads its expert stacks in place and gives the same logits as one read into memory", async () => {
    const dir = fixtureDir("qwen2_moe");
    const ids = await import("../../src/tensor.js").then(({ Tensor }) => Tensor.from(new Int32Array([1, 5, 9, 2]), [1, 4]));
    const mapped = await AutoModelForCausalLM.fromPretrained(dir, { backend: "cpu" });
    const down = mapped.moeBlocks()[0]!.experts.weights.down;
    assert.ok(down.storage instanceof SegmentedStorage);
    for (const s of down.storage.segments) assert.ok(mappedRange(s.data, s.byteOffset, 4), "every expert's down_proj is a view of the file");
    const before = process.env.MOEKIT_MMAP;
    process.env.MOEKIT_MMAP = "0";
    try {
      const read = await AutoModelForCausalLM.fromPretrained(dir, { backend: "cpu" });
      const rdown = read.moeBlocks()[0]!.experts.weights.down.storage as SegmentedStorage;
      assert.equal(mappedRange(rdown.segments[0]!.data, 0, 4), undefined);
      assert.deepEqual(await (await mapped.forward(ids)).logits.data(), await (await read.forward(ids)).logits.data());
      read.dispose();
    } finally {
      if (before === undefined) delete process.env.MOEKIT_MMAP;
      else process.env.MOEKIT_MMAP = before;
    }
    mapped.dispose();
  });

  it("GGUF expert stacks are views of the mapped file", async () => {
    const ckpt = await openGgufCheckpoint(new FileSource(ggufPath("qwen2_moe")));
    const key = ckpt.keys().find((k) => k.includes("experts.1.down_proj"))!;
    const t = await ckpt.tensor(key);
    const r = mappedRange(storageOf(t), 0, 4);
    assert.ok(r, `${key} is mapped`);
    assert.equal(r.offset, ckpt.info(key).begin + (t.isView ? (t.storage as SegmentedStorage).segments[0]!.byteOffset : 0));
  });

  it("dispose() unmaps the GGUF at once; the disposed model and weights kept from it give clear errors", { skip: !ON_LINUX && "needs /proc/self/maps" }, async () => {
    const path = privateCopy(ggufPath("qwen2_moe"), "dispose.gguf");
    const ids = Tensor.from(new Int32Array([1, 5, 9, 2]), [1, 4]);
    const model = await AutoModelForCausalLM.fromPretrained(path, { backend: "cpu" });
    const first = await (await model.forward(ids)).logits.data();
    const experts = model.moeBlocks()[0]!.experts;
    const down = experts.weights.down;
    const seg = (down.storage as SegmentedStorage).segments[0]!;
    assert.ok(mappedRange(seg.data, seg.byteOffset, 4), "the expert stack is a view of the file");
    assert.ok(mapsOf(path) >= 1, "the file is mapped while the model lives");
    const h = experts.weights.hiddenSize;
    const hidden = Tensor.from(new Float32Array(2 * h).fill(0.5), [2, h]);
    const index = Tensor.from(new Int32Array([0, 1]), [2, 1]);
    const weights = Tensor.from(new Float32Array([1, 1]), [2, 1]);
    await experts.forward(hidden, index, weights);

    model.dispose();
    assert.equal(mapsOf(path), 0, "no mapping of the file is left after dispose()");
    assert.equal(seg.data.length, 0, "a kept view was detached");
    await assert.rejects(model.forward(ids), /the qwen2_moe model was disposed/);
    await assert.rejects(
      async () => experts.forward(hidden, index, weights),
      (e: Error) => /has 0 elements|0-byte buffer|detached|unmapped/.test(e.message),
      "a weight kept from the disposed model is refused by name, never read",
    );

    // The same file loads again (a fresh mapping) and gives the same logits.
    const again = await AutoModelForCausalLM.fromPretrained(path, { backend: "cpu" });
    assert.deepEqual(await (await again.forward(ids)).logits.data(), first);
    again.dispose();
    assert.equal(mapsOf(path), 0);
  });

  it("dispose() during a forward or a generate: the running forward finishes on mapped weights, the file is unmapped when it settles, the next step is refused", { skip: !ON_LINUX && "needs /proc/self/maps" }, async () => {
    const path = privateCopy(ggufPath("qwen2_moe"), "inflight.gguf");
    const ids = Tensor.from(new Int32Array([1, 5, 9, 2]), [1, 4]);
    const model = await AutoModelForCausalLM.fromPretrained(path, { backend: "cpu" });
    const want = await (await model.forward(ids)).logits.data();
    const running = model.forward(ids);
    model.dispose();
    assert.ok(mapsOf(path) >= 1, "still mapped while the forward runs");
    await assert.rejects(model.forward(ids), /the qwen2_moe model was disposed/, "a forward started after dispose() is refused");
    assert.deepEqual(await (await running).logits.data(), want, "the running forward read every weight it needed");
    assert.equal(mapsOf(path), 0, "unmapped once the forward settled");

    const again = await AutoModelForCausalLM.fromPretrained(path, { backend: "cpu" });
    const generating = again.generate(ids, { maxNewTokens: 6, doSample: false });
    again.dispose(); // (its first forward has started: it runs to its first await)
    await assert.rejects(generating, /the qwen2_moe model was disposed \(dispose\(\) frees its weights\)/, "the generate loop stops at its next step, naming dispose");
    assert.equal(mapsOf(path), 0, "unmapped once the last forward settled");
  });

  it("two models from one Checkpoint share its mapping: the file stays mapped until the second is disposed", { skip: !ON_LINUX && "needs /proc/self/maps" }, async () => {
    const path = privateCopy(ggufPath("qwen2_moe"), "shared.gguf");
    const ckpt = await openGgufCheckpoint(new FileSource(path));
    const ids = Tensor.from(new Int32Array([3, 4]), [1, 2]);
    const a = await AutoModelForCausalLM.fromPretrained(ckpt, { backend: "cpu" });
    const b = await AutoModelForCausalLM.fromPretrained(ckpt, { backend: "cpu" });
    const want = await (await a.forward(ids)).logits.data();
    a.dispose();
    assert.ok(mapsOf(path) >= 1, "b still holds the mapping");
    assert.deepEqual(await (await b.forward(ids)).logits.data(), want);
    b.dispose();
    assert.equal(mapsOf(path), 0);
    const c = await AutoModelForCausalLM.fromPretrained(ckpt, { backend: "cpu" });
    assert.deepEqual(await (await c.forward(ids)).logits.data(), want, "the checkpoint maps the file afresh for a new model");
    c.dispose();
  });
});
