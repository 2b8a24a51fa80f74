/**
 * A fuzz worker process: runs one request at a time through moekit's public API and replies with the
 * result or the error, plus its peak resident memory so far. The parent (pool.ts) restarts it after a
 * crash, a hang or a large peak, so a native crash ends one case, never the corpus.
 */
import { AutoModelForCausalLM, cpuBackendAvailable, createCpuBackend, referenceBackend, SafetensorsFile, Tensor } from "../../src/index.js";
import { FileSource } from "../../src/loading/node-files.js";
import { fingerprint, readAll } from "./read-all.js";

export interface TensorSpec {
  values: number[];
  shape: number[];
  kind: "int32" | "float32";
}

export type ChildRequest =
  | { kind: "file"; path: string }
  | {
      kind: "model";
      dir: string;
      /** Input ids (null: forward(null)); default a fixed [1, 5] prompt. */
      ids?: TensorSpec | null;
      /** Generate with these options (and attention mask) instead of one forward. */
      generate?: { options: Record<string, unknown>; attentionMask?: TensorSpec };
    };

export interface ChildReply {
  ok: boolean;
  /** Fingerprints of every tensor (file requests). */
  tensors?: Record<string, string>;
  /** Fingerprint of the logits (or generated tokens), and the unused checkpoint keys (model requests). */
  logits?: string;
  unusedKeys?: number;
  errorClass?: string;
  message?: string;
  maxRssBytes: number;
  ms: number;
}

const DEFAULT_IDS = { values: [1, 7, 42, 3, 100], shape: [1, 5], kind: "int32" as const };

function tensorOf(spec: TensorSpec): Tensor {
  return new Tensor(spec.shape, spec.kind, spec.kind === "int32" ? Int32Array.from(spec.values) : Float32Array.from(spec.values));
}

async function run(req: ChildRequest): Promise<Omit<ChildReply, "maxRssBytes" | "ms">> {
  if (req.kind === "file") {
    const file = await SafetensorsFile.open(new FileSource(req.path));
    return { ok: true, tensors: await readAll(file) };
  }
  const backend = cpuBackendAvailable() ? createCpuBackend({ threads: 1 }) : referenceBackend;
  const model = await AutoModelForCausalLM.fromPretrained(req.dir, { backend });
  const ids = req.ids === null ? (null as unknown as Tensor) : tensorOf(req.ids ?? DEFAULT_IDS);
  if (req.generate) {
    const attentionMask = req.generate.attentionMask && tensorOf(req.generate.attentionMask);
    const tokens = await (await model.generate(ids, { ...req.generate.options, attentionMask })).data();
    return { ok: true, logits: fingerprint(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength)), unusedKeys: model.unusedKeys.length };
  }
  const { logits } = await model.forward(ids);
  const data = await logits.data();
  return { ok: true, logits: fingerprint(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), unusedKeys: model.unusedKeys.length };
}

process.on("message", (req: ChildRequest) => {
  const t0 = performance.now();
  const reply = (r: Omit<ChildReply, "maxRssBytes" | "ms">) =>
    process.send!({ ...r, maxRssBytes: process.resourceUsage().maxRSS * 1024, ms: performance.now() - t0 } satisfies ChildReply);
  run(req).then(reply, (e: unknown) =>
    reply({ ok: false, errorClass: e instanceof Error ? e.constructor.name : typeof e, message: e instanceof Error ? e.message.slice(0, 500) : String(e).slice(0, 500) }),
  );
});
process.send!({ ready: true });
