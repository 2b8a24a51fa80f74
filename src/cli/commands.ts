/** The subcommands, each loaded lazily from its own module. */
import { defineCommand } from "./main.js";

defineCommand("info", "list experts implementations, backends and supported model types", async () => (await import("./info.js")).infoCommand);
defineCommand("generate", "generate text with a MoE model (streams tokens, reports tokens/s)", async () => (await import("./generate.js")).generateCommand);
