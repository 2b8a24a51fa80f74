/**
 * A gpt-oss checkpoint as published (experts as MXFP4 `*_blocks` / `*_scales`, quant_method "mxfp4"),
 * made from the float gpt_oss fixture: each expert stack quantized by moekit's mxfp4 quantizer and
 * written in gpt-oss's nibble layout.
 */
import { quantizeRows } from "../../src/formats/quant/index.js";
import { FileSource } from "../../src/loading/node-files.js";
import { SafetensorsFile } from "../../src/loading/safetensors.js";
import { join } from "node:path";
import { editedCopy, type RawStored } from "../models/checkpoint-copies.js";

/** x [E, a, b] → [E, b, a]. */
export function transpose(x: Float32Array, e: number, a: number, b: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let n = 0; n < e; n++) for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[n * a * b + j * a + i] = x[n * a * b + i * b + j]!;
  return out;
}

/** ggml mxfp4 bytes of [rows, cols] → gpt-oss's blocks [.., cols/32, 16] (two codes a byte, in order) and e8m0 scales. */
export function gptOssBlocks(ggml: Uint8Array, shape: [number, number, number]): { blocks: RawStored; scales: RawStored } {
  const [e, rows, cols] = shape;
  const groups = (e * rows * cols) / 32;
  const blocks = new Uint8Array(groups * 16);
  const scales = new Uint8Array(groups);
  for (let g = 0; g < groups; g++) {
    scales[g] = ggml[g * 17]!;
    const code = (j: number) => (j < 16 ? ggml[g * 17 + 1 + j]! & 15 : ggml[g * 17 + 1 + j - 16]! >>> 4);
    for (let j = 0; j < 16; j++) blocks[g * 16 + j] = code(2 * j) | (code(2 * j + 1) << 4);
  }
  return { blocks: { dtype: "U8", shape: [e, rows, cols / 32, 16], bytes: blocks }, scales: { dtype: "U8", shape: [e, rows, cols / 32], bytes: scales } };
}

/** The quantization_config of a published gpt-oss checkpoint (attention, router, embeddings and lm head stay float). */
export const MXFP4_CONFIG = { quant_method: "mxfp4", modules_to_not_convert: ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"] };

/** The published copy of the checkpoint directory `src` (a temporary directory: remove it after use). */
export async function publishedGptOss(src: string): Promise<string> {
  const file = await SafetensorsFile.open(new FileSource(join(src, "model.safetensors")));
  const add: Record<string, RawStored> = {};
  const drop: string[] = [];
  for (const key of file.keys().filter((k) => /experts\.(gate_up|down)_proj$/.test(k))) {
    const t = await file.tensor(key);
    const [e, inF, out] = t.shape as [number, number, number];
    const ggml = quantizeRows(transpose(t.storage as Float32Array, e, inF, out), e * out, inF, "mxfp4");
    const p = gptOssBlocks(ggml, [e, out, inF]);
    add[`${key}_blocks`] = p.blocks;
    add[`${key}_scales`] = p.scales;
    drop.push(key);
  }
  if (drop.length < 2) throw new Error(`${src}: no gpt-oss expert stacks to publish`);
  return editedCopy(src, { drop, add, config: { quantization_config: MXFP4_CONFIG } });
}
