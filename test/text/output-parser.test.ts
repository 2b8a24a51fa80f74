import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AutoTokenizer, IncrementalDecoder, createOutputParser, detectOutputFormat, type OutputDelta, type OutputFormatName, type OutputParserOptions, type ParsedOutput } from "../../src/text/index.js";
import { expected, manifest, modelDir, templateSource } from "./chat-fixtures.js";

/** Feeds `text` in chunks of 1, 2, 3, ... 7 characters (cycling), as a stream would, and returns the deltas and result. */
function parseChunked(format: OutputFormatName | { template: string }, text: string, opts: OutputParserOptions = {}, whole = false): { deltas: OutputDelta[]; result: ParsedOutput } {
  const p = createOutputParser(format, opts);
  const deltas: OutputDelta[] = [];
  if (whole) deltas.push(...p.push(text));
  else for (let i = 0, n = 1; i < text.length; i += n, n = (n % 7) + 1) deltas.push(...p.push(text.slice(i, i + n)));
  deltas.push(...p.finish());
  return { deltas, result: p.result };
}

/** The result rebuilt from the deltas alone: what a streaming client would show. */
function fromDeltas(deltas: OutputDelta[]): ParsedOutput {
  const content = deltas.flatMap((d) => (d.type === "content" ? [d.text] : [])).join("");
  const reasoning = deltas.filter((d) => d.type === "reasoning");
  const toolCalls = deltas.flatMap((d) => (d.type === "toolCall" ? [d.call] : []));
  return { content, ...(reasoning.length ? { reasoningContent: reasoning.map((d) => (d as { text: string }).text).join("") } : {}), toolCalls };
}

const WEATHER_ARGS = { city: "Paris", unit: "celsius" };
// turn-end tokens the templates write, which a tokenizer lists among its special tokens
// (and DeepSeek-R1's template writes an empty <｜Assistant｜> turn after a tool call)
const TURN_ENDS = ["<|im_end|>", "<|end|>", "<|endoftext|>", "<|END_OF_TURN_TOKEN|>", "<|end_of_text|>", "[e~[", "</s>", "<｜end▁of▁sentence｜>", "<｜Assistant｜>"];

describe("output parsers read back what each template writes for an assistant turn", () => {
  for (const c of expected.roundTrip) {
    const t = manifest.templates.find((x) => x.id === c.template)!;
    const format = detectOutputFormat(templateSource(t.file));
    it(`${c.template} (${format}): ${c.kind}`, () => {
      const opts = { prompt: c.prompt, dropTokens: [...Object.values(t.special), ...TURN_ENDS] };
      const chunked = parseChunked(format, c.completion, opts);
      const whole = parseChunked(format, c.completion, opts, true);
      assert.deepEqual(chunked.result, whole.result, "chunking does not change the result");
      assert.deepEqual(fromDeltas(chunked.deltas), chunked.result, "the deltas add up to the result");
      const r = chunked.result;
      if (c.kind === "tool-call") {
        const written = c.completion.includes("get_weather");
        assert.deepEqual(r.toolCalls.map((x) => [x.function.name, x.function.arguments]), written ? [["get_weather", WEATHER_ARGS]] : [], JSON.stringify(c.completion));
        assert.equal(r.content, "", `no tool-call syntax left in the content: ${JSON.stringify(r.content)}`);
      } else {
        assert.equal(r.content, "It is sunny.");
        assert.equal(r.reasoningContent, c.completion.includes("The user wants the weather.") ? "The user wants the weather." : undefined);
        assert.deepEqual(r.toolCalls, []);
      }
    });
  }

  it("detects the format of every template", () => {
    const formats = Object.fromEntries(manifest.templates.map((t) => [t.id, detectOutputFormat(templateSource(t.file))]));
    assert.deepEqual(formats, {
      qwen3: "hermes",
      "qwen3-coder": "qwen3-coder",
      "qwen2.5": "hermes",
      "qwen3.5": "qwen3-coder",
      "deepseek-v2": "plain",
      "deepseek-v3.1": "deepseek-v3.1",
      "deepseek-v3.2": "deepseek-v3.2",
      "deepseek-r1": "deepseek-r1",
      "kimi-k2": "kimi-k2",
      gigachat3: "gigachat",
      "gpt-oss": "harmony",
      mixtral: "plain",
      "mistral-nemo": "mistral",
      "granite-3.3": "granite",
      "granite-4.0": "hermes",
      "glm-4.6": "glm",
      "glm-4.7-flash": "glm",
      "minimax-m2": "minimax-m2",
      "phi-3.5": "plain",
      lfm2: "plain",
      "cohere2-moe": "cohere",
    });
  });
});

describe("output parsers on model-like outputs", () => {
  it("Qwen3: thinking, a preamble and two tool calls, streamed", () => {
    const out =
      '<think>\nThe user asks about Paris. I should call get_weather and get_time.\n</think>\n\nLet me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": "{\\"timezone\\": \\"Europe/Paris\\"}"}\n</tool_call><|im_end|>';
    const { deltas, result } = parseChunked("hermes", out, { dropTokens: ["<|im_end|>"] });
    assert.deepEqual(result, {
      content: "Let me check.",
      reasoningContent: "The user asks about Paris. I should call get_weather and get_time.",
      toolCalls: [
        { type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } },
        { type: "function", function: { name: "get_time", arguments: { timezone: "Europe/Paris" } } },
      ],
    });
    assert.deepEqual(deltas.filter((d) => d.type === "toolCall").map((d) => (d as { index: number }).index), [0, 1]);
    assert.ok(deltas.findIndex((d) => d.type === "reasoning") < deltas.findIndex((d) => d.type === "content"), "thinking streams first");
  });

  it("text arrives as it is written: no delta waits for the end, a marker split across chunks is held back", () => {
    const p = createOutputParser("hermes");
    assert.deepEqual(p.push("<thi"), []);
    assert.deepEqual(p.push("nk>Plan"), [{ type: "reasoning", text: "Plan" }]);
    assert.deepEqual(p.push(" more</th"), [{ type: "reasoning", text: " more" }]);
    assert.deepEqual(p.push("ink>\n\nAns"), [{ type: "content", text: "Ans" }]);
    assert.deepEqual(p.push("wer <tool"), [{ type: "content", text: "wer" }]);
    assert.deepEqual(p.push("_cal"), []);
    assert.deepEqual(p.push("ibration is fine"), [{ type: "content", text: " <tool_calibration is fine" }]);
    assert.deepEqual(p.finish(), []);
  });

  it("DeepSeek-R1: the prompt opened <think>, so the output starts in the thinking", () => {
    const prompt = "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n";
    const { result } = parseChunked("deepseek-r1", "Okay, 2+2 is 4.\n</think>\n\nThe answer is **4**.<｜end▁of▁sentence｜>", { prompt, dropTokens: ["<｜end▁of▁sentence｜>"] });
    assert.deepEqual(result, { content: "The answer is **4**.", reasoningContent: "Okay, 2+2 is 4.", toolCalls: [] });
    // and with thinking turned off (Qwen3's enable_thinking=false writes an empty block into the prompt)
    const off = parseChunked("hermes", "Four.", { prompt: "<|im_start|>assistant\n<think>\n\n</think>\n\n" });
    assert.deepEqual(off.result, { content: "Four.", toolCalls: [] });
  });

  it("gpt-oss harmony: analysis is the thinking, final the answer, a message to functions.X a call", () => {
    const prompt = "<|start|>user<|message|>Weather in Paris?<|end|><|start|>assistant";
    const answer = parseChunked("harmony", "<|channel|>analysis<|message|>User wants weather. Answer directly.<|end|><|start|>assistant<|channel|>final<|message|>It is sunny in Paris.<|return|>", { prompt });
    assert.deepEqual(answer.result, { content: "It is sunny in Paris.", reasoningContent: "User wants weather. Answer directly.", toolCalls: [] });
    const call = parseChunked(
      "harmony",
      '<|channel|>analysis<|message|>Need to call get_weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris","unit":"celsius"}<|call|>',
      { prompt },
    );
    assert.deepEqual(call.result, { content: "", reasoningContent: "Need to call get_weather.", toolCalls: [{ type: "function", function: { name: "get_weather", arguments: WEATHER_ARGS } }] });
    const preamble = parseChunked("harmony", "<|channel|>commentary<|message|>Checking the weather now.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{}<|call|>", { prompt });
    assert.deepEqual(preamble.result, { content: "Checking the weather now.", toolCalls: [{ type: "function", function: { name: "get_weather", arguments: {} } }] });
    const python = parseChunked("harmony", "<|channel|>analysis to=python code<|message|>print(2+2)<|call|>", { prompt });
    assert.deepEqual(python.result.toolCalls, [{ type: "function", function: { name: "python", arguments: "print(2+2)" } }]);
    assert.deepEqual(parseChunked("harmony", "Just text, no harmony.", { prompt }).result, { content: "Just text, no harmony.", toolCalls: [] });
  });

  it("never loses text: a broken tool call stays in the content, a cut-off output keeps what it has", () => {
    const broken = parseChunked("hermes", 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": \n</tool_call>');
    assert.equal(broken.result.toolCalls.length, 0);
    assert.match(broken.result.content, /^Sure\.<tool_call>\n\{"name": "get_weather", "arguments": \{"city": \n<\/tool_call>$/);
    const cut = parseChunked("hermes", "<think>\nStill thinking about");
    assert.deepEqual(cut.result, { content: "", reasoningContent: "Still thinking about", toolCalls: [] });
    const cutCall = parseChunked("hermes", '<tool_call>\n{"name": "get_wea');
    assert.deepEqual(cutCall.result, { content: '<tool_call>\n{"name": "get_wea', toolCalls: [] });
    const mistral = parseChunked("mistral", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcDEF123"}]</s>', { dropTokens: ["</s>"] });
    assert.deepEqual(mistral.result.toolCalls, [{ id: "abcDEF123", type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }]);
  });

  it("XML-style arguments are typed by the tool's schema where it is given, else read as JSON when they are", () => {
    const tools = [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: { code: { type: "string" }, n: { type: "integer" } } } } }];
    const glm = "<tool_call>lookup\n<arg_key>code</arg_key>\n<arg_value>007</arg_value>\n<arg_key>n</arg_key>\n<arg_value>3</arg_value>\n</tool_call>";
    assert.deepEqual(parseChunked("glm", glm, { tools }).result.toolCalls[0]!.function.arguments, { code: "007", n: 3 });
    assert.deepEqual(parseChunked("glm", glm.replace("007", "[1, 2]")).result.toolCalls[0]!.function.arguments, { code: [1, 2], n: 3 });
    const coder = "<tool_call>\n<function=lookup>\n<parameter=code>\n42\n</parameter>\n<parameter=n>\nTrue\n</parameter>\n</function>\n</tool_call>";
    assert.deepEqual(parseChunked("qwen3-coder", coder, { tools }).result.toolCalls[0]!.function.arguments, { code: "42", n: true });
    const dsml = '<｜DSML｜function_calls>\n<｜DSML｜invoke name="lookup">\n<｜DSML｜parameter name="code" string="true">42</｜DSML｜parameter>\n<｜DSML｜parameter name="n" string="false">[3]</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>';
    assert.deepEqual(parseChunked("deepseek-v3.2", dsml).result.toolCalls[0]!.function.arguments, { code: "42", n: [3] });
  });

  it("the tokenizer picks the template's format and drops its special tokens", async () => {
    const tok = await AutoTokenizer.fromPretrained(modelDir("qwen3"));
    const prompt = tok.applyChatTemplate([{ role: "user", content: "Weather in Paris?" }], { addGenerationPrompt: true, tokenize: false });
    const ids = tok.encode('<think>\nCall the tool.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>', { addSpecialTokens: false });
    assert.ok(ids.includes(tok.tokenToId("<think>")!) && ids.includes(tok.tokenToId("<|im_end|>")!));
    const r = tok.parseOutput(ids, { prompt });
    assert.deepEqual(r, { content: "", reasoningContent: "Call the tool.", toolCalls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }] });
    assert.ok(tok.specialTokenStrings().includes("<|im_end|>") && !tok.specialTokenStrings().includes("<think>"));
    // token by token, as generation gives them: the decoder keeps the markers, the parser reads them
    const parser = tok.createOutputParser({ prompt });
    const text = new IncrementalDecoder(tok, { skipSpecialTokens: false });
    for (const id of ids) parser.push(text.push(id));
    parser.push(text.flush());
    parser.finish();
    assert.deepEqual(parser.result, r);
    assert.throws(() => createOutputParser("nonsense" as OutputFormatName), /unknown output format 'nonsense'/);
  });
});
