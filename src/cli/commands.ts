/** The subcommands, each loaded lazily from its own module. */
import { defineCommand } from "./main.js";

defineCommand("bench", "the experts benchmark table (embedded synthetic Qwen1.5-MoE by default)", async () => (await import("./bench.js")).benchCommand);
defineCommand("tune", "measure batched_mm vs grouped_mm on this machine and store the profile auto uses", async () => (await import("./tune.js")).tuneCommand);
defineCommand("info", "list experts implementations, backends and supported model types", async () => (await import("./info.js")).infoCommand);
defineCommand("generate", "generate text with a MoE model (streams tokens, reports tokens/s)", async () => (await import("./generate.js")).generateCommand);
defineCommand("chat", "talk to a model in the terminal (multi-turn, streaming, /reset, /exit)", async () => (await import("./chat.js")).chatCommand);
defineCommand("serve", "an OpenAI-compatible HTTP server with continuous batching (/v1/chat/completions, ...)", async () => (await import("./serve.js")).serveCommand);
defineCommand("convert", "write a Hugging Face MoE checkpoint as a GGUF file (f32, f16, bf16, q8_0, q4_0)", async () => (await import("./convert.js")).convertCommand);
defineCommand("quantize", "write a float checkpoint quantized (q8_0, q4_0, q4_k_m, mxfp4, ...) as safetensors moekit loads back", async () => (await import("./quantize.js")).quantizeCommand);
