/**
 * The fuzz corpus: mutated safetensors files (read alone, and loaded as a fixture model's weights),
 * mutated GGUF model files, mutated configs and bad run-time inputs, each run in a child process and judged: a clean error or a
 * correct result, never a crash, a hang, an internal error or a peak over the memory limit.
 */
import { copyFile, mkdir, rm, writeFile, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildRequest } from "./child.js";
import { configCases, inputCases } from "./config-cases.js";
import { KNOWN_FAILURES, SKIPPED } from "./known-failures.js";
import type { Job, Outcome } from "./pool.js";
import { fingerprintsFromBytes } from "./read-all.js";
import { ggufCases } from "./gguf-cases.js";
import { hugeHeaderCases, safetensorsCases, type Expect, type FileCase } from "./safetensors-cases.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

export const MEMORY_LIMIT_BYTES = 2 * 2 ** 30;

export interface CorpusCase extends Job {
  expect: Expect;
  /** The case whose result a "same" case must reproduce. */
  baseline?: string;
  /** Fingerprints read straight from the file (set by prepare), for accepted "either"/"same" files. */
  oracle?: Record<string, string>;
  /** A refusal must match this to count as a clear message. */
  mentions?: RegExp;
}

interface Base {
  tag: string;
  dir: string;
}

const BASES: Base[] = [
  { tag: "olmoe", dir: join(FIXTURES, "transformers", "olmoe") },
  { tag: "deepseek_v3-bf16", dir: join(FIXTURES, "transformers-bf16", "deepseek_v3") },
];

function seedFor(tag: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A fixture model directory with some files replaced. */
async function modelDir(dir: string, from: string, replace: { config?: string; weights?: Uint8Array }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(join(from, "generation_config.json"), join(dir, "generation_config.json"));
  if (replace.config === undefined) await copyFile(join(from, "config.json"), join(dir, "config.json"));
  else await writeFile(join(dir, "config.json"), replace.config);
  if (replace.weights === undefined) await copyFile(join(from, "model.safetensors"), join(dir, "model.safetensors"));
  else await writeFile(join(dir, "model.safetensors"), replace.weights);
}

function oracleOf(bytes: Uint8Array): Record<string, string> | undefined {
  try {
    return fingerprintsFromBytes(bytes);
  } catch {
    return undefined;
  }
}

function fileCases(base: Base, c: FileCase, tmp: string, slot: () => string, models: boolean): CorpusCase[] {
  const out: CorpusCase[] = [];
  const fileCase: CorpusCase = {
    id: `file:${c.id}`,
    expect: c.expect,
    baseline: c.expect === "same" && !c.id.endsWith("/base") ? `file:${base.tag}/base` : undefined,
    async prepare(): Promise<ChildRequest> {
      const bytes = c.make();
      if (c.expect !== "error") this.oracle = oracleOf(bytes);
      const path = join(tmp, `${slot()}.safetensors`);
      await writeFile(path, bytes);
      this.done = () => rm(path, { force: true });
      return { kind: "file", path };
    },
  };
  out.push(fileCase);
  if (models) {
    const expect = c.modelExpect ?? c.expect;
    out.push({
      id: `model:${c.id}`,
      expect,
      baseline: expect === "same" && !c.id.endsWith("/base") ? `model:${base.tag}/base` : undefined,
      async prepare(): Promise<ChildRequest> {
        const dir = join(tmp, slot());
        await modelDir(dir, base.dir, { weights: c.make() });
        this.done = () => rm(dir, { recursive: true, force: true });
        return { kind: "model", dir };
      },
    });
  }
  return out;
}

export interface CorpusOptions {
  seed: number;
  tmp: string;
  /** Include the cases that are known to hang or exhaust memory today (SKIPPED). */
  includeSkipped?: boolean;
}

export async function buildCorpus(opts: CorpusOptions): Promise<CorpusCase[]> {
  let n = 0;
  const slot = () => `c${n++}`;
  const cases: CorpusCase[] = [];
  for (const base of BASES) {
    const bytes = new Uint8Array(await readFile(join(base.dir, "model.safetensors")));
    for (const c of safetensorsCases(base.tag, bytes, seedFor(base.tag, opts.seed))) cases.push(...fileCases(base, c, opts.tmp, slot, true));
    if (base === BASES[0]) {
      for (const c of hugeHeaderCases(base.tag, bytes)) cases.push(...fileCases(base, c, opts.tmp, slot, !c.id.endsWith("deep-nesting")));
    }
  }
  // GGUF model files (loaded by fromPretrained of the .gguf path)
  const gguf = new Uint8Array(await readFile(join(FIXTURES, "gguf", "models", "qwen3_moe.gguf")));
  for (const c of await ggufCases("gguf-qwen3_moe", gguf, seedFor("gguf-qwen3_moe", opts.seed))) {
    cases.push({
      id: `model:${c.id}`,
      expect: c.expect,
      mentions: c.mentions,
      baseline: c.expect === "same" && !c.id.endsWith("/base") ? "model:gguf-qwen3_moe/base" : undefined,
      async prepare(): Promise<ChildRequest> {
        const path = join(opts.tmp, `${slot()}.gguf`);
        await writeFile(path, c.make());
        this.done = () => rm(path, { force: true });
        return { kind: "model", dir: path };
      },
    });
  }
  const configBase = new Set<string>();
  for (const c of configCases()) {
    const from = join(FIXTURES, "transformers", c.fixture);
    const baseId = `model:config/${c.fixture}/base`;
    if (!configBase.has(c.fixture)) {
      configBase.add(c.fixture);
      cases.push({ id: baseId, expect: "same", prepare: async () => ({ kind: "model", dir: from }) });
    }
    cases.push({
      id: `model:${c.id}`,
      expect: c.expect,
      mentions: c.mentions,
      baseline: c.expect === "same" ? baseId : undefined,
      async prepare(): Promise<ChildRequest> {
        const dir = join(opts.tmp, slot());
        const config = JSON.parse(await readFile(join(from, "config.json"), "utf8")) as Record<string, unknown>;
        await modelDir(dir, from, { config: c.config(config) });
        this.done = () => rm(dir, { recursive: true, force: true });
        return { kind: "model", dir };
      },
    });
  }
  for (const c of inputCases()) {
    cases.push({ id: `model:${c.id}`, expect: c.expect, prepare: async () => ({ kind: "model", dir: join(FIXTURES, "transformers", c.fixture), ids: c.ids, generate: c.generate }) });
  }
  const ids = new Set<string>();
  for (const c of cases) {
    if (ids.has(c.id)) throw new Error(`fuzz corpus: duplicate case id ${c.id}`);
    ids.add(c.id);
  }
  return opts.includeSkipped ? cases : cases.filter((c) => !SKIPPED.has(c.id));
}

/** Why an outcome is wrong for its case, or null when it is right. */
export function judge(c: CorpusCase, o: Outcome, byId: ReadonlyMap<string, Outcome>): string | null {
  if (o.status === "crash" || o.status === "hang" || o.status === "memory") return `${o.status}: ${o.detail}`;
  const r = o.reply!;
  if (r.maxRssBytes > MEMORY_LIMIT_BYTES) return `peak memory ${(r.maxRssBytes / 2 ** 30).toFixed(2)} GiB over ${MEMORY_LIMIT_BYTES / 2 ** 30} GiB`;
  if (!r.ok) {
    if (r.errorClass !== "Error") return `internal error leaked (${r.errorClass}): ${r.message}`;
    if (c.expect === "same") return `refused: ${r.message}`;
    if (c.mentions && !c.mentions.test(r.message ?? "")) return `unclear refusal (must name ${c.mentions.source}): ${r.message}`;
    return null;
  }
  if (c.expect === "error") return `accepted (${r.logits ? "model loaded and ran" : "file read"}) but must be refused`;
  if (r.tensors) {
    const want = c.baseline ? byId.get(c.baseline)?.reply?.tensors : c.oracle;
    if (!want) return c.baseline ? `baseline ${c.baseline} did not load` : "accepted a file whose header does not parse independently";
    for (const [k, v] of Object.entries(want)) {
      if (c.baseline && r.tensors[k] !== v) return `tensor '${k}' reads ${r.tensors[k]}, baseline ${v}`;
      if (!c.baseline && v !== "out-of-range" && r.tensors[k] !== v) return `tensor '${k}' reads ${r.tensors[k]}, the file holds ${v}`;
    }
    if (!c.baseline && Object.keys(r.tensors).length !== Object.keys(want).length) return `read ${Object.keys(r.tensors).length} tensors, the header lists ${Object.keys(want).length}`;
  }
  if (r.logits && c.baseline && c.expect === "same") {
    const want = byId.get(c.baseline)?.reply?.logits;
    if (r.logits !== want) return `logits ${r.logits} differ from the baseline's ${want ?? "(none)"}`;
  }
  return null;
}

export interface Verdict {
  id: string;
  outcome: Outcome;
  failure: string | null;
  known?: string;
}

export function verdicts(cases: CorpusCase[], outcomes: Outcome[]): Verdict[] {
  const byId = new Map(cases.map((c, i) => [c.id, outcomes[i]!]));
  return cases.map((c, i) => ({ id: c.id, outcome: outcomes[i]!, failure: judge(c, outcomes[i]!, byId), known: KNOWN_FAILURES.get(c.id) }));
}
