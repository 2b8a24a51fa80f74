import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoTokenizer, ChatTemplateError, renderChatTemplate, type TextTokenizer } from "../../src/text/index.js";
import { CHAT, CONVERSATIONS, expected, manifest, modelDir, templateSource, tokenizerJson, type ExpectedCase } from "./chat-fixtures.js";

const date = new Date(expected.date);

function optionsOf(c: ExpectedCase) {
  const conv = CONVERSATIONS[c.conversation]!;
  return { conv, opts: { tools: conv.tools, documents: conv.documents, addGenerationPrompt: conv.add_generation_prompt ?? true, continueFinalMessage: conv.continue_final_message, currentDate: date } };
}

/** transformers' TemplateError carries the template's own words; other Python errors have no JS twin, only "it refused". */
function assertRefusal(run: () => unknown, pythonError: string): void {
  assert.throws(run, (e: Error) => {
    if (pythonError.startsWith("TemplateError: ")) return e instanceof ChatTemplateError && e.message === pythonError.slice("TemplateError: ".length);
    return e instanceof ChatTemplateError || e instanceof TypeError;
  });
}

describe("chat templates of our families render as transformers renders them", () => {
  const tokenizers = new Map<string, TextTokenizer>();
  const tokenizerFor = (name: string, special: Record<string, string>) => {
    const key = `${name} ${JSON.stringify(special)}`;
    if (!tokenizers.has(key)) {
      tokenizers.set(key, AutoTokenizer.fromFiles({ tokenizerJson: JSON.parse(tokenizerJson(name).toString("utf8")), tokenizerConfig: { ...special }, source: name }));
    }
    return tokenizers.get(key)!;
  };

  for (const t of manifest.templates) {
    it(`${t.id} (${t.file}, ${t.family})`, () => {
      const source = templateSource(t.file);
      const cases = expected.templates.filter((c) => c.template === t.id);
      assert.ok(cases.length >= 8, `${t.id} has fixtures`);
      for (const c of cases) {
        const { conv, opts } = optionsOf(c);
        const what = `${t.id} / ${c.conversation} / ${JSON.stringify(c.kwargs)}`;
        const render = () => renderChatTemplate(source, conv.messages, opts, { ...t.special, ...c.kwargs });
        if (c.error !== undefined) {
          assertRefusal(render, c.error);
          continue;
        }
        assert.equal(render(), c.text, what);
        if (c.ids) {
          const tok = tokenizerFor(t.tokenizer!, t.special);
          assert.deepEqual(tok.applyChatTemplate(conv.messages, { ...opts, chatTemplate: source, ...c.kwargs }), c.ids, `${what}: token ids`);
        }
      }
    });
  }
});

describe("AutoTokenizer.fromPretrained(dir).applyChatTemplate", () => {
  const groups = [...new Set(expected.models.map((c) => c.model!))];
  for (const model of groups) {
    it(`${model}: text, ids and special tokens as transformers gives them`, async () => {
      const tok = await AutoTokenizer.fromPretrained(modelDir(model!));
      for (const c of expected.models.filter((x) => x.model === model)) {
        const { conv, opts } = optionsOf(c);
        const { chat_template: chatTemplate, ...kwargs } = c.kwargs as { chat_template?: string };
        const all = { tools: conv.tools, addGenerationPrompt: opts.addGenerationPrompt, chatTemplate, ...kwargs };
        const what = `${model} / ${c.conversation} / ${JSON.stringify(c.kwargs)}`;
        if (c.error !== undefined) {
          assertRefusal(() => tok.applyChatTemplate(conv.messages, { ...all, tokenize: false }), c.error);
          continue;
        }
        assert.equal(tok.applyChatTemplate(conv.messages, { ...all, tokenize: false }), c.text, what);
        assert.deepEqual(tok.applyChatTemplate(conv.messages, all), c.ids, `${what}: ids`);
        assert.deepEqual(tok.specialTokens, c.specialTokensMap, `${what}: special tokens`);
      }
    });
  }

  it("chat_template.jinja wins over tokenizer_config.json's chat_template", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelDir("qwen3"));
    assert.equal(tok.chatTemplate, templateSource("Qwen-Qwen3-0.6B.jinja"));
  });

  it("the rendered template is tokenized without a second BOS (Mixtral's tokenizer adds <s> to plain text)", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelDir("mixtral"));
    const bos = tok.tokenToId("<s>")!;
    assert.equal(bos, 1);
    assert.equal(tok.encode("Hello")[0], bos, "plain text gets a BOS from the post-processor");
    const ids = tok.applyChatTemplate([{ role: "user", content: "Hello" }], { addGenerationPrompt: true });
    assert.equal(ids[0], bos);
    assert.notEqual(ids[1], bos, "the template's own <s> is the only one");
    assert.equal(ids.filter((id) => id === bos).length, 1);
  });

  it("picks named templates: tool_use when tools are given, else default; a name or a source string chooses", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelDir("named"));
    assert.deepEqual(Object.keys(tok.chatTemplate as object).sort(), ["default", "tool_use"]);
    const source = "{{ 'custom:' + messages[0].content }}";
    assert.equal(tok.applyChatTemplate([{ role: "user", content: "x" }], { chatTemplate: source, tokenize: false }), "custom:x");
    const nameless = AutoTokenizer.fromFiles({ tokenizerJson: JSON.parse(tokenizerJson("qwen3-bpe").toString("utf8")), tokenizerConfig: { chat_template: [{ name: "a", template: "A" }, { name: "b", template: "B" }] } });
    assert.throws(() => nameless.applyChatTemplate([{ role: "user", content: "x" }], { tokenize: false }), /several chat templates \(a, b\) and none is named 'default'/);
    assert.equal(nameless.applyChatTemplate([{ role: "user", content: "x" }], { chatTemplate: "b", tokenize: false }), "B");
  });

  it("passes template kwargs through and lets them override special tokens", async () => {
    const tok = AutoTokenizer.fromFiles({
      tokenizerJson: JSON.parse(tokenizerJson("qwen3-bpe").toString("utf8")),
      tokenizerConfig: { eos_token: "<|im_end|>", chat_template: "{{ eos_token }}|{{ enable_thinking }}|{{ reasoning_effort | default('medium') }}|{{ strftime_now('%B %d, %Y') }}" },
    });
    const m = [{ role: "user", content: "x" }];
    assert.equal(tok.applyChatTemplate(m, { tokenize: false, currentDate: new Date(2025, 2, 7) }), "<|im_end|>||medium|March 07, 2025");
    assert.equal(tok.applyChatTemplate(m, { tokenize: false, currentDate: new Date(2025, 2, 7), enable_thinking: false, reasoning_effort: "high", eos_token: "E" }), "E|False|high|March 07, 2025");
  });

  it("clear errors: no template, empty or malformed conversations, incompatible options, a missing GGUF file, no tokenizer.json", async () => {
    const bare = AutoTokenizer.fromFiles({ tokenizerJson: JSON.parse(tokenizerJson("llama-spm").toString("utf8")), tokenizerConfig: {} });
    assert.throws(() => bare.applyChatTemplate([{ role: "user", content: "x" }]), /has no chat template/);
    const tok = await AutoTokenizer.fromPretrained(modelDir("qwen3"));
    assert.throws(() => tok.applyChatTemplate([]), /empty conversation/);
    assert.throws(() => tok.applyChatTemplate("hello" as never), /messages must be an array/);
    assert.throws(() => tok.applyChatTemplate([{ content: "x" } as never]), /message 0 has no string role/);
    assert.throws(() => tok.applyChatTemplate([{ role: "user", content: "x" }], { tools: "get_weather" as never }), /tools must be an array of objects/);
    assert.throws(() => tok.applyChatTemplate([{ role: "assistant", content: "x" }], { continueFinalMessage: true, addGenerationPrompt: true }), /not compatible/);
    assert.throws(() => tok.applyChatTemplate([{ role: "user", content: "x" }], { chatTemplate: "{% if %}" }), /chat template given as a string does not parse/);
    await assert.rejects(AutoTokenizer.fromPretrained("/models/qwen3-30b-a3b-q4_k_m.gguf"), /GGUF file .*qwen3-30b-a3b-q4_k_m\.gguf. does not exist/);
    await assert.rejects(AutoTokenizer.fromPretrained(CHAT), /has no tokenizer\.json/);
  });
});
