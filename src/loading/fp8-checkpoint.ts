/**
 * Block-scaled FP8 checkpoints (`quantization_config.quant_method "fp8"`, as DeepSeek-V3 and Qwen3 "-FP8" ship
 * them): every tensor stored F8_E4M3 is read, with its `weight_scale_inv` (128×128 tiles), as one
 * fp8_e4m3_b128 tensor under its own name, so the family loaders see a block-format weight like a GGUF one and
 * the model keeps it in FP8. The scale tensors are consumed by their weights; everything else passes through.
 * With `widenTo` (fromPretrained's `dequantize: true`, as transformers' FineGrainedFP8Config(dequantize=True)),
 * each fp8 weight is widened at read to that float dtype instead: weight · scale_inv per 128×128 tile in float32,
 * then rounded to the dtype (round to nearest even), tensor by tensor.
 *
 * The pairing and every shape are checked from the headers when the view is made, before anything is read: an
 * fp8 weight without its scale tensor, a scale tensor of the wrong shape or dtype, a scale without an fp8
 * weight, rows that are not whole 128-blocks are errors naming the tensor.
 */
import { narrowFromF32 } from "../dtype.js";
import { alignedBytes } from "../formats/aligned.js";
import { fp8FromCheckpoint } from "../formats/quant/index.js";
import { weightRows } from "../formats/rows.js";
import { shapeString, Tensor } from "../tensor.js";
import { briefName } from "./brief.js";
import { Checkpoint, type TensorProvider } from "./checkpoint.js";
import { FP8_BLOCK_STORED } from "./safetensors-dtypes.js";
import type { TensorInfo } from "./safetensors-header.js";

const TILE = 128;
const FLOAT_SCALES = ["F32", "BF16", "F16"];

/** The scale tensor of an fp8 tensor, named as transformers' fine-grained FP8 names it. */
export function scaleKeyOf(key: string): string {
  return key.endsWith(".weight") ? `${key.slice(0, -".weight".length)}.weight_scale_inv` : `${key}_scale_inv`;
}

/** [..., ceil(N/128), ceil(K/128)]: the scale grid of an fp8 weight [..., N, K]. */
function scaleShape(shape: readonly number[]): number[] {
  const n = shape[shape.length - 2]!;
  const k = shape[shape.length - 1]!;
  return [...shape.slice(0, -2), Math.ceil(n / TILE), Math.ceil(k / TILE)];
}

/** The float dtypes an fp8 checkpoint can be widened to, with their safetensors names. */
export const FP8_WIDEN_TARGETS = { float32: "F32", bfloat16: "BF16", float16: "F16" } as const;
export type Fp8WidenTarget = keyof typeof FP8_WIDEN_TARGETS;

/**
 * `ckpt` with its F8_E4M3 tensors paired with their scales as fp8_e4m3_b128 tensors, or widened to `widenTo`
 * (a float dtype) where given.
 */
export function fp8Checkpoint(ckpt: Checkpoint, widenTo?: Fp8WidenTarget): Checkpoint {
  const where = `checkpoint '${ckpt.name}'`;
  const providers = new Map<string, TensorProvider>();
  const scales = new Set<string>();
  for (const key of ckpt.keys()) {
    const info = ckpt.info(key);
    if (info.stored !== "F8_E4M3") continue;
    const scaleKey = scaleKeyOf(key);
    if (info.shape.length < 2) throw new Error(`${where}: fp8 tensor ${briefName(key)} has shape ${shapeString(info.shape)}; only matrices (or stacks of them) are block-scaled`);
    const k = info.shape[info.shape.length - 1]!;
    if (k % TILE !== 0) throw new Error(`${where}: fp8 weight ${briefName(key)} ${shapeString(info.shape)} has rows of ${k} values; moekit's fp8_e4m3_b128 needs a multiple of ${TILE}`);
    if (!ckpt.has(scaleKey)) throw new Error(`${where}: fp8 weight ${briefName(key)} has no scale tensor ${briefName(scaleKey)}`);
    const s = ckpt.info(scaleKey);
    const want = scaleShape(info.shape);
    if (s.shape.length !== want.length || s.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${where}: ${briefName(scaleKey)} has shape ${shapeString(s.shape)}; 128x128 tiles of ${briefName(key)} ${shapeString(info.shape)} need ${shapeString(want)}`);
    }
    if (!FLOAT_SCALES.includes(s.stored) && s.stored !== "F8_E8M0") {
      throw new Error(`${where}: ${briefName(scaleKey)} has dtype ${s.stored}; fp8 block scales are ${[...FLOAT_SCALES, "F8_E8M0"].join(", ")}`);
    }
    scales.add(scaleKey);
    providers.set(key, fp8Provider(ckpt, key, scaleKey, info, widenTo));
  }
  for (const key of ckpt.keys()) {
    if (providers.has(key) || scales.has(key)) continue;
    if (/_scale_inv$/.test(key)) {
      const weight = key.slice(0, -"_scale_inv".length);
      const stored = ckpt.has(weight) ? ckpt.info(weight).stored : undefined;
      throw new Error(`${where}: ${briefName(key)} scales ${briefName(weight)}, which is ${stored === undefined ? "not in the checkpoint" : `stored ${stored}, not F8_E4M3`}`);
    }
    providers.set(key, {
      info: () => ckpt.info(key),
      tensor: (_name, opts) => ckpt.tensor(key, opts),
      bytes: (_name, opts) => ckpt.bytes(key, opts),
    });
  }
  return new Checkpoint(ckpt.name, ckpt.config, providers, ckpt.generationConfig);
}

function fp8Provider(ckpt: Checkpoint, key: string, scaleKey: string, info: TensorInfo, widenTo: Fp8WidenTarget | undefined): TensorProvider {
  const shape = [...info.shape];
  const k = shape[shape.length - 1]!;
  const n = shape[shape.length - 2]!;
  const stacks = shape.slice(0, -2).reduce((a, d) => a * d, 1);
  const blocks = async (): Promise<Tensor> => {
    const codes = (await ckpt.bytes(key, { expect: "fp8" })).bytes;
    const scales = await readScales(ckpt, scaleKey);
    const per = Math.ceil(n / TILE) * (k / TILE);
    const rowBytes = (k / TILE) * (TILE + 4);
    const out = alignedBytes(stacks * n * rowBytes);
    for (let e = 0; e < stacks; e++) {
      const one = fp8FromCheckpoint(codes.subarray(e * n * k, (e + 1) * n * k), scales.subarray(e * per, (e + 1) * per), n, k, `${briefName(key)}${stacks > 1 ? `[${e}]` : ""}`);
      out.set(one, e * n * rowBytes);
    }
    return new Tensor(shape, "fp8_e4m3_b128", out, null);
  };
  if (widenTo === undefined) return { info: () => ({ ...info, stored: FP8_BLOCK_STORED }), tensor: blocks };
  return {
    info: () => ({ ...info, stored: FP8_WIDEN_TARGETS[widenTo] }),
    async tensor() {
      const floats = weightRows(await blocks(), 0, stacks * n);
      return new Tensor(shape, widenTo, widenTo === "float32" ? floats : narrowFromF32(floats, widenTo), null);
    },
  };
}

/** A scale tensor as float32: float dtypes widened, e8m0 exponents (scale_fmt "ue8m0") as 2^(e − 127). */
async function readScales(ckpt: Checkpoint, scaleKey: string): Promise<Float32Array> {
  if (ckpt.info(scaleKey).stored !== "F8_E8M0") {
    const t = await ckpt.tensor(scaleKey);
    return Float32Array.from(weightRows(t.reshape([t.size]), 0, 1));
  }
  const raw = (await ckpt.bytes(scaleKey, { expect: "e8m0-scales" })).bytes;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 255) throw new Error(`checkpoint '${ckpt.name}': ${briefName(scaleKey)}[${i}] is the e8m0 NaN (255)`);
    out[i] = 2 ** (raw[i]! - 127);
  }
  return out;
}
