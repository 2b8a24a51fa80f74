import { dirname, join } from "node:path";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Checkpoint } from "../../src/loading/checkpoint.js";
import type { Tensor } from "../../src/tensor.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "transformers");

export interface FixtureMeta {
  family: string;
  first_sparse_block: string;
  seq: number;
  batch: number;
}

export const FAMILIES: string[] = Object.keys(JSON.parse(readFileSync(join(FIXTURES, "index.json"), "utf8")));

/** Families whose router returns its top-k unsorted (torch.topk(sorted=False)): their picks compare as sets. */
export const UNSORTED_TOP_K: readonly string[] = ["longcat_flash"];

/** Families whose fixture captures the experts' (top_k_index, top_k_weights); llama4 and jetmoe capture router_out_<i> instead. */
export const TOP_K_FAMILIES: string[] = FAMILIES.filter((f) => "top_k_index" in (JSON.parse(readFileSync(join(fixtureDir(f), "expected.json"), "utf8")) as { tensors: object }).tensors);

export function fixtureDir(family: string): string {
  return join(FIXTURES, family);
}

export function meta(family: string): FixtureMeta {
  return JSON.parse(readFileSync(join(fixtureDir(family), "expected.json"), "utf8")) as FixtureMeta;
}

/** The layer index of the fixture's first sparse MoE block ("model.layers.1.mlp" → 1, dbrx's "transformer.blocks.0.ffn" → 0). */
export function firstSparseLayer(family: string): number {
  return Number(/(?:layers|blocks)\.(\d+)\./.exec(meta(family).first_sparse_block)![1]);
}

export async function expected(family: string): Promise<Record<string, Tensor>> {
  const ck = await Checkpoint.fromSources(family, {}, [await fileSource(join(fixtureDir(family), "expected.safetensors"))]);
  const out: Record<string, Tensor> = {};
  for (const k of ck.keys()) out[k] = await ck.tensor(k, { expect: ck.info(k).stored.startsWith("I") ? "int" : "float" });
  return out;
}

async function fileSource(path: string) {
  const { FileSource } = await import("../../src/loading/node-files.js");
  return new FileSource(path);
}
