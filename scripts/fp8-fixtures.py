"""The FP8 fixture (test/fixtures/transformers-fp8/qwen3_moe): a block-scaled FP8 checkpoint as Qwen3-FP8 /
DeepSeek-V3 ship them, with transformers' outputs on it.

    PYTHONPATH=<dir with accelerate, psutil, pyyaml> /work/venv/bin/python scripts/fp8-fixtures.py

(transformers refuses FP8 checkpoints without accelerate: `pip install --target DIR accelerate psutil pyyaml`.)

1. make_fixtures.py builds a tiny qwen3_moe whose matrices are whole 128x128 tiles (hidden 128, expert width 256,
   4 experts, head_dim 64), saved in bfloat16, into a scratch directory.
2. Every attention projection and expert matrix is quantized with transformers' own `Fp8Quantize` (128x128
   tiles, scale_inv = amax / 448, e4m3 codes) into `*.weight` F8_E4M3 + `*.weight_scale_inv` F32; what the
   published configs leave out stays bfloat16: embeddings, norms, the routers (`mlp.gate`) and the lm head,
   as `quantization_config.modules_to_not_convert` lists them (Qwen3-FP8 style).
3. transformers loads that checkpoint (on a CPU its fine-grained FP8 integration dequantizes at load:
   `Fp8Dequantize`, float32 here) and computes the logits of the float fixture's input ids and the greedy
   continuation; the script checks the dequantized weights transformers holds equal weight · scale_inv
   computed here, bit for bit.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM
from transformers.integrations.finegrained_fp8 import Fp8Quantize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "test", "fixtures", "transformers-fp8")
FAMILY = "qwen3_moe"
DIMS = {"hidden": 128, "inter": 256, "moe_inter": 256, "experts": 4, "heads": 4, "kv": 2, "head_dim": 64, "seq": 8}
BLOCK = [128, 128]
torch.set_num_threads(2)


def quantized_key(key: str) -> bool:
    """Attention projections and expert matrices: what Qwen3-FP8 stores in fp8."""
    return key.endswith(".weight") and (".self_attn." in key and key.split(".")[-2].endswith("_proj") or ".mlp.experts." in key)


def main() -> None:
    scratch = tempfile.mkdtemp(prefix="fp8-fixture-")
    subprocess.run(
        [sys.executable, "/work/shared/fixtures/make_fixtures.py", scratch, "--dims", json.dumps(DIMS), "--save-dtype", "bfloat16", FAMILY],
        check=True,
    )
    src = os.path.join(scratch, FAMILY)
    dst = os.path.join(OUT, FAMILY)
    os.makedirs(dst, exist_ok=True)

    quantizer = Fp8Quantize(SimpleNamespace(quantization_config=SimpleNamespace(weight_block_size=BLOCK, scale_fmt="float")))
    tensors = {}
    with safe_open(os.path.join(src, "model.safetensors"), "pt") as f:
        for key in f.keys():
            t = f.get_tensor(key)
            if quantized_key(key):
                out = quantizer.convert({key: t})
                assert out[key].dtype == torch.float8_e4m3fn, key
                tensors.update(out)
            else:
                tensors[key] = t
    save_file(tensors, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})

    config = json.load(open(os.path.join(src, "config.json")))
    layers = config["num_hidden_layers"]
    skip = ["lm_head", "model.embed_tokens", "model.norm"]
    for l in range(layers):
        skip += [f"model.layers.{l}.input_layernorm", f"model.layers.{l}.post_attention_layernorm", f"model.layers.{l}.mlp.gate"]
        skip += [f"model.layers.{l}.self_attn.q_norm", f"model.layers.{l}.self_attn.k_norm"]
    config["quantization_config"] = {
        "activation_scheme": "dynamic",
        "fmt": "e4m3",
        "quant_method": "fp8",
        "weight_block_size": BLOCK,
        "modules_to_not_convert": skip,
    }
    json.dump(config, open(os.path.join(dst, "config.json"), "w"), indent=2)
    shutil.copy(os.path.join(src, "generation_config.json"), dst)

    model = AutoModelForCausalLM.from_pretrained(dst, dtype=torch.float32, experts_implementation="eager").eval()
    # The weights transformers computes with: weight (e4m3 → float32) · its tile's scale_inv, in float32.
    params = dict(model.named_parameters())
    checked = 0
    for key, t in tensors.items():
        if not key.endswith(".weight_scale_inv"):
            continue
        wkey = key[: -len("_scale_inv")]
        w = tensors[wkey].to(torch.float32)
        s = t.repeat_interleave(128, 0)[: w.shape[0]].repeat_interleave(128, 1)[:, : w.shape[1]]
        want = w * s
        parts = wkey.split(".")
        if ".mlp.experts." in wkey:  # transformers fuses the experts: gate_up_proj [E, 2I, H], down_proj [E, H, I]
            e, proj = int(parts[5]), parts[6]
            base = ".".join(parts[:5])
            if proj == "down_proj":
                got = params[f"{base}.down_proj"][e]
            else:
                gu = params[f"{base}.gate_up_proj"][e]
                half = gu.shape[0] // 2
                got = gu[:half] if proj == "gate_proj" else gu[half:]
        else:
            got = params[wkey]
        assert got.dtype == torch.float32 and torch.equal(got, want), f"{wkey}: transformers' dequantized weight differs"
        checked += 1

    ex = {}
    with safe_open(os.path.join(src, "expected.safetensors"), "pt") as f:
        ids = f.get_tensor("input_ids")
    ex["input_ids"] = ids
    with torch.no_grad():
        ex["logits"] = model(input_ids=ids.long()).logits.float().contiguous()
        gen = model.generate(input_ids=ids[:1].long(), max_new_tokens=8, do_sample=False, min_new_tokens=8)
    ex["greedy_ids"] = gen[0, ids.shape[1] :].to(torch.int32).contiguous()
    save_file(ex, os.path.join(dst, "expected.safetensors"))
    meta = {
        "family": FAMILY,
        "model_type": config["model_type"],
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "dtype": "float32",
        "checkpoint_dtype": "fp8 e4m3 (128x128 weight_scale_inv) + bfloat16",
        "dequantized_weights_checked": checked,
        "batch": int(ids.shape[0]),
        "seq": int(ids.shape[1]),
        "greedy_new_tokens": 8,
        "tensors": {k: list(v.shape) for k, v in ex.items()},
    }
    json.dump(meta, open(os.path.join(dst, "expected.json"), "w"), indent=1)
    json.dump({FAMILY: meta}, open(os.path.join(OUT, "index.json"), "w"), indent=1)
    shutil.rmtree(scratch)
    print(f"{FAMILY}: {checked} fp8 matrices, dequantized weights equal transformers'; written to {dst}")


if __name__ == "__main__":
    main()
