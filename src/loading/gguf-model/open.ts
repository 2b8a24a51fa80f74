/**
 * A GGUF file as a Checkpoint: config.json fields from the architecture's metadata, generation ids
 * from tokenizer.ggml.*, and every GGUF tensor under the Hugging Face name the family loaders read
 * (names.ts). Nothing but the header is read here; tensors are read when the loader asks for them.
 */
import type { ByteSource } from "../byte-source.js";
import { Checkpoint, type Config, type TensorProvider } from "../checkpoint.js";
import { GgufFile, type GgufOpenOptions } from "../gguf/reader.js";
import { ggufArchitecture } from "./architectures.js";
import { GgufMetadataView } from "./metadata.js";
import { hfTensors } from "./names.js";

export async function openGgufCheckpoint(source: ByteSource, opts: GgufOpenOptions = {}): Promise<Checkpoint> {
  const file = await GgufFile.open(source, opts);
  return ggufCheckpoint(file);
}

export function ggufCheckpoint(file: GgufFile): Checkpoint {
  const arch = file.string("general.architecture", true);
  const spec = ggufArchitecture(arch, file.source.name);
  const config = spec.config(new GgufMetadataView(file, arch));
  const providers: Map<string, TensorProvider> = hfTensors(file, spec, config);
  return new Checkpoint(file.source.name, config, providers, generationConfig(file));
}

/** bos / eos / pad ids from the tokenizer metadata, as generation_config.json would give them. */
function generationConfig(file: GgufFile): Config | null {
  const out: Config = {};
  for (const [key, field] of [
    ["tokenizer.ggml.bos_token_id", "bos_token_id"],
    ["tokenizer.ggml.eos_token_id", "eos_token_id"],
    ["tokenizer.ggml.padding_token_id", "pad_token_id"],
  ] as const) {
    const v = file.integer(key);
    if (v !== undefined) out[field] = v;
  }
  return Object.keys(out).length > 0 ? out : null;
}
