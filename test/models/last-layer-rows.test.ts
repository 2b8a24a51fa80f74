/**
 * The last layer's feed-forward on the kept positions alone (DecoderLayer.forward's `keep`): a forward that keeps
 * k logits gives the last k positions of a full forward — bit for bit on the reference backend, which computes
 * each row apart, within the fixtures' tolerance and with the same argmax on the cpu one — for every kind of
 * layer (sequential, parallel, scaled residuals, a deferred shortcut MoE, recurrent and convolution mixers). A
 * chunk prefilled with `logits: false` (no feed-forward at all in the last layer) leaves the cache as a full
 * forward would: the next chunk's logits match.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cpuBackendAvailable, CpuBackend } from "../../src/backends/cpu/index.js";
import { ReferenceBackend } from "../../src/backends/reference/index.js";
import { argmax } from "../../src/generation/logits-processors.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { assertClose } from "../helpers/assert-close.js";
import { fixtureDir } from "../helpers/fixtures.js";

/** qwen2_moe: sequential with a shared expert; cohere2_moe: parallel; minimax: scaled residuals, a linear-attention
 * last layer; longcat_flash: the deferred shortcut MoE; qwen3_next / lfm2_moe: hybrid caches; granitemoehybrid:
 * residual multipliers; deepseek_v3: a dense first layer. */
const FAMILIES = ["qwen2_moe", "cohere2_moe", "minimax", "longcat_flash", "qwen3_next", "lfm2_moe", "granitemoehybrid", "deepseek_v3"];
const B = 2;
const S = 7;
const KEEP = 2;

const ids = (vocab: number) => Int32Array.from({ length: B * S }, (_, i) => (i * 37 + 11) % vocab);

/** Rows [S − k, S) of logits [B, S, V], as one array [B, k, V]. */
function lastRows(full: Float32Array, v: number, k: number): Float32Array {
  const out = new Float32Array(B * k * v);
  for (let r = 0; r < B; r++) out.set(full.subarray((r * S + S - k) * v, (r * S + S) * v), r * k * v);
  return out;
}

/** Within the fixtures' tolerance of the full forward's rows, each row with the same argmax. */
function assertCloseRows(got: Float32Array, want: Float32Array, v: number, what: string): void {
  assertClose(got, want, 1e-4, what);
  for (let row = 0; row < want.length / v; row++) {
    const am = (a: Float32Array) => argmax(a.subarray(row * v, (row + 1) * v));
    assert.equal(am(got), am(want), `${what}: argmax of row ${row}`);
  }
}

describe("the last layer's feed-forward on the kept positions", () => {
  for (const [name, make] of [
    ["reference", () => new ReferenceBackend()],
    ["cpu", () => new CpuBackend({ threads: 2 })],
  ] as const) {
    for (const family of FAMILIES) {
      it(`${family} (${name}): logitsToKeep ${KEEP} = the full forward's last ${KEEP} positions; a logits-free chunk fills the cache as a full one`, { skip: name === "cpu" && !cpuBackendAvailable() }, async () => {
        const model = await AutoModelForCausalLM.fromPretrained(fixtureDir(family), { backend: make() });
        const v = model.vocabSize;
        const x = ids(v);
        const full = (await (await model.forward(Tensor.from(x, [B, S]))).logits.data()) as Float32Array;
        const want = lastRows(full, v, KEEP);
        const kept = await model.forward(Tensor.from(x, [B, S]), { logitsToKeep: KEEP });
        assert.deepEqual(kept.logits.shape, [B, KEEP, v]);
        const got = (await kept.logits.data()) as Float32Array;
        if (name === "reference") assert.deepEqual(got, want);
        else assertCloseRows(got, want, v, "logitsToKeep");

        const cache = model.newCache();
        const head = new Int32Array(B * (S - KEEP));
        const tail = new Int32Array(B * KEEP);
        for (let r = 0; r < B; r++) {
          head.set(x.subarray(r * S, r * S + S - KEEP), r * (S - KEEP));
          tail.set(x.subarray(r * S + S - KEEP, (r + 1) * S), r * KEEP);
        }
        const none = await model.forward(Tensor.from(head, [B, S - KEEP]), { cache, logits: false });
        assert.deepEqual(none.logits.shape, [B, 0, v]);
        const next = (await (await model.forward(Tensor.from(tail, [B, KEEP]), { cache })).logits.data()) as Float32Array;
        assertCloseRows(next, want, v, "after a logits-free chunk");
        await model.dispose?.();
      });
    }
  }
});
