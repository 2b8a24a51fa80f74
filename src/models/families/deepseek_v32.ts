import type { Config } from "../../loading/checkpoint.js";
import { intField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { sparseByMlpLayerTypes } from "./common.js";
import { MTP_LAYERS, mlaModel, noauxTcMoe } from "./deepseek_v3.js";
import { DECODER, GROUPED_ROUTING, MLA, MLP_LAYER_TYPES, MTP, ROPE, choice, configSchema, extra, listOf, optional, posInt, routedExperts } from "../config/schema.js";

const indexer = (cfg: Config) => ({
  heads: intField(cfg, ["index_n_heads"], 64),
  headDim: intField(cfg, ["index_head_dim"], 128),
  topK: intField(cfg, ["index_topk"], 2048),
});

const DSA = extra(
  {
    index_n_heads: optional(posInt),
    index_head_dim: optional(posInt),
    index_topk: optional(posInt),
    layer_types: optional(listOf(choice("indexed_attention"))),
  },
  (cfg, report) => {
    const rope = cfg.qk_rope_head_dim as number;
    const dim = (cfg.index_head_dim as number | null | undefined) ?? 128;
    if (rope > dim) report("index_head_dim", `${dim} must be ≥ qk_rope_head_dim ${rope} (the indexer rotates its first qk_rope_head_dim features)`);
    if (cfg.q_lora_rank == null) report("q_lora_rank", "is required: the DSA indexer reads the q latent");
    const types = cfg.layer_types;
    if (Array.isArray(types) && types.length !== cfg.num_hidden_layers) report("layer_types", `must list one entry per layer (num_hidden_layers ${String(cfg.num_hidden_layers)}), got ${types.length}`);
  },
);

const mla = mlaModel(false);

/** DeepSeek-V3 (MLA, noaux_tc routing, shared experts) with DeepSeek sparse attention on every layer. */
export const deepseekV32: FamilyDefinition = {
  modelType: "deepseek_v32",
  config: configSchema(DECODER, ROPE, routedExperts(), GROUPED_ROUTING, MLA, MTP, MLP_LAYER_TYPES, DSA),
  moe: { ...noauxTcMoe(2.5), isSparseLayer: sparseByMlpLayerTypes((cfg, l) => l >= intField(cfg, ["first_k_dense_replace"], 3)) },
  model: { ...mla, attention: (cfg) => ({ kind: "mla", indexer: indexer(cfg) }) },
  unusedByDesign: MTP_LAYERS,
};
