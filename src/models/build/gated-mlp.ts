import { parseActivation } from "../../backends/activation.js";
import type { Checkpoint, Config } from "../../loading/checkpoint.js";
import { concatRows, loadOptional, loadTensor } from "../../loading/fuse.js";
import { field } from "../config/fields.js";
import { GatedMlp } from "../layers/mlp.js";

/** A dense gated MLP stored as {gate,up,down}_proj (optionally with biases) under `prefix`. */
export async function loadGatedMlp(ckpt: Checkpoint, prefix: string, hidden: number, width: number, cfg: Config): Promise<GatedMlp> {
  const g = await loadTensor(ckpt, `${prefix}.gate_proj.weight`, [width, hidden]);
  const u = await loadTensor(ckpt, `${prefix}.up_proj.weight`, [width, hidden]);
  const d = await loadTensor(ckpt, `${prefix}.down_proj.weight`, [hidden, width]);
  const gb = await loadOptional(ckpt, `${prefix}.gate_proj.bias`, [width]);
  const ub = await loadOptional(ckpt, `${prefix}.up_proj.bias`, [width]);
  const db = await loadOptional(ckpt, `${prefix}.down_proj.bias`, [hidden]);
  if (!!gb !== !!ub) throw new Error(`checkpoint '${ckpt.name}': '${prefix}' has a bias on only one of gate_proj / up_proj`);
  const act = parseActivation(field<string>(cfg, ["hidden_act"], "silu"));
  return new GatedMlp(concatRows([g, u]), d, act, gb && ub ? concatRows([gb, ub]) : undefined, db);
}

/**
 * A dense gated MLP stored fused: `${prefix}.input_linear.weight` [2W, H] (gate rows, then up) and
 * `${prefix}.output_linear.weight` [H, W] (granitemoeshared's shared_mlp).
 */
export async function loadFusedGatedMlp(ckpt: Checkpoint, prefix: string, hidden: number, width: number, cfg: Config): Promise<GatedMlp> {
  const gateUp = await loadTensor(ckpt, `${prefix}.input_linear.weight`, [2 * width, hidden]);
  const down = await loadTensor(ckpt, `${prefix}.output_linear.weight`, [hidden, width]);
  return new GatedMlp(gateUp, down, parseActivation(field<string>(cfg, ["hidden_act"], "silu")));
}
