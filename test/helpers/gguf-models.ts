/** The GGUF fixture models (scripts/gguf_model_fixtures.py → test/fixtures/gguf/models). */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const GGUF_MODELS = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "gguf", "models");
/** Fixture families written as float32 GGUFs (granitemoeshared as llama.cpp's granitemoe with shared experts, gpt_oss as gpt-oss). */
export const GGUF_FAMILIES = ["qwen2_moe", "qwen3_moe", "olmoe", "mixtral", "phimoe", "granitemoe", "granitemoeshared", "dots1", "hunyuan_v1_moe", "ernie4_5_moe", "glm4_moe", "deepseek_v2", "deepseek_v3", "gpt_oss"];

export const ggufPath = (name: string) => join(GGUF_MODELS, `${name}.gguf`);
