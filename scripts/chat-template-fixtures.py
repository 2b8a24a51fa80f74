"""Expected chat-template renderings for test/fixtures/chat/, from transformers' apply_chat_template.

For every template of test/fixtures/chat/templates.json, every conversation of CONVERSATIONS and every
kwargs variant: the text transformers renders (or the error it raises), exactly as apply_chat_template
does it (render_jinja_template with the tokenizer's special tokens, then the caller's kwargs). Where the
template lists a tokenizer (a real vocabulary, see scripts/chat-tokenizer-fixtures.py), also the token ids of
apply_chat_template(tokenize=True), which tokenizes the rendered text without adding special tokens.
The cases of test/fixtures/chat/models/ load a directory through AutoTokenizer.from_pretrained, as a
user would (chat_template.jinja, additional_chat_templates/, named templates of tokenizer_config.json).
strftime_now is pinned to 2025-03-07 so the dated templates (gpt-oss, granite) are reproducible.

Usage: /work/venv/bin/python scripts/chat-template-fixtures.py
"""

import copy
import datetime as dt
import gzip
import json
import os
import shutil
import tempfile

import transformers.utils.chat_template_utils as ctu
from transformers import AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "chat")
FIXED_NOW = dt.datetime(2025, 3, 7, 9, 30, 0)


class PinnedClock(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


ctu.datetime = PinnedClock
ctu._compile_jinja_template.cache_clear()

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current local time in a timezone",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
    },
}
CALL = {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}


def user(text):
    return {"role": "user", "content": text}


def assistant(text, **extra):
    return {"role": "assistant", "content": text, **extra}


SYSTEM = {"role": "system", "content": "You are a terse assistant."}
CONVERSATIONS = {
    "user": {"messages": [user("Hello! What is 2+2?")]},
    "system-multi-turn": {"messages": [SYSTEM, user("Name a prime."), assistant("7"), user("Another one?")]},
    "no-generation-prompt": {"messages": [SYSTEM, user("Name a prime."), assistant("7")], "add_generation_prompt": False},
    "unicode": {"messages": [user("Hi 你好 🙂! Ünïcödé «quotes» and \"escapes\" \\ here.")]},
    "tools": {"messages": [SYSTEM, user("What's the weather in Paris?")], "tools": [WEATHER, CLOCK]},
    "tool-call-round-trip": {
        "messages": [
            user("What's the weather in Paris?"),
            assistant("", tool_calls=[CALL]),
            {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": '{"temperature": 18, "sky": "clear"}'},
        ],
        "tools": [WEATHER, CLOCK],
    },
    "reasoning-history": {
        "messages": [
            user("What is 3*4?"),
            assistant("12", reasoning_content="3 times 4 is 12.", thinking="3 times 4 is 12."),
            user("And 5*6?"),
        ]
    },
    "whitespace-edges": {
        "messages": [
            user("  padded question \n"),
            assistant("<think>\n  plan it\n</think>\n\n  The answer.  \n"),
            user("  and now?"),
        ]
    },
    "openai-tool-call": {
        "messages": [
            user("What's the weather in Paris?"),
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call12345", "content": "18 C, clear"},
        ],
        "tools": [WEATHER],
    },
    "documents": {
        "messages": [user("What is the capital of France?")],
        "documents": [{"title": "France", "text": "Paris is the capital of France."}, {"title": "Germany", "text": "Berlin is the capital of Germany."}],
    },
    "continue-final-message": {
        "messages": [user("Count to three."), assistant("One, two,")],
        "add_generation_prompt": False,
        "continue_final_message": True,
    },
}


def run(fn):
    try:
        return {"text": fn()}
    except Exception as e:  # the template refused the conversation: the test expects the same refusal
        return {"error": f"{type(e).__name__}: {e}"}


def render(template, special, conv, kwargs):
    conv = copy.deepcopy(conv)
    rendered, _ = ctu.render_jinja_template(
        conversations=[conv["messages"]],
        tools=conv.get("tools"),
        documents=conv.get("documents"),
        chat_template=template,
        add_generation_prompt=conv.get("add_generation_prompt", True),
        continue_final_message=conv.get("continue_final_message", False),
        **{**special, **kwargs},
    )
    return rendered[0]


def materialize(model_dir, tokenizer_name, dest):
    if os.path.abspath(model_dir) != os.path.abspath(dest):
        shutil.copytree(model_dir, dest, dirs_exist_ok=True)
    with gzip.open(os.path.join(ROOT, "tokenizers", f"{tokenizer_name}.json.gz"), "rb") as g:
        with open(os.path.join(dest, "tokenizer.json"), "wb") as f:
            f.write(g.read())


def load_tokenizer(tokenizer_name, config, tmp):
    d = os.path.join(tmp, tokenizer_name + "-" + str(len(os.listdir(tmp))))
    os.makedirs(d)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    materialize(d, tokenizer_name, d)
    return AutoTokenizer.from_pretrained(d)


def tokenized(tok, template, conv, kwargs):
    conv = copy.deepcopy(conv)
    common = dict(
        tools=conv.get("tools"),
        documents=conv.get("documents"),
        chat_template=template,
        add_generation_prompt=conv.get("add_generation_prompt", True),
        continue_final_message=conv.get("continue_final_message", False),
        **kwargs,
    )
    text = tok.apply_chat_template(conv["messages"], tokenize=False, **common)
    ids = tok.apply_chat_template(conv["messages"], tokenize=True, return_dict=False, **common)
    return text, list(ids)


def template_cases(tmp):
    with open(os.path.join(ROOT, "templates.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    out = []
    for t in manifest["templates"]:
        with open(os.path.join(ROOT, "templates", t["file"]), encoding="utf-8") as f:
            template = f.read()
        tok = None
        if "tokenizer" in t:
            tok = load_tokenizer(t["tokenizer"], {"tokenizer_class": "TokenizersBackend", **t["special"]}, tmp)
        for name, conv in CONVERSATIONS.items():
            for kwargs in t["variants"]:
                case = {"template": t["id"], "conversation": name, "kwargs": kwargs, **run(lambda: render(template, t["special"], conv, kwargs))}
                if tok is not None and "text" in case:
                    text, ids = tokenized(tok, template, conv, kwargs)
                    assert text == case["text"], (t["id"], name)
                    case["ids"] = ids
                out.append(case)
    return out


MODEL_CASES = [
    # (model dir, conversation, apply_chat_template kwargs)
    ("qwen3", "system-multi-turn", {}),
    ("qwen3", "tools", {"enable_thinking": False}),
    ("qwen3", "unicode", {}),
    ("mixtral", "system-multi-turn", {}),
    ("mixtral", "unicode", {}),
    ("named", "user", {}),
    ("named", "tools", {}),
    ("named", "user", {"chat_template": "tool_use"}),
    ("additional", "user", {}),
    ("additional", "tools", {}),
    ("additional", "user", {"chat_template": "tool_use"}),
]


def model_cases(tmp):
    with open(os.path.join(ROOT, "models", "tokenizers.json"), encoding="utf-8") as f:
        which = json.load(f)
    toks = {}
    out = []
    for model, name, kwargs in MODEL_CASES:
        if model not in toks:
            dest = os.path.join(tmp, "model-" + model)
            materialize(os.path.join(ROOT, "models", model), which[model], dest)
            toks[model] = AutoTokenizer.from_pretrained(dest)
        tok = toks[model]
        conv = copy.deepcopy(CONVERSATIONS[name])
        common = dict(tools=conv.get("tools"), add_generation_prompt=conv.get("add_generation_prompt", True), **kwargs)
        case = {"model": model, "conversation": name, "kwargs": kwargs}
        case.update(run(lambda: tok.apply_chat_template(conv["messages"], tokenize=False, **common)))
        if "text" in case:
            case["ids"] = list(tok.apply_chat_template(conv["messages"], tokenize=True, return_dict=False, **common))
            case["specialTokensMap"] = tok.special_tokens_map
        out.append(case)
    return out


def round_trip_cases():
    """What each template writes for an assistant turn with a tool call, and with reasoning: the text the
    model is trained to produce after the generation prompt, which the output parsers must read back."""
    with open(os.path.join(ROOT, "templates.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    question = user("What's the weather in Paris?")
    turns = {
        "tool-call": ([question, assistant("", tool_calls=[CALL])], [WEATHER, CLOCK]),
        "reasoning": ([question, assistant("It is sunny.", reasoning_content="The user wants the weather.", thinking="The user wants the weather.")], None),
    }
    out = []
    for t in manifest["templates"]:
        with open(os.path.join(ROOT, "templates", t["file"]), encoding="utf-8") as f:
            template = f.read()
        for kind, (messages, tools) in turns.items():
            conv_prompt = {"messages": messages[:1], "tools": tools}
            conv_full = {"messages": messages, "tools": tools, "add_generation_prompt": False}
            prompt = run(lambda: render(template, t["special"], conv_prompt, {}))
            full = run(lambda: render(template, t["special"], conv_full, {}))
            if "text" not in prompt or "text" not in full:
                continue
            # Where the generation prompt opens more than the written turn keeps (a "<think>\n" the turn
            # drops), the prompt is cut back to what both share: the model's text is read from there.
            p, f = prompt["text"], full["text"]
            n = 0
            while n < min(len(p), len(f)) and p[n] == f[n]:
                n += 1
            if f.rfind("<", 0, n) > f.rfind(">", 0, n):
                n = f.rfind("<", 0, n)  # not inside a marker such as </think>
            out.append({"template": t["id"], "kind": kind, "prompt": f[:n], "completion": f[n:]})
    return out


def jinja_cases():
    """Python Jinja features one at a time, in transformers' environment: what the JS renderer must match."""
    with open(os.path.join(ROOT, "jinja-snippets.json"), encoding="utf-8") as f:
        snippets = json.load(f)
    out = []
    for s in snippets:
        r = run(lambda: ctu._compile_jinja_template(s["source"]).render(**s["variables"]))
        out.append({"name": s["name"], **r})
    return out


def decode_cases(tmp):
    """Byte-level decoding of text whose characters span several tokens: the streamer must never split them."""
    out = []
    with open(os.path.join(ROOT, "models", "tokenizers.json"), encoding="utf-8") as f:
        which = json.load(f)
    for model in ("qwen3", "mixtral"):
        dest = os.path.join(tmp, "decode-" + model)
        materialize(os.path.join(ROOT, "models", model), which[model], dest)
        tok = AutoTokenizer.from_pretrained(dest)
        for text in ("Hi 你好 🙂!", "Ünïcödé «ok» 👩‍👩‍👧 done\nnext line", " leading space and  double"):
            ids = tok.encode(text, add_special_tokens=False)
            out.append({"model": model, "text": text, "ids": ids, "decoded": tok.decode(ids), "withSpecial": tok.encode(text)})
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        expected = {
            "transformers": __import__("transformers").__version__,
            "date": FIXED_NOW.isoformat(),
            "templates": template_cases(tmp),
            "models": model_cases(tmp),
            "decode": decode_cases(tmp),
            "jinja": jinja_cases(),
            "roundTrip": round_trip_cases(),
        }
    with open(os.path.join(ROOT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = [c for c in expected["templates"] if "error" in c]
    print(len(expected["templates"]), "template cases,", len(errors), "refused;", len(expected["models"]), "model cases")
    for c in errors:
        print("  refused:", c["template"], c["conversation"], c["kwargs"], c["error"][:120])


if __name__ == "__main__":
    main()
