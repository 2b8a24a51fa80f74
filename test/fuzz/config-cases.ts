/**
 * config.json mutations and run-time inputs for a fixture model. A config transformers would refuse (or
 * that changes what the checkpoint means) must give a clean error; harmless edits must give the base
 * logits. Phase 2 of the hostile-inputs work extends these lists.
 */
import type { TensorSpec } from "./child.js";
import type { Expect } from "./safetensors-cases.js";

export interface ConfigCase {
  id: string;
  /** Fixture family (test/fixtures/<suite>/<family>). */
  fixture: string;
  expect: Expect;
  /** The new config.json text. */
  config(base: Record<string, unknown>): string;
  /** A refusal must name this (the field at fault), so the message is clear. */
  mentions?: RegExp;
}

/** A forward or generate call with bad inputs on the unmodified fixture model. */
export interface InputCase {
  id: string;
  fixture: string;
  expect: Expect;
  /** input ids (null: forward(null)); default the child's fixed prompt. */
  ids?: TensorSpec | null;
  generate?: { options: Record<string, unknown>; attentionMask?: TensorSpec };
}

const set = (patch: Record<string, unknown>) => (base: Record<string, unknown>) => JSON.stringify({ ...base, ...patch });
const text = (t: string) => () => t;
const without = (key: string) => (base: Record<string, unknown>) => {
  const c = { ...base };
  delete c[key];
  return JSON.stringify(c);
};
const rope = (patch: Record<string, unknown>) => (base: Record<string, unknown>) =>
  JSON.stringify({ ...base, rope_parameters: { ...(base.rope_parameters as Record<string, unknown>), ...patch } });

/** The field a refusal must name, per case (cases not listed may fail with any clean message). */
const MENTIONS: Record<string, string> = {
  "topk-0": "num_experts_per_tok",
  "topk-more-than-experts": "num_experts_per_tok",
  "topk-negative": "num_experts_per_tok",
  "norm-eps-negative": "rms_norm_eps",
  "intermediate-2^40": "intermediate_size|config implies",
  "rope-theta-infinity": "rope_theta",
  "rope-theta-string": "rope_theta",
  "rope-parameters-array": "rope_parameters",
  "rope-parameters-string": "rope_parameters",
  "layers-1e6": "num_hidden_layers",
  "layers-fewer-than-checkpoint": "num_hidden_layers|model\\.layers\\.1",
  "routed-scaling-negative": "routed_scaling_factor",
  "n-group-0": "n_group",
  "topk-group-over-groups": "topk_group",
  "swiglu-limit-negative": "swiglu_limit",
  "sliding-window-0": "sliding_window",
  "yarn-factor-0": "factor",
  "yarn-factor-negative": "factor",
  "experts-0": "num_experts|gate\\.weight",
  "heads-0": "num_attention_heads",
  "model-type-missing": "model_type",
};

export function configCases(): ConfigCase[] {
  const olmoe: [string, Expect, (b: Record<string, unknown>) => string][] = [
    ["unknown-field", "same", set({ some_future_field: [1, 2, 3] })],
    ["null", "error", text("null")],
    ["array", "error", text("[]")],
    ["string", "error", text('"olmoe"')],
    ["not-json", "error", text("{model_type: olmoe}")],
    ["model-type-missing", "error", without("model_type")],
    ["model-type-unknown", "error", set({ model_type: "llama" })],
    ["model-type-number", "error", set({ model_type: 42 })],
    ["layers-0", "error", set({ num_hidden_layers: 0 })],
    ["layers-negative", "error", set({ num_hidden_layers: -1 })],
    ["layers-fractional", "error", set({ num_hidden_layers: 1.5 })],
    ["layers-string", "error", set({ num_hidden_layers: "2" })],
    ["layers-more-than-checkpoint", "error", set({ num_hidden_layers: 3 })],
    ["layers-fewer-than-checkpoint", "error", set({ num_hidden_layers: 1 })],
    ["layers-1e6", "error", set({ num_hidden_layers: 1e6 })],
    ["hidden-0", "error", set({ hidden_size: 0 })],
    ["hidden-negative", "error", set({ hidden_size: -64 })],
    ["hidden-odd", "error", set({ hidden_size: 65 })],
    ["hidden-string", "error", set({ hidden_size: "64" })],
    ["hidden-2^40", "error", set({ hidden_size: 2 ** 40 })],
    ["vocab-0", "error", set({ vocab_size: 0 })],
    ["vocab-2^40", "error", set({ vocab_size: 2 ** 40 })],
    ["heads-0", "error", set({ num_attention_heads: 0 })],
    ["heads-not-dividing", "error", set({ num_attention_heads: 3 })],
    ["kv-heads-not-dividing", "error", set({ num_key_value_heads: 3 })],
    ["head-dim-0", "error", set({ head_dim: 0 })],
    ["experts-0", "error", set({ num_experts: 0 })],
    ["experts-more-than-checkpoint", "error", set({ num_experts: 9 })],
    ["topk-0", "error", set({ num_experts_per_tok: 0 })],
    ["topk-more-than-experts", "error", set({ num_experts_per_tok: 9 })],
    ["topk-negative", "error", set({ num_experts_per_tok: -1 })],
    ["intermediate-0", "error", set({ intermediate_size: 0 })],
    ["intermediate-2^40", "error", set({ intermediate_size: 2 ** 40 })],
    ["norm-eps-negative", "error", set({ rms_norm_eps: -1 })],
    ["norm-eps-string", "error", set({ rms_norm_eps: "1e-6" })],
    ["rope-theta-infinity", "error", (base) => JSON.stringify({ ...base, rope_parameters: { ...(base.rope_parameters as Record<string, unknown>), rope_theta: "THETA" } }).replace('"THETA"', "1e400")],
    ["rope-theta-0", "error", rope({ rope_theta: 0 })],
    ["rope-theta-negative", "error", rope({ rope_theta: -10000 })],
    ["rope-theta-string", "error", rope({ rope_theta: "10000" })],
    ["rope-type-unknown", "error", rope({ rope_type: "spiral" })],
    ["rope-parameters-array", "error", set({ rope_parameters: [] })],
    ["rope-parameters-string", "error", set({ rope_parameters: "default" })],
    ["max-positions-0", "error", set({ max_position_embeddings: 0 })],
    ["tie-embeddings-string", "error", set({ tie_word_embeddings: "yes" })],
    ["act-unknown", "error", set({ hidden_act: "relu6000" })],
  ];
  const mention = (id: string) => (MENTIONS[id] ? new RegExp(MENTIONS[id]) : undefined);
  const cases: ConfigCase[] = olmoe.map(([id, expect, config]) => ({ id: `config/olmoe/${id}`, fixture: "olmoe", expect, config, mentions: mention(id) }));
  const others: [string, string, Expect, (b: Record<string, unknown>) => string][] = [
    ["deepseek_v3", "routed-scaling-negative", "error", set({ routed_scaling_factor: -1 })],
    ["deepseek_v3", "n-group-0", "error", set({ n_group: 0 })],
    ["deepseek_v3", "topk-group-over-groups", "error", set({ topk_group: 99 })],
    ["gpt_oss", "swiglu-limit-negative", "error", set({ swiglu_limit: -1 })],
    ["gpt_oss", "sliding-window-0", "error", set({ sliding_window: 0 })],
    ["gpt_oss", "yarn-factor-0", "error", rope({ factor: 0 })],
    ["gpt_oss", "yarn-factor-negative", "error", rope({ factor: -4 })],
  ];
  for (const [fixture, id, expect, config] of others) cases.push({ id: `config/${fixture}/${id}`, fixture, expect, config, mentions: mention(id) });
  return cases;
}

export function inputCases(): InputCase[] {
  const ids = (values: number[], shape: number[], kind: "int32" | "float32" = "int32") => ({ values, shape, kind });
  return [
    { id: "input/olmoe/id-equal-vocab", fixture: "olmoe", expect: "error", ids: ids([1, 512], [1, 2]) },
    { id: "input/olmoe/id-negative", fixture: "olmoe", expect: "error", ids: ids([1, -1], [1, 2]) },
    { id: "input/olmoe/id-2^31", fixture: "olmoe", expect: "error", ids: ids([2 ** 31 - 1], [1, 1]) },
    { id: "input/olmoe/float-ids", fixture: "olmoe", expect: "error", ids: ids([1, 2], [1, 2], "float32") },
    { id: "input/olmoe/empty", fixture: "olmoe", expect: "error", ids: ids([], [1, 0]) },
    { id: "input/olmoe/rank-1", fixture: "olmoe", expect: "error", ids: ids([1, 2], [2]) },
    { id: "input/olmoe/past-context", fixture: "olmoe", expect: "error", ids: ids(new Array(257).fill(1), [1, 257]) },
    { id: "input/olmoe/null-ids", fixture: "olmoe", expect: "error", ids: null },
    { id: "input/olmoe/generate-greedy", fixture: "olmoe", expect: "either", generate: { options: { maxNewTokens: 3 } } },
    { id: "input/olmoe/temperature-negative", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2, doSample: true, temperature: -5 } } },
    { id: "input/olmoe/seed-nan", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2, doSample: true, seed: NaN } } },
    { id: "input/olmoe/max-new-tokens-fractional", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 1.5 } } },
    { id: "input/olmoe/pad-outside-vocab", fixture: "olmoe", expect: "error", ids: ids([1, 2, 3, 4, 5, 6], [2, 3]), generate: { options: { maxNewTokens: 2, padTokenId: 9999 } } },
    { id: "input/olmoe/mask-float", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2 }, attentionMask: ids([1, 0.5, 1, 1, 1], [1, 5], "float32") } },
    { id: "input/olmoe/mask-all-zero", fixture: "olmoe", expect: "error", generate: { options: { maxNewTokens: 2 }, attentionMask: ids([0, 0, 0, 0, 0], [1, 5]) } },
  ];
}
