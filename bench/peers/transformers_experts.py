"""transformers peer for bench/cpu/experts.ts: the experts module of Qwen1.5-MoE-A2.7B (Qwen2MoeExperts,
H 2048, I 1408, 60 experts, top-4) with each of transformers' experts implementations, on the CPU.

Usage: python transformers_experts.py --check
       python transformers_experts.py '{"threads": 2, "ts": [1, 4], "dtypes": ["float32"], "impls": ["eager"], "seed": 0}'
       python transformers_experts.py --serve '{"threads": 2, "seed": 0}'   (one JSON case per stdin line:
           {"dtype": "bfloat16", "t": 16, "impls": [...]}, answered on stdout; lets the caller interleave
           the peer with its own measurements so that both see the same machine load)
Prints one JSON line per case: {"dtype", "t", "impl", "ms" (median), "samples", "version"} or {"...", "error"}.
Routing: for each token, K distinct experts drawn uniformly (as bench/cpu/experts.ts), weights in [0.1, 1.1).
"""
import json
import sys
import time


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    serve = sys.argv[1] == "--serve"
    spec = json.loads(sys.argv[2] if serve else sys.argv[1])
    import torch
    import transformers
    from transformers import Qwen2MoeConfig
    from transformers.models.qwen2_moe import modeling_qwen2_moe as m

    torch.set_num_threads(int(spec.get("threads", 2)))
    H, I, E, K = 2048, 1408, 60, 4
    cfg = Qwen2MoeConfig(hidden_size=H, moe_intermediate_size=I, num_experts=E, num_experts_per_tok=K, hidden_act="silu")
    cache = {}

    def module(dtype_name):
        if dtype_name not in cache:
            cache.clear()
            dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
            torch.manual_seed(spec.get("seed", 0))
            experts = m.Qwen2MoeExperts(cfg)
            with torch.no_grad():
                experts.gate_up_proj.uniform_(-0.02, 0.02)
                experts.down_proj.uniform_(-0.02, 0.02)
            cache[dtype_name] = (experts.to(dtype).eval(), dtype)
        return cache[dtype_name]

    def run_case(dtype_name, t, impls, budget_s=1.5):
        experts, dtype = module(dtype_name)
        g = torch.Generator().manual_seed(1000 + t)
        hidden = (torch.rand(t, H, generator=g) * 2 - 1).to(dtype)
        idx = torch.stack([torch.randperm(E, generator=g)[:K] for _ in range(t)])
        w = (0.1 + torch.rand(t, K, generator=g)).to(dtype)
        for impl in impls:
            # batched_mm gathers a copy of its expert's weights for every token-slot: skip what cannot fit.
            gathered_gb = t * K * 3 * H * I * experts.down_proj.element_size() / 1e9
            if impl == "batched_mm" and gathered_gb > spec.get("max_gather_gb", 4):
                print(json.dumps({"dtype": dtype_name, "t": t, "impl": impl, "error": f"skipped: would gather {gathered_gb:.0f} GB of weights"}), flush=True)
                continue
            cfg._experts_implementation = impl
            experts.config = cfg
            try:
                with torch.inference_mode():
                    experts(hidden, idx, w)
                    samples = []
                    start = time.perf_counter()
                    while len(samples) < 3 or (len(samples) < 15 and time.perf_counter() - start < budget_s):
                        t0 = time.perf_counter()
                        experts(hidden, idx, w)
                        samples.append((time.perf_counter() - t0) * 1e3)
                s = sorted(samples)
                n = len(s)
                med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
                print(json.dumps({"dtype": dtype_name, "t": t, "impl": impl, "ms": med, "samples": n, "version": transformers.__version__, "torch": torch.__version__}), flush=True)
            except Exception as e:  # an implementation this torch build cannot run on the CPU
                print(json.dumps({"dtype": dtype_name, "t": t, "impl": impl, "error": f"{type(e).__name__}: {e}"[:300]}), flush=True)

    if serve:
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            case = json.loads(line)
            run_case(case["dtype"], int(case["t"]), case.get("impls", ["eager", "batched_mm", "grouped_mm"]), case.get("budget_ms", 1500) / 1e3)
            print(json.dumps({"done": True}), flush=True)
        return
    for dtype_name in spec["dtypes"]:
        for t in spec["ts"]:
            run_case(dtype_name, t, spec["impls"])

if __name__ == "__main__":
    main()
