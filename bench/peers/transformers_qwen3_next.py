"""transformers peer of bench/models/qwen3-next.ts: a synthetic Qwen3-Next-shaped checkpoint and its decode speed.

  write <dir> <json spec>   builds Qwen3NextForCausalLM from the spec's config (seeded, transformers' own init:
                            A_log, dt_bias, norms as the model initialises them) and saves it with save_pretrained,
                            so moekit loads the very same weights from <dir>.
  run <dir> <json spec>     loads <dir> with AutoModelForCausalLM (torch CPU), prefills `context` seeded tokens
                            (use_cache), then times `new_tokens` greedy cached decode steps; prints one JSON line.
  --check                   exits 0 when torch and transformers import.

The linear-attention layers run transformers' torch fallbacks (torch_chunk_gated_delta_rule for the prefill,
torch_recurrent_gated_delta_rule and the torch causal_conv1d_update for decode): no hub kernels are reachable
offline; the output names the functions the layer used so a run that picked up other kernels is visible.
"""
import gc
import importlib.util
import json
import os
import sys
import time

from peak_rss import peak_rss_bytes, reset_peak_rss

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def dtype_of(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


def write(path: str, spec: dict) -> None:
    import torch
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

    fields = {k: v for k, v in spec["config"].items() if k not in ("architectures", "model_type")}
    cfg = Qwen3NextConfig(**fields)
    torch.manual_seed(spec.get("seed", 0))
    torch.set_default_dtype(dtype_of(spec["dtype"]))  # built in the stored dtype: no float32 copy in memory
    model = Qwen3NextForCausalLM(cfg).eval()
    torch.set_default_dtype(torch.float32)
    model.save_pretrained(path, safe_serialization=True)
    print(json.dumps({"written": path, "params": sum(p.numel() for p in model.parameters())}))


def seeded_prompt(n: int, vocab: int, seed: int) -> list:
    s = (seed * 2654435761 + 12345) & 0xFFFFFFFF
    out = []
    for _ in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out.append(s % vocab)
    return out


def run(path: str, spec: dict) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype_of(spec["dtype"])).eval()
    load_ms = (time.perf_counter() - t0) * 1e3
    # The torch fallbacks run unless the original packages (fla, causal_conv1d) import: name what is installed.
    kernels = {pkg: importlib.util.find_spec(pkg) is not None for pkg in ("fla", "causal_conv1d", "kernels")}
    ids = torch.tensor([seeded_prompt(spec["context"], model.config.vocab_size, spec.get("seed", 0))])
    gc.collect()
    reset_peak_rss()
    steps_ms = []
    with torch.inference_mode():
        for rep in range(spec.get("warmup", 1) + 1):
            t = time.perf_counter()
            out = model(input_ids=ids, use_cache=True)
            prefill_ms = (time.perf_counter() - t) * 1e3
            cache = out.past_key_values
            nxt = out.logits[:, -1:].argmax(-1)
            steps = spec["new_tokens"] if rep == spec.get("warmup", 1) else 2
            cur = []
            for _ in range(steps):
                t = time.perf_counter()
                out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
                nxt = out.logits[:, -1:].argmax(-1)
                cur.append((time.perf_counter() - t) * 1e3)
            cache = out.past_key_values
            steps_ms = cur
    steps_sorted = sorted(steps_ms)
    print(json.dumps({
        "context": spec["context"], "prefill_ms": prefill_ms, "decode_ms": steps_ms,
        "decode_ms_median": steps_sorted[len(steps_sorted) // 2],
        "decode_tokens_per_s": 1e3 * len(steps_ms) / sum(steps_ms),
        "load_ms": load_ms, "peak_rss_bytes": peak_rss_bytes(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": transformers.__version__, "kernels": kernels,
    }))


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    if len(sys.argv) != 4 or sys.argv[1] not in ("write", "run"):
        sys.exit("usage: transformers_qwen3_next.py write|run <dir> '<json spec>' | --check")
    spec = json.loads(sys.argv[3])
    (write if sys.argv[1] == "write" else run)(sys.argv[2], spec)


if __name__ == "__main__":
    main()
