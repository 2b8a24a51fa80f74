/**
 * Position ids and key padding mask for one forward call. With an attention mask (int32 [B, past + S],
 * 0 = padding) positions count real tokens as transformers' generate does: cumsum(mask) − 1, and 1 at
 * padded slots; without one, positions run past .. past + S − 1.
 */
import { shapeString, type Tensor } from "../tensor.js";

export interface CallPositions {
  /** int32 [B·S] */
  positions: Int32Array;
  /** The mask as given when some entry is 0 (else undefined: nothing to mask). */
  keyMask?: Int32Array;
  maxPosition: number;
}

export async function callPositions(batch: number, seq: number, past: number, attentionMask?: Tensor): Promise<CallPositions> {
  const positions = new Int32Array(batch * seq);
  if (!attentionMask) {
    for (let b = 0; b < batch; b++) for (let i = 0; i < seq; i++) positions[b * seq + i] = past + i;
    return { positions, maxPosition: past + seq - 1 };
  }
  const total = past + seq;
  if (attentionMask.rank !== 2 || attentionMask.shape[0] !== batch || attentionMask.shape[1] !== total) {
    throw new Error(`forward: attentionMask must be [${batch}, ${total}] (cached + new tokens), got ${shapeString(attentionMask.shape)}`);
  }
  if (attentionMask.dtype !== "int32") throw new Error(`forward: attentionMask must be int32 (0 for padding, 1 for tokens), got ${attentionMask.dtype}`);
  const m = (await attentionMask.data()) as Int32Array;
  for (let i = 0; i < m.length; i++) {
    if (m[i] !== 0 && m[i] !== 1) throw new Error(`forward: attentionMask[${Math.floor(i / total)}, ${i % total}] is ${m[i]}, not 0 or 1`);
  }
  for (let b = 0; b < batch; b++) {
    if (!m.subarray(b * total, (b + 1) * total).includes(1)) throw new Error(`forward: attentionMask row ${b} masks every token`);
  }
  let padded = false;
  let maxPosition = 0;
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let j = 0; j < total; j++) {
      const on = m[b * total + j] !== 0;
      if (on) count++;
      else padded = true;
      if (j >= past) {
        const p = on ? count - 1 : 1;
        positions[b * seq + j - past] = p;
        maxPosition = Math.max(maxPosition, p);
      }
    }
  }
  const keyMask = padded ? Int32Array.from(m, (x) => (x !== 0 ? 1 : 0)) : undefined;
  return { positions, keyMask, maxPosition };
}
