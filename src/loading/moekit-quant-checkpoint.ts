/**
 * Checkpoints written by `moekit quantize` (`quantization_config.quant_method "moekit"`): each quantized matrix
 * is stored as U8 [..., rows, cols / blockElems, blockBytes] (its rows of blocks, exactly moekit's in-memory
 * bytes) and `quantization_config.formats` names its block format; this view reads it back as a block-format
 * tensor [..., rows, cols] under its own name. Every other tensor passes through (float, as stored).
 *
 * Every listed tensor is checked from the headers when the view is made: present, stored U8, a last dim of
 * the format's block bytes; a U8 tensor the map does not list is refused by name.
 */
import { formatInfo, isBlockFormat, isDType, type DType } from "../formats/table.js";
import { shapeString, Tensor } from "../tensor.js";
import { briefName } from "./brief.js";
import { Checkpoint, type TensorProvider } from "./checkpoint.js";

/** The stored name a block tensor of `format` reports (checkExpected reads it as a float weight). */
export function blockStoredName(format: DType): string {
  return format.toUpperCase();
}

/** `ckpt` with the tensors `formats` lists read as block-format tensors. */
export function moekitQuantCheckpoint(ckpt: Checkpoint, formats: Readonly<Record<string, string>>): Checkpoint {
  const where = `checkpoint '${ckpt.name}'`;
  const providers = new Map<string, TensorProvider>();
  for (const [key, format] of Object.entries(formats)) {
    if (!isDType(format) || !isBlockFormat(format)) throw new Error(`${where}: quantization_config.formats gives ${briefName(key)} the format ${JSON.stringify(format)}, which is not a block format`);
    if (!ckpt.has(key)) throw new Error(`${where}: quantization_config.formats lists ${briefName(key)}, which the checkpoint does not hold`);
    const info = ckpt.info(key);
    const f = formatInfo(format);
    const s = info.shape;
    if (info.stored !== "U8" || s.length < 3 || s[s.length - 1] !== f.blockBytes) {
      throw new Error(`${where}: ${briefName(key)} is ${info.stored} ${shapeString(s)}; ${format} blocks are stored U8 [..., rows, blocks, ${f.blockBytes}]`);
    }
    const shape = [...s.slice(0, -2), s[s.length - 2]! * f.blockElems];
    providers.set(key, {
      info: () => ({ ...info, stored: blockStoredName(format), shape }),
      tensor: async () => new Tensor(shape, format, (await ckpt.bytes(key, { expect: "u8-blocks" })).bytes, null),
    });
  }
  for (const key of ckpt.keys()) {
    if (providers.has(key)) continue;
    if (ckpt.info(key).stored === "U8") throw new Error(`${where}: ${briefName(key)} is stored U8 but quantization_config.formats does not name its block format`);
    providers.set(key, {
      info: () => ckpt.info(key),
      tensor: (_name, opts) => ckpt.tensor(key, opts),
      bytes: (_name, opts) => ckpt.bytes(key, opts),
    });
  }
  return new Checkpoint(ckpt.name, ckpt.config, providers, ckpt.generationConfig);
}
