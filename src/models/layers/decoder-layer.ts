/**
 * One pre-norm decoder layer: h += attn(norm1(h))·r; h += ffn(norm2(h))·r, where the ffn is a sparse
 * MoE block or a dense gated MLP and r is the residual multiplier (granitemoe; 1 elsewhere).
 */
import type { Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import type { GqaAttention } from "./attention.js";
import type { AttentionContext } from "./attention-context.js";
import type { MlaAttention } from "./mla-attention.js";
import type { GatedMlp } from "./mlp.js";
import type { SparseMoeBlock } from "./moe-block.js";
import type { Norm } from "./norm.js";

export type FeedForward = { kind: "moe"; block: SparseMoeBlock } | { kind: "dense"; mlp: GatedMlp };

export class DecoderLayer {
  constructor(
    readonly index: number,
    readonly inputNorm: Norm,
    readonly attention: GqaAttention | MlaAttention,
    readonly postAttentionNorm: Norm,
    readonly ffn: FeedForward,
    readonly residualMultiplier = 1,
  ) {}

  /** h [B, S, H] → [B, S, H]. */
  async forward(b: Backend, h: Tensor, ctx: AttentionContext): Promise<Tensor> {
    const r = this.residualMultiplier;
    const scaled = (t: Tensor) => (r === 1 ? t : b.scale(t, r));
    const a = this.attention.forward(b, this.inputNorm.forward(b, h), ctx);
    h = b.add(h, scaled(a));
    const n = this.postAttentionNorm.forward(b, h);
    const f = this.ffn.kind === "moe" ? await this.ffn.block.forward(n) : this.ffn.mlp.forward(n.reshape([-1, n.shape[n.rank - 1]!]), b).reshape(n.shape);
    return b.add(h, scaled(f));
  }
}
