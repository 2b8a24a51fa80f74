"""Builds test/fixtures/chat-model/: a tiny byte-level BPE tokenizer (vocab 512, the size of the tiny
transformers models in test/fixtures/transformers/) with Qwen3's chat template and turn tokens, so the chat
and serve tests can talk to test/fixtures/transformers/qwen3_moe in text.

The BPE is trained (Hugging Face tokenizers) on the corpus below and the template's text: 256 byte tokens, merges up to id
502, then Qwen's added tokens at 503..511 (<|endoftext|>, <|im_start|>, <|im_end|> special; <think>, </think>,
<tool_call>, </tool_call>, <tool_response>, </tool_response> not special, as in Qwen3). chat_template.jinja
is test/fixtures/chat/templates/Qwen-Qwen3-0.6B.jinja unchanged.

Usage: /work/venv/bin/python scripts/tiny-chat-model.py
"""

import json
import os
import shutil

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

ROOT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")
OUT = os.path.join(ROOT, "chat-model")
CORPUS = """Hello! How can I help you today? The weather in Paris is sunny and warm.
You are a helpful assistant. Please answer the question about the city, the time and the date.
I think the answer is forty two. Let me check the tool call result before I reply to the user.
What is the capital of France? It is Paris. What is the weather like in Berlin and in London?
The quick brown fox jumps over the lazy dog. Thank you for your question, have a nice day.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 2024 3.14; symbols: {"name": "get_weather", "arguments": {"city": "Paris"}}
Bonjour, comment allez-vous? Guten Tag! Hola, ¿qué tal? Ciao, come stai? 你好，世界。 こんにちは 🙂
Questions often begin with who, what, where, when, why, which or how; answers should be short and clear.
"""
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ADDED = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=503, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    with open(os.path.join(ROOT, "chat", "templates", "Qwen-Qwen3-0.6B.jinja")) as f:
        template = f.read()
    tok.train_from_iterator([CORPUS, template], trainer)
    assert tok.get_vocab_size() == 503, tok.get_vocab_size()
    tok.add_special_tokens(SPECIAL)
    tok.add_tokens(ADDED)
    assert tok.get_vocab_size() == 512
    tok.save(os.path.join(OUT, "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in SPECIAL + ADDED}
    decoder = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": t in SPECIAL} for t, i in ids.items()}
    config = {
        "added_tokens_decoder": decoder,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "model_max_length": 256,
        "tokenizer_class": "Qwen2Tokenizer",
    }
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(OUT, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]], "pad_token_id": ids["<|endoftext|>"]}, f, indent=2)
    shutil.copy(os.path.join(ROOT, "chat", "templates", "Qwen-Qwen3-0.6B.jinja"), os.path.join(OUT, "chat_template.jinja"))
    print(ids)


if __name__ == "__main__":
    main()
