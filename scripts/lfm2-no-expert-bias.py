"""Oracle for lfm2_moe with use_expert_bias false: transformers 5.18 on the fixture's weights with the
config flag off (the expert_bias buffers then go unused), logits of the fixture's input_ids.

    /work/venv/bin/python scripts/lfm2-no-expert-bias.py   # writes test/fixtures/variants/lfm2_moe-no-expert-bias.safetensors
"""
import os

import torch
from safetensors.numpy import load_file, save_file
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")
src = os.path.join(ROOT, "transformers", "lfm2_moe")
cfg = AutoConfig.from_pretrained(src)
cfg.use_expert_bias = False
model = AutoModelForCausalLM.from_pretrained(src, config=cfg, dtype=torch.float32).eval()
ids = torch.from_numpy(load_file(os.path.join(src, "expected.safetensors"))["input_ids"]).long()
with torch.no_grad():
    logits = model(ids).logits.float().numpy()
os.makedirs(os.path.join(ROOT, "variants"), exist_ok=True)
save_file({"logits": logits}, os.path.join(ROOT, "variants", "lfm2_moe-no-expert-bias.safetensors"))
print("written", logits.shape)
