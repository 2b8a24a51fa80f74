"""transformers peer for `moekit bench --peer transformers`.

One case per process: builds Qwen1.5-MoE-A2.7B-dimensioned modules
from a Qwen2MoeConfig with `layers` layers, seeded uniform weights (norms = 1), and times
  experts: each layer's Qwen2MoeExperts on that layer's router output,
  block:   each layer's Qwen2MoeSparseMoeBlock,
  model:   Qwen2MoeForCausalLM.forward,
under torch.inference_mode with config._experts_implementation = impl (eager | batched_mm | grouped_mm).
Peak memory: the resident high-water mark over warmup and timed iterations (as moekit's runner measures
it: garbage collected after building, Linux's VmHWM reset through /proc/self/clear_refs, else ru_maxrss).
Usage: python transformers_bench.py --check | '<json case>'; prints one JSON line.
"""
import gc
import json
import math
import sys
import time

from peak_rss import peak_rss_bytes, reset_peak_rss


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    spec = json.loads(sys.argv[1])
    import torch
    import transformers
    from transformers import Qwen2MoeConfig
    from transformers.models.qwen2_moe import modeling_qwen2_moe as m

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[spec["dtype"]]
    cfg = Qwen2MoeConfig(
        hidden_size=2048, intermediate_size=5632, moe_intermediate_size=1408, shared_expert_intermediate_size=5632,
        num_experts=60, num_experts_per_tok=4, norm_topk_prob=False, num_attention_heads=16, num_key_value_heads=16,
        num_hidden_layers=spec["layers"], vocab_size=151936, max_position_embeddings=8192, hidden_act="silu",
        decoder_sparse_step=1, mlp_only_layers=[],
    )
    cfg._experts_implementation = spec["impl"]
    torch.manual_seed(spec["seed"])
    t0 = time.perf_counter()
    torch.set_default_dtype(dtype)
    if spec["scope"] == "model":
        mods = [m.Qwen2MoeForCausalLM(cfg)]
    else:
        mods = [m.Qwen2MoeSparseMoeBlock(cfg) for _ in range(spec["layers"])]
    torch.set_default_dtype(torch.float32)
    weight_bytes = 0
    with torch.no_grad():
        for mod in mods:
            mod.eval()
            for name, p in mod.named_parameters():
                if "norm" in name:
                    p.fill_(1.0)
                else:
                    a = 1.0 / math.sqrt(p.shape[-1])
                    p.uniform_(-a, a)
                weight_bytes += p.numel() * p.element_size()
    if spec["scope"] == "experts":
        weight_bytes = sum(p.numel() * p.element_size() for mod in mods for p in mod.experts.parameters())
        for mod in mods:  # the experts scope runs router output -> experts only, as moekit's does
            mod.shared_expert = None
            mod.shared_expert_gate = None
    load_ms = (time.perf_counter() - t0) * 1e3
    b, s = spec["batch"], spec["seq"]
    x = (torch.rand(b, s, 2048) * 2 - 1).to(dtype)
    ids = torch.randint(0, 151936, (b, s))

    gc.collect()
    reset_peak_rss()
    with torch.inference_mode():
        if spec["scope"] == "experts":
            flat = x.view(-1, 2048)
            routes = [mod.gate(flat) for mod in mods]

            def run():
                for mod, (_, w, idx) in zip(mods, routes):
                    mod.experts(flat, idx, w)
        elif spec["scope"] == "block":
            def run():
                for mod in mods:
                    mod(x)
        else:
            def run():
                mods[0](input_ids=ids, use_cache=False)

        for _ in range(spec["warmup"]):
            run()
        samples = []
        for _ in range(spec["iters"]):
            t = time.perf_counter()
            run()
            samples.append((time.perf_counter() - t) * 1e3)
    peak = peak_rss_bytes()
    print(json.dumps({"samples_ms": samples, "peak_rss_bytes": peak, "weight_bytes": weight_bytes, "load_ms": load_ms,
                      "version": transformers.__version__}))


if __name__ == "__main__":
    main()
