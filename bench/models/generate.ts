/**
 * Whole-model prefill and decode tokens/s (src/bench/generation.ts), by default on a synthetic
 * OLMoE-1B-7B with 2 layers: `node --import tsx bench/models/generate.ts [--layers N --prompt-len P
 * --new-tokens N --impl a,b --backend cpu --threads 2]` (--help for every option).
 */
import { generationBenchCommand } from "../../src/bench/generation-command.js";

process.exitCode = await generationBenchCommand(process.argv.slice(2));
