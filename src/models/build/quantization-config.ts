/**
 * A checkpoint's `quantization_config` (config.json): which published quantized layouts moekit loads as stored.
 * - quant_method "mxfp4" (gpt-oss): the experts as `*_blocks` (uint8 [E, out, in/32, 16], two FP4 e2m1 codes a
 *   byte) and `*_scales` (e8m0 [E, out, in/32]), converted to moekit's mxfp4 blocks without a float round trip;
 *   everything else is float.
 * - quant_method "fp8" (transformers' fine-grained FP8: DeepSeek-V3, Qwen3 "-FP8"): F8_E4M3 weights with
 *   `weight_scale_inv` over 128×128 tiles (`weight_block_size` [128, 128], fmt e4m3, dynamic activations), read as
 *   fp8_e4m3_b128 weights (src/loading/fp8-checkpoint.ts); which tensors are fp8 is what the file stores
 *   (`modules_to_not_convert` names the rest: embeddings, norms, routers, the lm head).
 * - quant_method "moekit" (written by `moekit quantize`): `dtype` (the load dtype it was quantized with) and
 *   `formats` (checkpoint key → block format) of the matrices stored quantized as U8 rows of blocks
 *   (src/loading/moekit-quant-checkpoint.ts); it loads with that dtype by default, so a float matrix left in the
 *   file (one moekit stores transposed) is quantized at load as `fromPretrained(float dir, { dtype })` would.
 * Any other quant_method, or fp8 settings moekit's format cannot hold, are refused by name before anything is read.
 */
import type { Checkpoint, Config } from "../../loading/checkpoint.js";
import { FP8_WIDEN_TARGETS, fp8Checkpoint, type Fp8WidenTarget } from "../../loading/fp8-checkpoint.js";
import { moekitQuantCheckpoint } from "../../loading/moekit-quant-checkpoint.js";
import { isQuantDType, QUANT_DTYPES, type QuantDType } from "./quantize.js";
import type { FamilyDefinition } from "../config/family.js";

export type CheckpointQuantization = "none" | "mxfp4" | "fp8" | "moekit";

const METHODS = ["mxfp4", "fp8", "moekit"];

/** The quant_method of a raw config.json, its settings checked ("none" without a quantization_config). */
export function quantMethod(raw: Config): CheckpointQuantization {
  const q = (raw as Record<string, unknown>).quantization_config;
  if (q === undefined || q === null) return "none";
  if (typeof q !== "object" || Array.isArray(q)) throw new Error(`config.json: quantization_config must be an object, got ${JSON.stringify(q)}`);
  const c = q as Record<string, unknown>;
  const method = c.quant_method;
  if (method === "mxfp4") return "mxfp4";
  if (method === "fp8") {
    checkFp8Settings(c);
    return "fp8";
  }
  if (method === "moekit") {
    moekitSettings(c);
    return "moekit";
  }
  throw new Error(`config.json: quantization_config.quant_method ${JSON.stringify(method)} is not supported (moekit loads checkpoints quantized with ${METHODS.map((m) => `"${m}"`).join(" or ")} as stored)`);
}

function checkFp8Settings(c: Record<string, unknown>): void {
  const at = "config.json: quantization_config";
  const block = c.weight_block_size;
  if (!Array.isArray(block) || block.length !== 2 || block[0] !== 128 || block[1] !== 128) {
    throw new Error(`${at}.weight_block_size is ${JSON.stringify(block ?? null)}; moekit loads fp8 checkpoints with 128x128 block scales ([128, 128])`);
  }
  if (c.fmt !== undefined && c.fmt !== "e4m3") throw new Error(`${at}.fmt is ${JSON.stringify(c.fmt)}; moekit's fp8 weights are e4m3`);
  if (c.activation_scheme !== undefined && c.activation_scheme !== "dynamic") {
    throw new Error(`${at}.activation_scheme is ${JSON.stringify(c.activation_scheme)}; moekit loads fp8 weights with "dynamic" activations (no stored activation scales)`);
  }
  if (c.scale_fmt !== undefined && c.scale_fmt !== null && c.scale_fmt !== "float" && c.scale_fmt !== "ue8m0") {
    throw new Error(`${at}.scale_fmt is ${JSON.stringify(c.scale_fmt)}; known are "float" and "ue8m0"`);
  }
  const skip = c.modules_to_not_convert;
  if (skip !== undefined && skip !== null && (!Array.isArray(skip) || skip.some((m) => typeof m !== "string"))) {
    throw new Error(`${at}.modules_to_not_convert must be a list of module names, got ${JSON.stringify(skip)}`);
  }
}

/** A "moekit" quantization_config: its load dtype and the format of each stored block tensor. */
export function moekitSettings(c: Record<string, unknown>): { dtype: QuantDType; formats: Record<string, string> } {
  const at = "config.json: quantization_config";
  if (!isQuantDType(c.dtype)) throw new Error(`${at}.dtype is ${JSON.stringify(c.dtype ?? null)}; moekit quantizes to ${QUANT_DTYPES.join(", ")}`);
  const f = c.formats;
  if (f === null || typeof f !== "object" || Array.isArray(f) || Object.values(f).some((v) => typeof v !== "string")) {
    throw new Error(`${at}.formats must map tensor names to block format names, got ${JSON.stringify(f ?? null).slice(0, 80)}`);
  }
  return { dtype: c.dtype, formats: f as Record<string, string> };
}

/** The load dtype a checkpoint's own quantization implies: a "moekit" checkpoint's dtype, else "auto". */
export function storedLoadDType(raw: Config): QuantDType | "auto" {
  return quantMethod(raw) === "moekit" ? moekitSettings(raw.quantization_config as Record<string, unknown>).dtype : "auto";
}

/** The quantization of a checkpoint of family `fam` (quantMethod, plus the family check of mxfp4). */
export function checkpointQuantization(raw: Config, fam: FamilyDefinition): CheckpointQuantization {
  const method = quantMethod(raw);
  if (method === "mxfp4" && fam.moe.experts.kind !== "gptOss") {
    throw new Error(`config.json: quantization_config.quant_method "mxfp4" is the gpt-oss experts layout; a ${fam.modelType} checkpoint cannot use it`);
  }
  return method;
}

/**
 * The checkpoint as the loaders read it: an fp8 checkpoint's weights paired with their scales (or widened, with
 * `dequantize`), else itself. `dtype` is the load option as given. On an fp8 checkpoint, `dequantize: true`
 * widens every fp8 weight at read to `dtype` when that is a float dtype, else to the config's own `dtype` /
 * `torch_dtype` (bfloat16 where it names none), as transformers' FineGrainedFP8Config(dequantize=True) loads it
 * in the model's dtype; a float `dtype` without dequantize, or a quantized one with it, is refused by name.
 * `dequantize: true` on a checkpoint without quantization_config needs a quantized dtype (it then widens the
 * matrices quantized at load back to float32, weights.ts).
 */
export function storedQuantization(ckpt: Checkpoint, opts: { dequantize?: boolean; dtype?: unknown } = {}): Checkpoint {
  const raw: unknown = ckpt.config;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return ckpt;
  const method = quantMethod(ckpt.config);
  const floatDtype = typeof opts.dtype === "string" && Object.hasOwn(FP8_WIDEN_TARGETS, opts.dtype) ? (opts.dtype as Fp8WidenTarget) : undefined;
  if (opts.dequantize === true && !isQuantDType(opts.dtype)) {
    if (method === "none") {
      throw new Error(`dequantize: true widens a quantized checkpoint's weights, but '${ckpt.name}' has no quantization_config in config.json (with a quantized dtype it widens the matrices quantized at load)`);
    }
    if (method === "mxfp4") throw new Error(`dequantize: true widens quant_method "fp8" checkpoints; '${ckpt.name}' is "mxfp4", which moekit keeps as stored`);
  }
  if (method === "fp8") {
    if (opts.dequantize === true) {
      if (isQuantDType(opts.dtype)) throw new Error(`dequantize: true widens the fp8 weights of '${ckpt.name}' to a float dtype; dtype ${JSON.stringify(opts.dtype)} is a quantized one`);
      return fp8Checkpoint(ckpt, floatDtype ?? configFloatDtype(ckpt.config) ?? "bfloat16");
    }
    if (floatDtype) throw new Error(`'${ckpt.name}' stores fp8 weights, which load as stored (dtype "auto"); dtype ${JSON.stringify(floatDtype)} needs dequantize: true to widen them`);
    return fp8Checkpoint(ckpt);
  }
  if (method === "moekit") return moekitQuantCheckpoint(ckpt, moekitSettings(ckpt.config.quantization_config as Record<string, unknown>).formats);
  return ckpt;
}

/** config.json's `dtype` (transformers 5) or `torch_dtype` when it names a float dtype moekit stores. */
function configFloatDtype(raw: Config): Fp8WidenTarget | undefined {
  const c = raw as Record<string, unknown>;
  const d = c.dtype ?? c.torch_dtype;
  return typeof d === "string" && Object.hasOwn(FP8_WIDEN_TARGETS, d) ? (d as Fp8WidenTarget) : undefined;
}
