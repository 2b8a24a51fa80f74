import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { SegmentedStorage } from "../../src/formats/segments.js";
import { rowBytes } from "../../src/formats/table.js";
import { contiguousRows } from "../../src/loading/fuse.js";
import { mappedRange } from "../../src/loading/mapped-views.js";
import { GqaAttention, fuseQkv } from "../../src/models/layers/attention.js";
import { Linear } from "../../src/models/layers/linear.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { rng, randomTensor } from "../helpers/random.js";
import { optionalBf16Cpu } from "../helpers/optional-cpu.js";
import { F32, familyDir } from "./model-fixtures.js";

const cpu = await optionalBf16Cpu();

const H = 64;
const NQ = 96;
const NKV = 32;

function separate(seed: number, dtype: "float32" | "bfloat16", bias: boolean): GqaAttention["proj"] {
  const r = rng(seed);
  const lin = (n: number) => new Linear(randomTensor(r, [n, H], 0.2, dtype), bias ? randomTensor(r, [n], 0.1) : undefined);
  return { q: lin(NQ), k: lin(NKV), v: lin(NKV), o: lin(H) };
}

async function rows(t: Tensor): Promise<number[][]> {
  const v = Array.from((await t.data()) as Float32Array);
  const n = t.shape[t.rank - 1]!;
  return Array.from({ length: v.length / n }, (_, i) => v.slice(i * n, (i + 1) * n));
}

describe("q / k / v fused into one product at load", () => {
  const backends: [string, Backend][] = [["reference", referenceBackend], ...(cpu ? [["cpu bf16", cpu] as [string, Backend]] : [])];
  for (const [name, b] of backends) {
    for (const bias of [false, true]) {
      it(`${name}${bias ? ", with biases" : ""}: the fused product's columns equal q, k and v computed apart`, async () => {
        const proj = separate(bias ? 2 : 1, "bfloat16", bias);
        const fused = fuseQkv(proj);
        assert.ok(fused.qkv && !fused.q && !fused.k && !fused.v, "fused into qkv");
        assert.deepEqual([...fused.qkv.weight.shape], [NQ + 2 * NKV, H]);
        assert.equal(fused.o, proj.o, "o_proj untouched");
        const x = b.adopt(randomTensor(rng(9), [5, H], 1));
        const whole = await rows(fused.qkv.forward(b, x));
        const parts = [await rows(proj.q!.forward(b, x)), await rows(proj.k!.forward(b, x)), await rows(proj.v!.forward(b, x))];
        assert.deepEqual(whole, whole.map((_, i) => parts.flatMap((p) => p[i]!)));
      });
    }
  }

  it("keeps the projections apart when they cannot be one product", () => {
    const p = separate(3, "bfloat16", true);
    const mixed = { ...p, v: new Linear(p.v!.weight.reshape([NKV, H]), undefined) };
    assert.equal(fuseQkv(mixed), mixed, "a bias on only q and k");
    const f32v = { ...p, v: new Linear(randomTensor(rng(4), [NKV, H], 0.2, "float32"), p.v!.bias) };
    assert.equal(fuseQkv(f32v), f32v, "v in another format");
    assert.equal(fuseQkv(p, false), p, "not allowed (gated query)");
    const device = { ...p, k: new Linear(new Tensor([NKV, H], "bfloat16", {}, { name: "gpu", isHost: false } as unknown as Backend), p.k!.bias) };
    assert.equal(fuseQkv(device), device, "a device tensor");
  });

  it("contiguousRows copies rows one after another and refuses what it cannot copy", async () => {
    const a = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const c = Tensor.from(new Float32Array([5, 6]), [1, 2]);
    const out = contiguousRows([a, c])!;
    assert.deepEqual([...out.shape], [3, 2]);
    assert.deepEqual(Array.from((await out.data()) as Float32Array), [1, 2, 3, 4, 5, 6]);
    assert.equal(contiguousRows([a, Tensor.from(new Float32Array([1, 2, 3]), [1, 3])]), undefined, "trailing dims differ");
    assert.equal(contiguousRows([]), undefined);
  });

  it("loading copies neither q/k/v nor the shared expert's down: both are views of the mapped checkpoint (qwen2_moe)", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "qwen2_moe"), { backend: cpu ?? referenceBackend });
    let sharedChecked = 0;
    for (const l of model.parts.layers) {
      const w = (l.mixer as GqaAttention).proj.qkv!.weight;
      assert.ok(w.storage instanceof SegmentedStorage, "qkv is a view");
      const rb = rowBytes(w.dtype, w.shape[1]!);
      for (const g of w.storage.segments) assert.ok(mappedRange(g.data, g.byteOffset, g.rows * rb), "each q/k/v segment lies in the mapped file");
      const block = l.ffn.kind === "moe" ? l.ffn.block : undefined;
      if (!block?.sharedFused) continue;
      const down = block.sharedFused.experts.weights.down;
      const stored = block.shared!.mlp.down;
      const blocks = (down.storage as SegmentedStorage).segments.filter((g) => g.rowStride !== undefined);
      assert.equal(blocks.length, block.sharedFused.count, "one strided segment per column block");
      for (const g of blocks) {
        assert.equal(g.data.buffer, stored.hostStorage().buffer, "the block reads the shared down's stored rows");
        assert.ok(mappedRange(g.data, g.byteOffset, 1), "in the mapped file");
      }
      sharedChecked++;
    }
    assert.equal(sharedChecked, model.parts.layers.length, "every layer runs its shared expert inside the routed pass");
  });

  it("a model with separate q_proj / k_proj / v_proj (qwen2_moe) loads them fused on every layer", async () => {
    const model = await AutoModelForCausalLM.fromPretrained(familyDir(F32, "qwen2_moe"), { backend: cpu ?? referenceBackend });
    const layers = model.parts.layers;
    assert.ok(layers.length > 0);
    for (const l of layers) {
      const att = l.mixer as GqaAttention;
      assert.ok(att.proj.qkv && !att.proj.q, "fused");
      const { heads, kvHeads, headDim } = att.dims;
      assert.equal(att.proj.qkv.weight.shape[0], (heads + 2 * kvHeads) * headDim);
      assert.ok(att.proj.qkv.bias, "qwen2_moe's q/k/v biases fused too");
    }
  });
});
