/** Whole-model fixture access: the float32 suite (test/fixtures/transformers) and the bfloat16 one. */
import { dirname, join } from "node:path";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import type { Tensor } from "../../src/tensor.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

export interface FixtureSuite {
  dir: string;
  families: string[];
}

function suite(name: string): FixtureSuite {
  const dir = join(ROOT, name);
  return { dir, families: Object.keys(JSON.parse(readFileSync(join(dir, "index.json"), "utf8"))) };
}

export const F32 = suite("transformers");
export const BF16 = suite("transformers-bf16");
/** Rows of whole 256-blocks (K-quants, fp8's 128-blocks): hidden 256, expert width 256, 4 experts, bf16 (scripts/quant-k256-fixtures.sh). */
export const K256 = suite("transformers-k256");

export function familyDir(s: FixtureSuite, family: string): string {
  return join(s.dir, family);
}

/** input_ids [B, S] int32, logits [B, S, V] f32, greedy_ids [8] int32 (row 0), plus MoE block captures. */
export async function expectedTensors(s: FixtureSuite, family: string): Promise<Record<string, Tensor>> {
  const { FileSource } = await import("../../src/loading/node-files.js");
  const ck = await Checkpoint.fromSources(family, {}, [new FileSource(join(familyDir(s, family), "expected.safetensors"))]);
  const out: Record<string, Tensor> = {};
  for (const k of ck.keys()) out[k] = await ck.tensor(k, { expect: ck.info(k).stored.startsWith("I") ? "int" : "float" });
  return out;
}
