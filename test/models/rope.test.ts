import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mlaSoftmaxScale } from "../../src/models/layers/mla-attention.js";
import { RotaryEmbedding } from "../../src/models/layers/rope.js";
import { normaliseRope } from "../../src/models/config/rope-parameters.js";

/** inverse frequencies and scale recovered from the tables at position 1. */
function freqsAt1(rope: RotaryEmbedding, maxPos = 1): { inv: number[]; scale: number } {
  const pos = Int32Array.from([1, maxPos]);
  const { cos, sin } = rope.tables(pos);
  const half = rope.dim / 2;
  const inv = Array.from({ length: half }, (_, i) => Math.atan2(sin[i]!, cos[i]!));
  return { inv, scale: Math.hypot(cos[0]!, sin[0]!) };
}

function close(a: number[], b: number[], tol: number, what: string): void {
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)), `${what}[${i}]: ${x} vs ${b[i]}`));
}

// Values from transformers 5.18's ROPE_INIT_FUNCTIONS for the same parameters.
describe("RoPE variants match transformers' inverse frequencies", () => {
  it("normalises rope_theta + rope_scaling (type → rope_type) and rope_parameters alike", () => {
    const a = normaliseRope({ rope_theta: 5e5, rope_scaling: { type: "linear", factor: 4 } }, 1e4);
    const b = normaliseRope({ rope_parameters: { rope_type: "linear", rope_theta: 5e5, factor: 4 } }, 1e4);
    assert.deepEqual(a, b);
    assert.equal(a.type, "linear");
    assert.equal(normaliseRope({}, 150000).theta, 150000);
    assert.throws(() => normaliseRope({ rope_parameters: { rope_type: "mrope" } }, 1e4), /unsupported rope type 'mrope'/);
  });

  it("llama3 (llama4): high frequencies kept, low ones / factor, the band between smoothed", () => {
    const p = normaliseRope({ rope_parameters: { rope_type: "llama3", rope_theta: 5e5, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 1024 } }, 1e4);
    const r = new RotaryEmbedding(p, { dim: 16, maxPositions: 4096 });
    close(freqsAt1(r).inv, [1.0, 0.193922758102417, 0.03760603070259094, 0.0013125694822520018, 0.00017677668074611574, 3.428102354519069e-5, 6.647869668086059e-6, 1.289173155782919e-6], 1e-6, "inv");
    assert.throws(() => new RotaryEmbedding(normaliseRope({ rope_parameters: { rope_type: "llama3", rope_theta: 5e5, factor: 8 } }, 1e4), { dim: 16, maxPositions: 4096 }), /rope_parameters \(llama3\) lacks 'low_freq_factor'/);
  });

  it("linear", () => {
    const r = new RotaryEmbedding(normaliseRope({ rope_parameters: { rope_type: "linear", rope_theta: 10000, factor: 4 } }, 1e4), { dim: 16, maxPositions: 256 });
    close(freqsAt1(r).inv, [0.25, 0.07905694097280502, 0.02500000037252903, 0.007905694656074047, 0.0024999999441206455, 0.0007905694656074047, 0.0002500000118743628, 7.905694656074047e-5], 1e-6, "inv");
  });

  it("yarn with mscale / mscale_all_dim (DeepSeek), truncated correction range", () => {
    const p = normaliseRope(
      { rope_parameters: { rope_type: "yarn", rope_theta: 10000, factor: 40, original_max_position_embeddings: 128, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 } },
      1e4,
    );
    const f = freqsAt1(new RotaryEmbedding(p, { dim: 8, maxPositions: 4096 }));
    close(f.inv, [1.0, 0.051249999552965164, 0.0002500000118743628, 2.499999936844688e-5], 1e-6, "inv");
    assert.ok(Math.abs(f.scale - 1) < 1e-6);
    const m = 0.1 * 0.707 * Math.log(40) + 1;
    const scale = mlaSoftmaxScale({ qLoraRank: null, kvLoraRank: 16, qkNopeHeadDim: 16, qkRopeHeadDim: 8, vHeadDim: 16 }, p);
    assert.ok(Math.abs(scale - 24 ** -0.5 * m * m) < 1e-12);
  });

  const longrope = {
    rope_type: "longrope",
    rope_theta: 10000,
    original_max_position_embeddings: 1024,
    short_factor: [1.0, 1.1, 1.2, 1.3, 1.5, 2.0, 3.0, 4.0],
    long_factor: [1, 2, 3, 4, 5, 6, 7, 8],
    short_mscale: 1.2,
    long_mscale: 1.3,
  };
  const SHORT = [1.0, 0.2874797582626343, 0.0833333358168602, 0.024325214326381683, 0.006666666828095913, 0.0015811389312148094, 0.00033333332976326346, 7.905694656074047e-5];
  const LONG = [1.0, 0.15811388194561005, 0.03333333507180214, 0.007905694656074047, 0.0020000000949949026, 0.0005270463298074901, 0.0001428571413271129, 3.9528473280370235e-5];

  it("longrope: short factors within the original context, long factors beyond, attention factor √(1 + ln f / ln orig)", () => {
    const r = new RotaryEmbedding(normaliseRope({ rope_parameters: longrope }, 1e4), { dim: 16, maxPositions: 4096 });
    const short = freqsAt1(r, 10);
    close(short.inv, SHORT, 1e-6, "short");
    assert.ok(Math.abs(short.scale - 1.0954451150103321) < 1e-6);
    close(freqsAt1(r, 2000).inv, LONG, 1e-6, "long");
  });

  it("longrope as phimoe (v5.18): always short factors; short_mscale / long_mscale by the call's largest position", () => {
    const r = new RotaryEmbedding(normaliseRope({ rope_parameters: longrope }, 1e4), { dim: 16, maxPositions: 4096, longropeShortFactorOnly: true });
    const near = freqsAt1(r, 10);
    const far = freqsAt1(r, 2000);
    close(near.inv, SHORT, 1e-6, "near");
    close(far.inv, SHORT, 1e-6, "far");
    assert.ok(Math.abs(near.scale - 1.2) < 1e-6 && Math.abs(far.scale - 1.3) < 1e-6);
  });

  it("dynamic NTK-alpha (hunyuan): base θ·alpha^{d/(d−2)}", () => {
    const r = new RotaryEmbedding(normaliseRope({ rope_parameters: { rope_type: "dynamic", rope_theta: 10000, alpha: 1000 } }, 1e4), { dim: 16, maxPositions: 256 });
    const base = 10000 * 1000 ** (16 / 14);
    close(freqsAt1(r).inv, Array.from({ length: 8 }, (_, i) => 1 / base ** ((2 * i) / 16)), 1e-6, "inv");
  });
});
