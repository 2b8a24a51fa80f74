/**
 * The model `fromPretrained` hands out: a CausalLM (src/models) with generation's loop as methods.
 * It sits above both so that generation depends on models and models on neither.
 */
import { generate, stream } from "../generation/generate.js";
import type { GenerateOptions } from "../generation/options.js";
import { mappedFilesOf, type MappedRegion } from "../loading/mapped-views.js";
import { CausalLM, tensorsOf, type CausalLMParts } from "../models/causal-lm.js";
import { SegmentedStorage } from "../formats/segments.js";
import type { Tensor } from "../tensor.js";

export class MoeForCausalLM extends CausalLM {
  /** Whether the backend was made for this model (by name) rather than handed in: dispose() then releases it too. */
  private readonly ownsBackend: boolean;
  /** Memory-mapped checkpoint files the weights are views of: dispose() releases them (unmapped when no other model holds them). */
  private readonly mappedFiles: Set<MappedRegion>;

  constructor(parts: CausalLMParts, opts: { ownsBackend?: boolean } = {}) {
    super(parts);
    this.ownsBackend = opts.ownsBackend ?? false;
    this.mappedFiles = mappedFilesOf(hostArrays(tensorsOf(parts)));
    for (const f of this.mappedFiles) f.retain();
  }

  /** Ids [B, S + new] (prompt included). */
  generate(inputIds: Tensor, opts: GenerateOptions = {}): Promise<Tensor> {
    return generate(this, inputIds, opts);
  }

  /** Each step's new tokens [B] as they are produced. */
  stream(inputIds: Tensor, opts: GenerateOptions = {}): AsyncGenerator<Int32Array> {
    return stream(this, inputIds, opts);
  }

  /**
   * dispose() (CausalLM: at once, or when the forwards running settle) frees the weights (GPU buffers
   * at once, host memory once unreferenced); a webgpu device the model created for itself is destroyed
   * too, and the memory-mapped checkpoint files are unmapped once no other model loaded from the same
   * Checkpoint holds them: their views are detached first, so a weight tensor kept from this model then
   * reads as empty and the kernels refuse it by name.
   */
  protected override release(parts: CausalLMParts): void {
    super.release(parts);
    const b = this.backend as { destroy?: () => void; name: string };
    if (this.ownsBackend && b.name === "webgpu") b.destroy?.();
    for (const f of this.mappedFiles) f.release();
    this.mappedFiles.clear();
  }
}

/** The typed arrays holding host tensors' values (row-segment views: each segment's buffer). */
function* hostArrays(tensors: Iterable<Tensor>): Generator<ArrayBufferView> {
  for (const t of tensors) {
    if (!t.isHost) continue;
    if (t.storage instanceof SegmentedStorage) for (const s of t.storage.segments) yield s.data;
    else if (ArrayBuffer.isView(t.storage)) yield t.storage;
  }
}
