"""Builds the real-vocabulary tokenizer fixtures of test/fixtures/chat/tokenizers/ from llama.cpp's vocab-only GGUFs.

No tokenizer.json of our families is reachable offline, so the vocabularies come from llama.cpp's
models/ggml-vocab-*.gguf (git bundle inside node-llama-cpp@3.21.1), converted by transformers' GGUF reader,
then given the pipeline pieces of the models' published tokenizer.json that the GGUF does not carry:

- qwen3-bpe.json.gz: ggml-vocab-qwen2.gguf (Qwen's byte-level BPE, 151,643 merges-based tokens) with the
  added tokens of Qwen2.5 / Qwen3 at their published ids (<tool_call> 151657 ... <think> 151667, </think> 151668)
  in place of the GGUF's [PAD...] placeholders (the vocabulary ends at 151,668 as Qwen3's does), the NFC
  normalizer and the ByteLevel post-processor (no BOS).
- llama-spm.json.gz: ggml-vocab-llama-spm.gguf (the 32,000-piece SentencePiece BPE of Llama 2 / Mistral /
  Mixtral) with Mixtral's post-processor, which adds <s> in front of every encoded text.

Usage: /work/venv/bin/python scripts/chat-tokenizer-fixtures.py <llama.cpp checkout>/models
"""

import gzip
import json
import os
import sys
import tempfile

from transformers import AutoTokenizer

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "chat", "tokenizers")

QWEN_ADDED = [
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>",
]
QWEN_NOT_SPECIAL = {"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>"}


def converted(models_dir: str, name: str) -> dict:
    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=f"ggml-vocab-{name}.gguf")
    with tempfile.TemporaryDirectory() as d:
        tok.save_pretrained(d)
        with open(os.path.join(d, "tokenizer.json"), encoding="utf-8") as f:
            return json.load(f)


def qwen3(models_dir: str) -> dict:
    j = converted(models_dir, "qwen2")
    by_id = {t["id"]: t for t in j["added_tokens"]}
    kept = [t for t in j["added_tokens"] if t["id"] < 151646]
    for i, content in enumerate(QWEN_ADDED):
        tid = 151646 + i
        assert by_id[tid]["content"].startswith("[PAD"), by_id[tid]
        kept.append({"id": tid, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                     "normalized": False, "special": content not in QWEN_NOT_SPECIAL})
    j["added_tokens"] = kept
    # As in Qwen's own tokenizer.json, the BPE vocabulary stops before the added tokens: the tokenizers
    # library gives an added token its stored id only when the model vocabulary does not hold that id.
    j["model"]["vocab"] = {k: v for k, v in j["model"]["vocab"].items() if v < 151643}
    j["normalizer"] = {"type": "NFC"}
    j["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    j["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return j


def llama_spm(models_dir: str) -> dict:
    j = converted(models_dir, "llama-spm")
    j["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    return j


def main() -> None:
    models_dir = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    for name, build in (("qwen3-bpe", qwen3), ("llama-spm", llama_spm)):
        data = json.dumps(build(models_dir), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with open(os.path.join(OUT, f"{name}.json.gz"), "wb") as f:
            # mtime=0: the same input gives the same bytes
            with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0) as g:
                g.write(data)
        print(name, len(data), "bytes,", os.path.getsize(os.path.join(OUT, f"{name}.json.gz")), "gzipped")


if __name__ == "__main__":
    main()
