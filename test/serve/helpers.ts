/** Servers over the tiny chat model (or a scripted one) on loopback, and the official openai client against them. */
import OpenAI from "openai";
import { ModelCache } from "../../src/models/cache/model-cache.js";
import type { SequenceId } from "../../src/models/cache/layer-spec.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import type { MoeForCausalLM } from "../../src/pretrained/moe-for-causal-lm.js";
import type { EngineModel } from "../../src/serve/engine/scheduler.js";
import { ModelServer, type ServerOptions } from "../../src/serve/server.js";
import { Tensor } from "../../src/tensor.js";
import { AutoTokenizer } from "../../src/text/auto-tokenizer.js";
import type { MoekitTokenizer } from "../../src/text/tokenizer-interface.js";
import { chatModelDir } from "../chat/chat-model.js";
import { cpuBackendAvailable } from "../../src/backends/cpu/index.js";

let loaded: { model: MoeForCausalLM; tokenizer: MoekitTokenizer } | undefined;

export async function tinyChat(): Promise<{ model: MoeForCausalLM; tokenizer: MoekitTokenizer }> {
  loaded ??= {
    model: await AutoModelForCausalLM.fromPretrained(chatModelDir(), { backend: cpuBackendAvailable() ? "cpu" : "reference" }),
    tokenizer: await AutoTokenizer.fromPretrained(chatModelDir()),
  };
  return loaded;
}

export async function startServer(opts: Partial<ServerOptions> = {}): Promise<{ server: ModelServer; url: string; client: OpenAI }> {
  const { model, tokenizer } = await tinyChat();
  const server = new ModelServer({ model, tokenizer, modelId: "tiny-qwen3-moe", ...opts });
  const { url } = await server.listen(0, "127.0.0.1");
  return { server, url, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 60_000 }) };
}

/**
 * A model that writes a fixed token script: each step it emits the script token that follows the
 * longest script prefix the sequence ends with (the prompt ends with none, so it starts at the top).
 * It stands in for a trained model where the test is about reading the model's text (reasoning, tool calls).
 */
export class ScriptedModel implements EngineModel {
  readonly maxPositions = 4096;
  readonly rawConfig = {};
  readonly backend = { name: "scripted" };
  private readonly fed = new Map<SequenceId, number[]>();

  constructor(
    readonly vocabSize: number,
    private readonly script: number[],
    readonly generationConfig: Record<string, unknown>,
  ) {}

  newCache(opts = {}): ModelCache {
    return new ModelCache([], opts);
  }

  async forward(ids: Tensor, opts: { cache: ModelCache; sequences: readonly SequenceId[] }): Promise<{ logits: Tensor }> {
    const [b, s] = ids.shape as [number, number];
    const v = (await ids.data()) as Int32Array;
    opts.cache.begin(b, s, opts.sequences).commit();
    const logits = new Float32Array(b * this.vocabSize);
    opts.sequences.forEach((id, row) => {
      const seq = [...(this.fed.get(id) ?? []), ...v.subarray(row * s, (row + 1) * s)];
      this.fed.set(id, seq);
      let k = Math.min(this.script.length - 1, seq.length);
      while (k > 0 && !this.script.slice(0, k).every((t, i) => t === seq[seq.length - k + i])) k--;
      logits[row * this.vocabSize + this.script[k]!] = 1;
    });
    return { logits: Tensor.from(logits, [b, 1, this.vocabSize]) };
  }
}
