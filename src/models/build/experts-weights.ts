/** A layer's experts weights as the family's checkpoint layout stores them, in moekit's [E, out, in] layout. */
import type { ExpertsWeights } from "../../experts/types.js";
import type { Checkpoint } from "../../loading/checkpoint.js";
import { loadTensor, stackParts, transposeLast2 } from "../../loading/fuse.js";
import { SegmentedStorage, type RowSegment } from "../../formats/segments.js";
import { rowBytes } from "../../formats/table.js";
import { Tensor } from "../../tensor.js";
import { mxfp4FromGptOss } from "../../formats/quant/index.js";
import { intField } from "../config/fields.js";
import { checkpointQuantization } from "./quantization-config.js";
import type { FamilyDefinition } from "../config/family.js";
import { gptOssGateUpStacks } from "../families/gpt_oss.js";

export async function loadExpertsWeights(ckpt: Checkpoint, fam: FamilyDefinition, prefix: string, layer: number): Promise<ExpertsWeights> {
  const cfg = ckpt.config;
  const moe = fam.moe;
  const e = moe.numExperts(cfg, layer);
  const i = moe.intermediateSize(cfg);
  const h = intField(cfg, ["hidden_size"]);
  const gate = moe.gate(cfg);
  const layout = moe.experts;
  if (layout.kind === "perExpert") {
    const ex = (n: number, proj: string) => `${prefix}.experts.${n}.${proj}.weight`;
    const ids = Array.from({ length: e }, (_, n) => n);
    const gateUp = await stackParts(ckpt, ids.map((n) => [ex(n, layout.gate), ex(n, layout.up)]), [[i, h], [i, h]]);
    const down = await stackParts(ckpt, ids.map((n) => [ex(n, layout.down)]), [[h, i]]);
    return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gate };
  }
  if (layout.kind === "flatStacks") {
    const flat = (name: string) => loadTensor(ckpt, `${prefix}.${name}`, [e * i, h]);
    const gateUp = interleaveExpertRows(await flat(layout.gate), await flat(layout.up), e);
    const down = transposeLast2((await flat(layout.down)).reshape([e, i, h]));
    return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gate };
  }
  if (layout.kind === "granite") {
    const gateUp = await loadTensor(ckpt, `${prefix}.input_linear.weight`, [e, 2 * i, h]);
    const down = await loadTensor(ckpt, `${prefix}.output_linear.weight`, [e, h, i]);
    return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gate };
  }
  if (layout.kind === "stackedInOut") {
    const gateUp = transposeLast2(await loadTensor(ckpt, `${prefix}.experts.gate_up_proj`, [e, h, 2 * i]));
    const down = transposeLast2(await loadTensor(ckpt, `${prefix}.experts.down_proj`, [e, i, h]));
    return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gate };
  }
  if (gptOssGateUpStacks(cfg)) {
    // gpt_oss from GGUF: out × in stacks as stored (gate|up a view of llama.cpp's gate and up stacks), concatenated gate
    const stack = (name: string, shape: number[]) => loadTensor(ckpt, `${prefix}.experts.${name}`, shape);
    return {
      numExperts: e,
      hiddenSize: h,
      intermediateSize: i,
      gateUp: await stack("gate_up_proj.weight", [e, 2 * i, h]),
      down: await stack("down_proj.weight", [e, h, i]),
      gateUpBias: await stack("gate_up_proj.bias", [e, 2 * i]),
      downBias: await stack("down_proj.bias", [e, h]),
      gate,
    };
  }
  const gateUpBias = await loadTensor(ckpt, `${prefix}.experts.gate_up_proj_bias`, [e, 2 * i]);
  const downBias = await loadTensor(ckpt, `${prefix}.experts.down_proj_bias`, [e, h]);
  if (checkpointQuantization(cfg, fam) === "mxfp4") {
    // Published gpt-oss: MXFP4 blocks already out × in, kept quantized.
    const gateUp = await mxfp4Stack(ckpt, `${prefix}.experts.gate_up_proj`, e, 2 * i, h);
    const down = await mxfp4Stack(ckpt, `${prefix}.experts.down_proj`, e, h, i);
    return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gateUpBias, downBias, gate };
  }
  // gpt_oss: stored in × out; moekit keeps out × in, so transpose once at load.
  const gateUp = transposeLast2(await loadTensor(ckpt, `${prefix}.experts.gate_up_proj`, [e, h, 2 * i]));
  const down = transposeLast2(await loadTensor(ckpt, `${prefix}.experts.down_proj`, [e, i, h]));
  return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp, down, gateUpBias, downBias, gate };
}

/** `${name}_blocks` [E, rows, cols/32, 16] and `${name}_scales` [E, rows, cols/32] as an mxfp4 [E, rows, cols] tensor. */
async function mxfp4Stack(ckpt: Checkpoint, name: string, e: number, rows: number, cols: number): Promise<Tensor> {
  const blocks = await ckpt.bytes(`${name}_blocks`, { expect: "u8-blocks" });
  const scales = await ckpt.bytes(`${name}_scales`, { expect: "e8m0-scales" });
  const want = [e, rows, cols / 32];
  if (scales.shape.length !== 3 || scales.shape.some((d, j) => d !== want[j])) {
    throw new Error(`checkpoint '${ckpt.name}': '${name}_scales' has shape [${scales.shape.join(", ")}], the config implies [${want.join(", ")}]`);
  }
  return new Tensor([e, rows, cols], "mxfp4", mxfp4FromGptOss(blocks.bytes, scales.bytes, e * rows, cols, `'${name}'`));
}

/** gate [E·I, H] and up [E·I, H] (expert e's rows at e·I) → an [E, 2I, H] view: each expert's gate rows, then its up rows. */
function interleaveExpertRows(gate: Tensor, up: Tensor, e: number): Tensor {
  if (gate.dtype !== up.dtype) throw new Error(`experts gate and up weights differ in dtype (${gate.dtype}, ${up.dtype})`);
  const [rows, h] = gate.shape as [number, number];
  const per = rows / e;
  const bytes = per * rowBytes(gate.dtype, h);
  const g = gate.hostStorage();
  const u = up.hostStorage();
  const segments: RowSegment[] = [];
  for (let x = 0; x < e; x++) segments.push({ data: g, byteOffset: x * bytes, rows: per }, { data: u, byteOffset: x * bytes, rows: per });
  return new Tensor([e, 2 * per, h], gate.dtype, new SegmentedStorage(segments), null);
}
