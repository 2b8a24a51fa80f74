/**
 * Experts weights are views of the tensors as read, never a stacked copy: per-expert checkpoints
 * (olmoe) and flat [E·I, H] stacks (dbrx) load as row-segment views whose rows are the checkpoint's.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { weightRows } from "../../src/formats/rows.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import { concatRows, stackParts } from "../../src/loading/fuse.js";
import type { DecoderLayer } from "../../src/models/layers/decoder-layer.js";
import { loadCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { F32, familyDir } from "./model-fixtures.js";

function experts(layer: DecoderLayer) {
  assert.equal(layer.ffn.kind, "moe");
  return layer.ffn.kind === "moe" ? layer.ffn.block.experts.weights : assert.fail("not a MoE layer");
}

describe("experts weights as views", () => {
  it("olmoe's per-expert tensors: gate_up is a view of 2E segments holding the checkpoint's rows", async () => {
    const dir = familyDir(F32, "olmoe");
    const model = await loadCausalLM(await Checkpoint.open(dir), { backend: "reference" });
    const w = experts(model.parts.layers[0]!);
    assert.ok(w.gateUp!.storage instanceof SegmentedStorage);
    assert.equal((w.gateUp!.storage as SegmentedStorage).segments.length, 2 * w.numExperts);
    assert.ok(w.down.storage instanceof SegmentedStorage);
    const ckpt = await Checkpoint.open(dir);
    const i = w.intermediateSize;
    const h = w.hiddenSize;
    const up3 = await (await ckpt.tensor("model.layers.0.mlp.experts.3.up_proj.weight")).data();
    assert.deepEqual(weightRows(w.gateUp!, 3 * 2 * i + i, i), up3);
    const down5 = await (await ckpt.tensor("model.layers.0.mlp.experts.5.down_proj.weight")).data();
    assert.deepEqual(weightRows(w.down, 5 * h, h), down5);
  });

  it("dbrx's flat w1 / v1 stacks: gate_up interleaves expert rows as a view of the two tensors", async () => {
    const dir = familyDir(F32, "dbrx");
    const model = await loadCausalLM(await Checkpoint.open(dir), { backend: "reference" });
    const w = experts(model.parts.layers[0]!);
    const s = w.gateUp!.storage as SegmentedStorage;
    assert.ok(s instanceof SegmentedStorage);
    assert.equal(s.segments.length, 2 * w.numExperts);
    assert.equal(s.segments[0]!.data, s.segments[2]!.data, "expert 0's and expert 1's gate rows share the w1 buffer");
    assert.notEqual(s.segments[0]!.data, s.segments[1]!.data);
  });

  it("stackParts converts only a part stored in another dtype; concatRows views matrices and copies vectors", async () => {
    const a = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const b = new Tensor([1, 2], "bfloat16", new Uint16Array([0x4040, 0x4080]), null); // 3, 4
    const m = concatRows([a, b]);
    assert.ok(m.isView);
    assert.equal(m.dtype, "float32");
    assert.deepEqual(Array.from(await m.data()), [1, 2, 3, 4, 3, 4]);
    assert.equal((m.storage as SegmentedStorage).segments[0]!.data, a.storage);
    const v = concatRows([Tensor.from(new Float32Array([1]), [1]), Tensor.from(new Float32Array([2, 3]), [2])]);
    assert.ok(!v.isView);
    assert.deepEqual(Array.from(await v.data()), [1, 2, 3]);
    assert.throws(() => concatRows([a, Tensor.from(new Float32Array(3), [1, 3])]), /does not match trailing dims/);
    const ckpt = await Checkpoint.open(familyDir(F32, "olmoe"));
    const key = (e: number) => `model.layers.0.mlp.experts.${e}.down_proj.weight`;
    const shape = ckpt.info(key(0)).shape;
    const stack = await stackParts(ckpt, [[key(0)], [key(1)]], [[...shape]]);
    assert.deepEqual(stack.shape, [2, ...shape]);
    assert.deepEqual(Array.from(weightRows(stack, shape[0]!, shape[0]!)), Array.from(await (await ckpt.tensor(key(1))).data()));
  });
});
