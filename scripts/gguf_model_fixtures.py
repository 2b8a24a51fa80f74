"""Oracle GGUFs of the fixture families, written with gguf-py's GGUFWriter the way llama.cpp's
convert_hf_to_gguf.py converts a Hugging Face checkpoint: the metadata keys base.py and the family's
converter write, tensor names from gguf-py's tensor map, experts stacked into ffn_{gate,up,down}_exps,
llama.cpp's q/k row permutation for the architectures whose converter applies it (llama = mixtral,
granitemoe), granite's input_linear split into gate and up, gpt-oss as GptOssModel writes it (write_gpt_oss). The fixtures have no tokenizer: each file
gets a byte-level gpt2 vocabulary of vocab_size ids (256 byte symbols, placeholders) so llama.cpp loads it.

    /work/venv/bin/python scripts/gguf_model_fixtures.py   # writes test/fixtures/gguf/models/<family>.gguf
"""
import json
import os
import re
import sys

import numpy as np
import gguf
from safetensors.numpy import load_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")
OUT = os.environ.get("MOEKIT_GGUF_OUT", os.path.join(ROOT, "gguf", "models"))

# family -> (gguf arch, experts prefix, expert proj names gate/up/down, permute q/k)
FAMILIES = {
    "qwen2_moe": ("QWEN2MOE", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "qwen3_moe": ("QWEN3MOE", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "olmoe": ("OLMOE", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "mixtral": ("LLAMA", "block_sparse_moe", ("w1", "w3", "w2"), True),
    "phimoe": ("PHIMOE", "block_sparse_moe", ("w1", "w3", "w2"), False),
    "granitemoe": ("GRANITE_MOE", "block_sparse_moe", None, True),
    "granitemoeshared": ("GRANITE_MOE", "block_sparse_moe", None, True),
    "dots1": ("DOTS1", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "hunyuan_v1_moe": ("HUNYUAN_MOE", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "ernie4_5_moe": ("ERNIE4_5_MOE", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "glm4_moe": ("GLM4_MOE", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "deepseek_v2": ("DEEPSEEK2", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
    "deepseek_v3": ("DEEPSEEK2", "mlp", ("gate_proj", "up_proj", "down_proj"), False),
}


def byte_chars():
    """GPT-2's bytes_to_unicode symbols, in byte order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def add_vocab(w, vocab):
    eos = vocab - 1
    tokens = byte_chars() + [f"[PAD{i}]" for i in range(256, vocab)]
    tokens[eos] = "<|endoftext|>"
    tokens[256] = "ĠĠ"  # one merge: gguf-py writes no empty array, and llama.cpp needs tokenizer.ggml.merges
    types = [1] * vocab
    types[eos] = 3
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["Ġ Ġ"])
    w.add_eos_token_id(eos)
    w.add_bos_token_id(eos)
    w.add_add_bos_token(False)


def permute(w, n_head, n_head_kv):
    """convert_hf_to_gguf's LlamaModel.permute: rotary pairs (i, i + d/2) become adjacent rows."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


QUANT = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}


def add_base(w, family, cfg, layers, head_count_kv, rope_theta, n_experts, n_used):
    """base.py's set_gguf_parameters keys every family writes, in its order."""
    w.add_name(f"moekit fixture {family}")
    w.add_block_count(layers)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(head_count_kv)
    w.add_rope_freq_base(rope_theta)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_expert_count(n_experts)
    w.add_expert_used_count(n_used)


def add_grouped_routing(w, cfg, gating=None):
    """The deepseek-style routing keys of Glm4MoeModel / Dots1Model (and base.py's n_group / topk_group)."""
    w.add_leading_dense_block_count(cfg["first_k_dense_replace"])
    w.add_expert_shared_count(cfg["n_shared_experts"])
    if gating is not None:
        w.add_expert_gating_func(gating)
    w.add_expert_weights_scale(cfg["routed_scaling_factor"])
    w.add_expert_weights_norm(cfg["norm_topk_prob"])
    w.add_expert_group_count(cfg["n_group"])
    w.add_expert_group_used_count(cfg["topk_group"])


def finish(writers):
    for w in writers:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


def quant_plan(name, t):
    """The mixed quantization of the block-format fixture: experts q4_0, other matrices q8_0, vectors f32."""
    if t.ndim < 2:
        return None
    return "q4_0" if "_exps" in name else "q8_0"


# The YaRN variant of deepseek_v3 (the released DeepSeek files scale RoPE this way): GGUF rope.scaling.*
# keys as base.py writes them, and transformers' logits for the same config as the oracle.
YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 64,
        "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0}


def write_yarn():
    import torch
    from safetensors.numpy import save_file
    from transformers import AutoConfig, AutoModelForCausalLM
    src = os.path.join(ROOT, "transformers", "deepseek_v3")
    base = os.path.join(OUT, "deepseek_v3.gguf")
    r = gguf.GGUFReader(base)
    path = os.path.join(OUT, "deepseek_v3-yarn.gguf")
    w = gguf.GGUFWriter(path, "deepseek2")
    for field in r.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        value = field.contents()
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_key_value(field.name, value, vtype, sub_type=field.types[-1])
        else:
            w.add_key_value(field.name, value, vtype)
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(YARN["factor"])
    w.add_rope_scaling_orig_ctx_len(YARN["original_max_position_embeddings"])
    w.add_rope_scaling_yarn_log_mul(0.1 * YARN["mscale_all_dim"])
    for t in r.tensors:
        w.add_tensor(t.name, np.array(t.data).reshape(list(reversed([int(d) for d in t.shape]))))
    finish((w,))
    cfg = AutoConfig.from_pretrained(src)
    cfg.rope_parameters = dict(YARN)
    model = AutoModelForCausalLM.from_pretrained(src, config=cfg, dtype=torch.float32).eval()
    ids = torch.from_numpy(load_file(os.path.join(src, "expected.safetensors"))["input_ids"]).long()
    with torch.no_grad():
        logits = model(ids).logits.float().numpy()
    save_file({"logits": logits}, os.path.join(OUT, "deepseek_v3-yarn.expected.safetensors"))
    print(path, os.path.getsize(path))


def write(family, quant=False):
    arch_name, block, projs, permute_qk = FAMILIES[family]
    src = os.path.join(ROOT, "transformers", family)
    cfg = json.load(open(os.path.join(src, "config.json")))
    tensors = load_file(os.path.join(src, "model.safetensors"))
    arch = getattr(gguf.MODEL_ARCH, arch_name)
    layers = cfg["num_hidden_layers"]
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{family}{'-q8_0-q4_0' if quant else ''}.gguf")
    dq = gguf.GGUFWriter(path.replace(".gguf", "-dequant.gguf"), gguf.MODEL_ARCH_NAMES[arch]) if quant else None
    w = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[arch])
    mla = family.startswith("deepseek")
    n_experts = cfg.get("num_local_experts", cfg.get("num_experts", cfg.get("n_routed_experts", cfg.get("moe_num_experts"))))
    # Glm4MoeModel counts its next-token-prediction layers in block_count (transformers drops their tensors);
    # DeepseekV2Model writes one kv head (MQA over the latent); phimoe's norms are LayerNorms, but Phi3's
    # converter writes the rms eps key all the same
    add_base(w, family, cfg, layers + cfg.get("num_nextn_predict_layers", 0) if family == "glm4_moe" else layers,
             1 if mla else cfg["num_key_value_heads"], cfg["rope_parameters"]["rope_theta"], n_experts,
             cfg.get("num_experts_per_tok", cfg.get("moe_topk", cfg.get("moe_k"))))
    head_dim = cfg["head_dim"]
    if mla:  # DeepseekV2Model.set_gguf_parameters
        rank, rope = cfg["kv_lora_rank"], cfg["qk_rope_head_dim"]
        if cfg.get("q_lora_rank") is not None:
            w.add_q_lora_rank(cfg["q_lora_rank"])
        w.add_kv_lora_rank(rank)
        w.add_key_length(rank + rope)
        w.add_value_length(rank)
        w.add_key_length_mla(cfg["qk_nope_head_dim"] + rope)
        w.add_value_length_mla(cfg["v_head_dim"])
        w.add_rope_dimension_count(rope)
        w.add_leading_dense_block_count(cfg["first_k_dense_replace"])
        w.add_expert_shared_count(cfg["n_shared_experts"])
        w.add_expert_weights_scale(cfg["routed_scaling_factor"])
        if cfg["norm_topk_prob"]:
            w.add_expert_weights_norm(True)
        # the released configs' scoring_func: softmax for V2, sigmoid (with the correction bias) for V3
        v3 = family == "deepseek_v3"
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID if v3 else gguf.ExpertGatingFuncType.SOFTMAX)
        # base.py writes n_group / topk_group; V2's greedy top-k ignores groups (as DeepSeek-V2-Lite has none)
        if v3 or cfg.get("topk_method") != "greedy":
            w.add_expert_group_count(cfg["n_group"])
            w.add_expert_group_used_count(cfg["topk_group"])
    else:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
        w.add_rope_dimension_count(int(head_dim * cfg.get("partial_rotary_factor", 1.0)))
    w.add_vocab_size(cfg["vocab_size"])
    if "moe_intermediate_size" in cfg:
        w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    if "shared_expert_intermediate_size" in cfg:
        w.add_expert_shared_feed_forward_length(cfg["shared_expert_intermediate_size"])
    if family.startswith("granitemoe"):
        w.add_attention_scale(cfg["attention_multiplier"])
        w.add_embedding_scale(cfg["embedding_multiplier"])
        w.add_residual_scale(cfg["residual_multiplier"])
        w.add_logit_scale(cfg["logits_scaling"])
        if cfg.get("shared_intermediate_size"):
            w.add_expert_shared_feed_forward_length(cfg["shared_intermediate_size"])
    if family == "glm4_moe":
        add_grouped_routing(w, cfg, gguf.ExpertGatingFuncType.SIGMOID)
        w.add_nextn_predict_layers(cfg["num_nextn_predict_layers"])
    if family == "dots1":
        add_grouped_routing(w, cfg)
    if family == "hunyuan_v1_moe":  # HunYuanMoEModel.set_gguf_parameters: one shared MLP as wide as the experts
        w.add_expert_feed_forward_length(cfg["intermediate_size"])
        w.add_expert_shared_feed_forward_length(cfg["intermediate_size"])
        w.add_expert_shared_count(1)
    if family == "ernie4_5_moe":  # Ernie4_5MoeModel.set_gguf_parameters
        w.add_interleave_moe_layer_step(cfg["moe_layer_interval"])
        w.add_leading_dense_block_count(cfg["moe_layer_start_index"])
        w.add_expert_shared_count(cfg["moe_num_shared_experts"])
        # the converter writes intermediate_size // num_key_value_heads, which is the shared width of the
        # released models; the fixture's shared width is what its tensors hold
        w.add_expert_shared_feed_forward_length(cfg["moe_intermediate_size"] * cfg["moe_num_shared_experts"])
    add_vocab(w, cfg["vocab_size"])

    tmap = gguf.get_tensor_name_map(arch, layers)
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    out = {}
    for name, t in tensors.items():
        if re.search(r"\.experts\.\d+\.", name):
            continue
        m = re.match(r"model\.layers\.(\d+)\.", name)
        if family.startswith("granitemoe") and name.endswith("input_linear.weight"):
            # granite stores gate|up as one [E, 2I, H] (or [2W, H] shared) stack; convert splits it
            half = t.shape[-2] // 2
            kind = "exps" if ".block_sparse_moe." in name else "shexp"
            out[f"blk.{m.group(1)}.ffn_gate_{kind}.weight"] = t[..., :half, :]
            out[f"blk.{m.group(1)}.ffn_up_{kind}.weight"] = t[..., half:, :]
            continue
        if permute_qk and name.endswith("q_proj.weight"):
            t = permute(t, n_head, n_head)
        if permute_qk and name.endswith("k_proj.weight"):
            t = permute(t, n_head, n_kv)
        if mla and name.endswith("kv_b_proj.weight"):
            # DeepseekV2Model.modify_tensors: kv_b split per head into k_b (transposed) and v_b
            heads, nope, v = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["v_head_dim"]
            kv_b = t.reshape(heads, nope + v, t.shape[-1])
            out[f"blk.{m.group(1)}.attn_k_b.weight"] = kv_b[:, :nope, :].transpose(0, 2, 1)
            out[f"blk.{m.group(1)}.attn_v_b.weight"] = kv_b[:, nope:, :]
            continue
        if name.endswith("e_score_correction_bias"):  # as the deepseek-style converters rename it
            name = name.replace("e_score_correction_bias", "e_score_correction.bias")
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"{family}: no GGUF name for {name}")
        out[new] = t
    if projs is not None:
        for l in range(layers):
            if f"model.layers.{l}.{block}.experts.0.{projs[0]}.weight" not in tensors:
                continue  # a dense layer
            for proj, kind in zip(projs, ("gate", "up", "down")):
                stack = [tensors[f"model.layers.{l}.{block}.experts.{x}.{proj}.weight"] for x in range(n_experts)]
                out[f"blk.{l}.ffn_{kind}_exps.weight"] = np.stack(stack)
    if family == "phimoe" and "output.bias" not in out:
        # llama.cpp's phimoe requires an lm_head bias; a model without one has a zero bias
        out["output.bias"] = np.zeros(cfg["vocab_size"], dtype=np.float32)
        for l in range(layers):  # and attention biases: zeros for a model without them
            for p in ("attn_q", "attn_k", "attn_v", "attn_output"):
                rows = out[f"blk.{l}.{p}.weight"].shape[0]
                out.setdefault(f"blk.{l}.{p}.bias", np.zeros(rows, dtype=np.float32))
    if dq is not None:  # the same metadata for the dequantized copy
        for key, field in w.kv_data[0].items():
            dq.kv_data[0][key] = field
    for name, t in out.items():
        t = np.ascontiguousarray(t)
        q = quant_plan(name, t) if quant else None
        if q is None:
            w.add_tensor(name, t)
            if dq is not None:
                dq.add_tensor(name, t)
            continue
        blocks = gguf.quants.quantize(t, QUANT[q])
        w.add_tensor(name, blocks, raw_dtype=QUANT[q])
        dq.add_tensor(name, gguf.quants.dequantize(blocks, QUANT[q]).astype(np.float32))
    finish((w, dq) if dq is not None else (w,))
    print(path, os.path.getsize(path))


def write_gpt_oss(mxfp4=False):
    """GptOssModel (convert_hf_to_gguf): base.py's metadata with YaRN rope.scaling.*, sliding_window and
    expert_feed_forward_length; gate_up_proj [E, H, 2I] (in x out, gate and up interleaved) transposed
    and split into ffn_gate_exps / ffn_up_exps [E, I, H] (even / odd rows), biases split the same way,
    down_proj [E, I, H] transposed to ffn_down_exps [E, H, I], sinks as attn_sinks.weight. The float
    fixture's experts stay float, as the converter keeps a non-MXFP4 checkpoint's; `mxfp4` also writes
    them as MXFP4 blocks (gguf.quants.quantize) with a dequantized copy as that file's oracle."""
    family = "gpt_oss"
    src = os.path.join(ROOT, "transformers", family)
    cfg = json.load(open(os.path.join(src, "config.json")))
    tensors = load_file(os.path.join(src, "model.safetensors"))
    arch = gguf.MODEL_ARCH.GPT_OSS
    layers = cfg["num_hidden_layers"]
    path = os.path.join(OUT, f"{family}{'-mxfp4' if mxfp4 else ''}.gguf")
    writers = [gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[arch])]
    if mxfp4:
        writers.append(gguf.GGUFWriter(path.replace(".gguf", "-dequant.gguf"), gguf.MODEL_ARCH_NAMES[arch]))
    rope = cfg["rope_parameters"]
    for w in writers:
        add_base(w, family, cfg, layers, cfg["num_key_value_heads"], rope["rope_theta"], cfg["num_local_experts"], cfg["num_experts_per_tok"])
        w.add_key_length(cfg["head_dim"])
        w.add_value_length(cfg["head_dim"])
        w.add_rope_dimension_count(cfg["head_dim"])
        w.add_vocab_size(cfg["vocab_size"])
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(rope["factor"])
        w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
        w.add_rope_scaling_yarn_beta_fast(rope["beta_fast"])
        w.add_rope_scaling_yarn_beta_slow(rope["beta_slow"])
        w.add_sliding_window(cfg["sliding_window"])
        w.add_expert_feed_forward_length(cfg["intermediate_size"])
        add_vocab(w, cfg["vocab_size"])
    tmap = gguf.get_tensor_name_map(arch, layers)
    out = {}
    for name, t in tensors.items():
        m = re.match(r"model\.layers\.(\d+)\.mlp\.experts\.(gate_up_proj|down_proj)(_bias)?$", name)
        if m:
            blk = f"blk.{m.group(1)}"
            if m.group(2) == "down_proj":
                out[f"{blk}.ffn_down_exps.{'bias' if m.group(3) else 'weight'}"] = t if m.group(3) else t.swapaxes(-1, -2)
            elif m.group(3):
                out[f"{blk}.ffn_gate_exps.bias"], out[f"{blk}.ffn_up_exps.bias"] = t[..., ::2], t[..., 1::2]
            else:
                t = t.swapaxes(-1, -2)
                out[f"{blk}.ffn_gate_exps.weight"], out[f"{blk}.ffn_up_exps.weight"] = t[:, ::2, :], t[:, 1::2, :]
            continue
        new = tmap.get_name(name + ".weight" if name.endswith("sinks") else name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"{family}: no GGUF name for {name}")
        out[new] = t
    mx = gguf.GGMLQuantizationType.MXFP4
    for name, t in out.items():
        t = np.ascontiguousarray(t)
        if mxfp4 and re.search(r"_exps\.weight$", name):
            blocks = gguf.quants.quantize(t, mx)
            writers[0].add_tensor(name, blocks, raw_dtype=mx)
            writers[1].add_tensor(name, gguf.quants.dequantize(blocks, mx).astype(np.float32))
        else:
            for w in writers:
                w.add_tensor(name, t)
    finish(writers)
    print(path, os.path.getsize(path))


if __name__ == "__main__":
    for fam in sys.argv[1:] or FAMILIES:
        if fam == "deepseek_v3-yarn":
            write_yarn()
        elif fam == "gpt_oss":
            write_gpt_oss()
            write_gpt_oss(mxfp4=True)
        else:
            write(fam)
    if not sys.argv[1:]:
        write("qwen3_moe", quant=True)
        write_yarn()
        write_gpt_oss()
        write_gpt_oss(mxfp4=True)
