"""Oracle fixtures for moekit's quantized weight formats (test/fixtures/quant/).

    /work/venv/bin/python scripts/quant-fixtures.py [--raw DIR]

Writes, for every ggml block format, random and edge-case blocks with gguf-py's dequantization
(`gguf.quants.dequantize`) and, for Q8_0 / Q4_0 / Q5_0 / MXFP4, float rows with gguf-py's quantization
(`gguf.quants.quantize`); the K-quant test tensors (their llama.cpp MSE is measured separately, see
test/fixtures/quant/README.md; --raw DIR also dumps them as raw float32 files for that step); gpt-oss
MXFP4 tensors with transformers' `convert_moe_packed_tensors`; FP8 e4m3 weights with 128x128
`weight_scale_inv` and transformers' fine-grained FP8 dequantization; float32 -> e4m3 casts by torch.
Tests read only the JSON written here: they never need Python.
"""

import argparse
import base64
import json
import os

import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from gguf.quants import dequantize, quantize
from transformers.integrations.finegrained_fp8 import Fp8Dequantize
from transformers.integrations.mxfp4 import convert_moe_packed_tensors

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "quant")
rng = np.random.default_rng(20261205)


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def write(name: str, obj: dict) -> None:
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def f16_bits(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint16).view(np.uint8)


# fp16 scale bit patterns: zero, -0, smallest / largest subnormal, smallest normal, 1, largest finite,
# -largest, inf, -inf, NaN.
EDGE_F16 = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00]

# (block bytes, offsets of the fp16 scales inside a block)
LAYOUT = {
    Q.Q8_0: (34, [0]),
    Q.Q4_0: (18, [0]),
    Q.Q5_0: (22, [0]),
    Q.Q4_K: (144, [0, 2]),
    Q.Q6_K: (210, [208]),
    Q.MXFP4: (17, []),
}


def random_blocks(qtype: Q, n: int) -> np.ndarray:
    """Random bytes with sane random fp16 scales, followed by edge-case scales on random payloads."""
    size, scale_at = LAYOUT[qtype]
    blocks = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    for off in scale_at:
        scales = (rng.standard_normal(n) * 0.02).astype(np.float16).view(np.uint8).reshape(n, 2)
        blocks[:, off : off + 2] = scales
    edges = []
    if qtype == Q.MXFP4:
        for e in [0, 1, 2, 100, 126, 127, 128, 200, 253, 254, 255]:
            b = rng.integers(0, 256, size=size, dtype=np.uint8)
            b[0] = e
            edges.append(b)
    else:
        for h in EDGE_F16:
            for off in scale_at:
                b = rng.integers(0, 256, size=size, dtype=np.uint8)
                for o in scale_at:  # the other scale sane, this one at the edge
                    b[o : o + 2] = f16_bits(0x2E66)
                b[off : off + 2] = f16_bits(h)
                edges.append(b)
    # constant payloads: all-zero and all-ones bytes with a unit scale
    for fill in (0x00, 0xFF, 0x88):
        b = np.full(size, fill, dtype=np.uint8)
        for off in scale_at:
            b[off : off + 2] = f16_bits(0x3C00)
        if qtype == Q.MXFP4:
            b[0] = 127
        edges.append(b)
    return np.concatenate([blocks, np.stack(edges)], axis=0)


def quant_rows(qtype: Q) -> np.ndarray:
    """Float rows (256 values = 8 blocks of 32) that exercise the quantizers' rounding and edge cases."""
    rows = []
    # random blocks over many magnitudes
    for _ in range(12):
        scale = 10.0 ** rng.uniform(-4, 3, size=(8, 1))
        rows.append((rng.standard_normal((8, 32)) * scale).reshape(256))
    for _ in range(2):
        rows.append(rng.standard_t(3, size=256) * 0.05)
    blocks = []
    # exact ties for every quantizer: amax makes the scale a power of two, values at .5 steps
    blocks.append(np.concatenate([[127.0], np.arange(-15.5, 15.5, 1.0)[:31]]))
    blocks.append(np.concatenate([[-8.0], np.arange(-7.5, 8.0, 0.5)[:31]]))
    blocks.append(np.concatenate([[-16.0], np.arange(-15.5, 15.5, 1.0)[:31]]))
    blocks.append(np.concatenate([[6.0], np.linspace(-6, 6, 31)]))
    blocks.append(np.array([0.25 * k for k in range(-12, 13)] + [0.125, 0.375, 0.625, 0.875, 1.25, 1.75, 2.5]))
    # all zero, all equal (positive and negative), a single value, equal magnitudes of both signs
    blocks.append(np.zeros(32))
    blocks.append(np.full(32, 0.3))
    blocks.append(np.full(32, -1.7))
    blocks.append(np.eye(1, 32, 17).reshape(32) * -2.5)
    blocks.append(np.array([3.0, -3.0] * 16))
    blocks.append(np.array([-3.0, 3.0] * 16))
    # magnitudes: fp16 scale overflow, subnormal fp16 scales, scale flushed to zero in fp16
    blocks.append(rng.standard_normal(32) * 1e7)
    blocks.append(rng.standard_normal(32) * 3e38 / 4)
    blocks.append(rng.standard_normal(32) * 1e-6)
    blocks.append(rng.standard_normal(32) * 1e-9)
    blocks.append(rng.standard_normal(32) * 1e-30)
    # MXFP4's exponent: block maxima just below, at and above powers of two (float32 log2 rounding)
    for k in (-130, -126, -125, -124, -20, -1, 0, 1, 2, 3, 7, 24, 100, 127):
        p = np.float32(2.0**k)
        for amax in (np.nextafter(p, np.float32(0)), p, np.nextafter(p, np.float32(np.inf))):
            b = rng.standard_normal(32).astype(np.float32)
            b = b / np.abs(b).max() * amax * np.float32(0.99)
            b[5] = -amax if k % 2 else amax
            blocks.append(b)
    # subnormal inputs
    blocks.append(rng.standard_normal(32) * 1e-42)
    while len(blocks) % 8:
        blocks.append(rng.standard_normal(32))
    edge = np.stack([np.asarray(b, dtype=np.float32) for b in blocks]).reshape(-1, 256)
    return np.concatenate([np.stack(rows).astype(np.float32), edge], axis=0).astype(np.float32)


def ggml_fixtures() -> None:
    names = {Q.Q8_0: "q8_0", Q.Q4_0: "q4_0", Q.Q5_0: "q5_0", Q.Q4_K: "q4_k", Q.Q6_K: "q6_k", Q.MXFP4: "mxfp4"}
    for qtype, name in names.items():
        blocks = random_blocks(qtype, 32 if qtype in (Q.Q4_K, Q.Q6_K) else 96)
        with np.errstate(all="ignore"):
            widened = dequantize(blocks.reshape(-1), qtype).astype(np.float32)
        obj = {
            "format": name,
            "oracle": "gguf.quants.dequantize (gguf-py)",
            "blocks": len(blocks),
            "bytes": b64(blocks),
            "widened": b64(widened),
        }
        if qtype in (Q.Q8_0, Q.Q4_0, Q.Q5_0, Q.MXFP4):
            x = quant_rows(qtype)
            with np.errstate(all="ignore"):
                q = quantize(x, qtype)
            obj.update(
                {
                    "quantize_oracle": "gguf.quants.quantize (gguf-py)",
                    "rows": int(x.shape[0]),
                    "cols": int(x.shape[1]),
                    "input": b64(x),
                    "quantized": b64(q),
                }
            )
        write(f"ggml-{name}.json", obj)


def kquant_tensors(raw_dir: str | None) -> None:
    """Tensors whose Q4_K / Q6_K MSE moekit must keep within 1.02x of llama.cpp's quantizer."""
    rows, cols = 8, 512
    tensors = {
        "gaussian": rng.standard_normal((rows, cols)) * 0.02,
        "student_t3": rng.standard_t(3, size=(rows, cols)) * 0.015,
        "row_scaled": rng.standard_normal((rows, cols)) * (10.0 ** rng.uniform(-2, 0, size=(rows, 1))),
        "outliers": np.where(rng.random((rows, cols)) < 0.01, 0.5, 0.02) * rng.standard_normal((rows, cols)),
        "uniform_offset": rng.uniform(-0.01, 0.05, size=(rows, cols)),
    }
    out = []
    for name, t in tensors.items():
        t = t.astype(np.float32)
        out.append({"name": name, "rows": rows, "cols": cols, "values": b64(t)})
        if raw_dir:
            os.makedirs(raw_dir, exist_ok=True)
            t.tofile(os.path.join(raw_dir, f"{name}.f32"))
    write("kquant-tensors.json", {"tensors": out})


def gpt_oss_fixture() -> None:
    """gpt-oss's packed MXFP4 (`*_blocks` [E, N, K/32, 16], `*_scales` [E, N, K/32])."""
    E, N, G = 2, 6, 4
    blocks = rng.integers(0, 256, size=(E, N, G, 16), dtype=np.uint8)
    scales = rng.integers(110, 135, size=(E, N, G), dtype=np.uint8)
    scales[0, 0, :] = [0, 1, 126, 254]  # e8m0 extremes (255 is NaN in the MX spec: moekit rejects it)
    scales[1, 5, :] = [127, 128, 2, 253]
    # transformers returns [E, K, N] (transposed for its matmul); moekit keeps [E, N, K]
    w = convert_moe_packed_tensors(torch.from_numpy(blocks), torch.from_numpy(scales), dtype=torch.float32)
    w = w.transpose(1, 2).contiguous().numpy()
    write(
        "gpt-oss-mxfp4.json",
        {
            "oracle": "transformers.integrations.mxfp4.convert_moe_packed_tensors(dtype=float32), transposed back to [E, N, K]",
            "shape": [E, N, G * 32],
            "blocks": b64(blocks),
            "scales": b64(scales),
            "widened": b64(w.astype(np.float32)),
        },
    )


def e4m3_bytes(t: torch.Tensor) -> np.ndarray:
    return t.to(torch.float8_e4m3fn).view(torch.uint8).numpy()


def fp8_fixture() -> None:
    """DeepSeek-V3 / Qwen3-FP8 style: weight e4m3 [N, K], weight_scale_inv float32 [ceil(N/128), ceil(K/128)]."""
    cases = []
    for N, K in ((128, 256), (130, 128)):
        codes = rng.integers(0, 256, size=(N, K), dtype=np.uint8)
        codes[(codes & 0x7F) == 0x7F] = 0x3C  # no NaN codes (moekit rejects them)
        codes[0, :8] = [0x00, 0x80, 0x01, 0x07, 0x08, 0x7E, 0xFE, 0x81]  # zeros, subnormals, +-448
        sn, sk = -(-N // 128), -(-K // 128)
        scale = (10.0 ** rng.uniform(-5, -1, size=(sn, sk))).astype(np.float32)
        scale[0, 0] = 2.0**-126
        weight = torch.from_numpy(codes).view(torch.float8_e4m3fn)
        if N % 128 == 0 and K % 128 == 0:
            w = Fp8Dequantize(None)._dequantize_one(weight, torch.from_numpy(scale), output_dtype=torch.float32)
            oracle = "transformers Fp8Dequantize._dequantize_one(output_dtype=float32)"
        else:
            # transformers derives the tile from the grid (N / ceil(N/128)); DeepSeek's tiles are 128 rows
            s = torch.from_numpy(scale).repeat_interleave(128, 0)[:N].repeat_interleave(128, 1)[:, :K]
            w = weight.to(torch.float32) * s
            oracle = "weight.to(float32) * weight_scale_inv expanded over 128x128 tiles (torch)"
        cases.append(
            {"oracle": oracle, "n": N, "k": K, "weight": b64(codes), "scale_inv": b64(scale), "widened": b64(w.numpy().astype(np.float32))}
        )
    # float32 -> e4m3 (round to nearest even) as torch casts, in the finite range
    vals = np.concatenate(
        [
            rng.standard_normal(512) * 10.0 ** rng.uniform(-4, 2.5, size=512),
            [0.0, -0.0, 448.0, -448.0, 2.0**-9, 2.0**-10, 3 * 2.0**-11, 2.0**-6, 1.0625, 1.1875, 240.0, 232.0, 464.0 - 1e-3],
            np.arange(-20, 20) * 2.0**-12,
        ]
    ).astype(np.float32)
    vals = np.clip(vals, -448, 448)
    write(
        "fp8-e4m3.json",
        {
            "cases": cases,
            "cast": {"oracle": "torch .to(torch.float8_e4m3fn)", "input": b64(vals), "bytes": b64(e4m3_bytes(torch.from_numpy(vals)))},
        },
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--raw", help="also dump the K-quant tensors as raw float32 files into this directory")
    args = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    ggml_fixtures()
    kquant_tensors(args.raw)
    gpt_oss_fixture()
    fp8_fixture()


if __name__ == "__main__":
    main()
