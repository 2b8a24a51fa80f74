/**
 * The `model` scope: a whole causal-LM forward through AutoModelForCausalLM, which lives in another
 * part of moekit and is looked up at run time; until it exists the scope fails with a clear message.
 */
import type { Backend } from "../backends/backend.js";
import { bytesPerElement, type DType } from "../dtype.js";
import { Checkpoint, type Config } from "../loading/checkpoint.js";
import type { TensorReadOptions } from "../loading/safetensors.js";
import { intField } from "../models/config/fields.js";
import { familyFor } from "../models/families/index.js";
import { numel, Tensor } from "../tensor.js";
import type { CaseSpec } from "./case-spec.js";
import { seedOf } from "./random.js";
import type { Subject } from "./subject.js";
import type { MoeDims } from "./work-model.js";

interface CausalLm {
  forward(inputIds: Tensor): unknown;
}
interface CausalLmClass {
  fromPretrained(source: Checkpoint | string, opts: { backend: Backend; expertsImplementation: string }): Promise<CausalLm>;
}

export const MODEL_SCOPE_MISSING =
  "--scope model needs AutoModelForCausalLM (whole-model forward), which this build of moekit does not have yet; use --scope experts or --scope block";

/** AutoModelForCausalLM from the package index, or undefined when it does not exist yet. */
export async function findCausalLm(): Promise<CausalLmClass | undefined> {
  const url = new URL(`../index${/\.ts$/.test(import.meta.url) ? ".ts" : ".js"}`, import.meta.url).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const cls = mod.AutoModelForCausalLM as Partial<CausalLmClass> | undefined;
  return cls && typeof cls.fromPretrained === "function" ? (cls as CausalLmClass) : undefined;
}

export function dimsFromConfig(cfg: Config, dtype: DType): MoeDims {
  const fam = familyFor(cfg.model_type);
  const total = intField(cfg, ["num_hidden_layers"]);
  let layer = 0;
  while (layer < total - 1 && !fam.moe.isSparseLayer(cfg, layer)) layer++;
  const hidden = intField(cfg, ["hidden_size"]);
  const heads = intField(cfg, ["num_attention_heads"]);
  return {
    hidden,
    experts: fam.moe.numExperts(cfg, layer),
    intermediate: fam.moe.intermediateSize(cfg),
    topK: fam.moe.router.rule(cfg, layer).k,
    gated: fam.moe.gate(cfg).kind !== "none",
    sharedWidth: fam.moe.shared ? fam.moe.shared.width(cfg) : 0,
    sharedGate: !!fam.moe.shared?.gateKey,
    weightBytes: bytesPerElement(dtype),
    heads,
    kvHeads: intField(cfg, ["num_key_value_heads"], heads),
    headDim: intField(cfg, ["head_dim"], hidden / heads),
    vocab: intField(cfg, ["vocab_size"]),
  };
}

/** The checkpoint cut to its first `layers` decoder layers (the config says so; extra keys stay unread). */
function truncated(ckpt: Checkpoint, layers: number): Checkpoint {
  const total = intField(ckpt.config, ["num_hidden_layers"]);
  if (layers >= total) return ckpt;
  const keep = ckpt.keys().filter((k) => {
    const m = /^model\.layers\.(\d+)\./.exec(k);
    return !m || Number(m[1]) < layers;
  });
  const provider = { info: (k: string) => ckpt.info(k), tensor: (k: string, opts?: TensorReadOptions) => ckpt.tensor(k, opts) };
  return new Checkpoint(ckpt.name, { ...ckpt.config, num_hidden_layers: layers }, new Map(keep.map((k) => [k, provider])), ckpt.generationConfig);
}

export async function loadCausalLm(ckpt: Checkpoint, spec: CaseSpec, backend: Backend): Promise<Subject> {
  const cls = await findCausalLm();
  if (!cls) throw new Error(MODEL_SCOPE_MISSING);
  const cut = truncated(ckpt, spec.layers);
  const model = await cls.fromPretrained(cut, { backend, expertsImplementation: spec.impl });
  const vocab = intField(cut.config, ["vocab_size"]);
  const t = spec.batch * spec.seq;
  let s = seedOf("ids", spec.seed);
  const ids = Int32Array.from({ length: t }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % vocab);
  const inputIds = backend.fromHost(ids, [spec.batch, spec.seq], "int32");
  const st = cut.info(cut.keys().find((k) => k.endsWith(".weight")) ?? cut.keys()[0]!).stored;
  const dtype: DType = spec.dtype ?? (st === "BF16" ? "bfloat16" : st === "F16" ? "float16" : "float32");
  const weightBytes = cut.keys().reduce((a, k) => a + numel(cut.info(k).shape) * bytesPerElement(dtype), 0);
  return {
    dims: dimsFromConfig(cut.config, dtype),
    dtype,
    layers: intField(cut.config, ["num_hidden_layers"]),
    weightBytes,
    async run() {
      const out = (await model.forward(inputIds)) as Tensor | { logits: Tensor };
      const logits = out instanceof Tensor ? out : out.logits;
      if (logits && !logits.isHost) await backend.read(logits);
    },
  };
}
