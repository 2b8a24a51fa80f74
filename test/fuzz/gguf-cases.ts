/**
 * Mutations of a GGUF model file for the fuzz corpus, each loaded as a model (fromPretrained of the
 * .gguf path): truncations, a lying header (magic, version, counts, string and array lengths), lying
 * tensor infos (offsets past the end, misaligned or overlapping, dims, unknown or unread ggml types),
 * metadata missing or of the wrong type, shapes the metadata contradicts, and random byte flips.
 */
import { seededRng, type Rng } from "../../src/generation/rng.js";
import { BufferSource } from "../../src/loading/byte-source.js";
import { encodeGguf, GgufFile, type GgufMetadata, type GgufTensorData, type GgufValue } from "../../src/loading/gguf/index.js";
import type { Expect } from "./safetensors-cases.js";

export interface GgufCase {
  id: string;
  expect: Expect;
  /** A refusal must match this. */
  mentions?: RegExp;
  make(): Uint8Array;
}

const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const ENC = new TextEncoder();

/** Byte offset, in the file, of the tensor info of `name`: its n_dims field (after the name string). */
function tensorInfoAt(bytes: Uint8Array, name: string, headerEnd: number): number {
  const want = ENC.encode(name);
  outer: for (let i = 24; i + 8 + want.length <= headerEnd; i++) {
    if (new DataView(bytes.buffer, bytes.byteOffset + i).getBigUint64(0, true) !== BigInt(want.length)) continue;
    for (let k = 0; k < want.length; k++) if (bytes[i + 8 + k] !== want[k]) continue outer;
    const after = i + 8 + want.length;
    const nDims = new DataView(bytes.buffer, bytes.byteOffset + after).getUint32(0, true);
    if (nDims >= 1 && nDims <= 4) return after;
  }
  throw new Error(`fuzz: no tensor info for ${name}`);
}

/** Byte offset of the value type that follows metadata key `key`. */
function keyValueAt(bytes: Uint8Array, key: string, headerEnd: number): number {
  const want = ENC.encode(key);
  for (let i = 24; i + 8 + want.length <= headerEnd; i++) {
    if (new DataView(bytes.buffer, bytes.byteOffset + i).getBigUint64(0, true) !== BigInt(want.length)) continue;
    if (want.every((b, k) => bytes[i + 8 + k] === b)) return i + 8 + want.length;
  }
  throw new Error(`fuzz: no metadata key ${key}`);
}

export async function ggufCases(tag: string, base: Uint8Array, seed: number): Promise<GgufCase[]> {
  const r = seededRng(seed);
  const file = await GgufFile.open(new BufferSource("base.gguf", base));
  const arch = file.string("general.architecture", true);
  const infos = [...file.tensors.values()].sort((a, b) => a.begin - b.begin);
  const headerEnd = file.dataOffset;
  const lastEnd = infos[infos.length - 1]!.end;
  const tensors: GgufTensorData[] = [];
  for (const t of infos) tensors.push({ name: t.name, shape: t.shape, format: t.format!, data: (await file.tensorBytes(t.name)).bytes });
  const cases: GgufCase[] = [];
  const add = (id: string, expect: Expect, make: () => Uint8Array, mentions?: RegExp) => cases.push({ id: `${tag}/${id}`, expect, make, mentions });
  const patch = (id: string, expect: Expect, at: number, write: (v: DataView) => void, mentions?: RegExp) =>
    add(id, expect, () => {
      const f = base.slice();
      write(new DataView(f.buffer, at));
      return f;
    }, mentions);
  const reencode = (id: string, expect: Expect, edit: (m: GgufMetadata, t: GgufTensorData[]) => void, mentions?: RegExp) =>
    add(id, expect, () => {
      const m: GgufMetadata = new Map(file.metadata);
      const t = tensors.map((x) => ({ ...x }));
      edit(m, t);
      return encodeGguf(m, t);
    }, mentions);

  add("base", "same", () => base);
  reencode("reencoded", "same", () => {});

  for (const at of [0, 3, 8, 20, 30, headerEnd >> 1, headerEnd - 9, headerEnd, lastEnd - 1]) add(`truncate-at-${at}`, "error", () => base.slice(0, at));
  for (let i = 0; i < 6; i++) {
    const at = int(r, 0, lastEnd - 1);
    add(`truncate-random-${at}`, "error", () => base.slice(0, at));
  }

  patch("magic", "error", 0, (v) => v.setUint32(0, 0x46554746, true), /magic|GGUF/i);
  for (const version of [1, 4, 0xffffffff]) patch(`version-${version}`, "error", 4, (v) => v.setUint32(0, version, true), /version/);
  for (const n of [2n ** 40n, 2n ** 64n - 1n]) {
    patch(`tensor-count-${n}`, "error", 8, (v) => v.setBigUint64(0, n, true));
    patch(`kv-count-${n}`, "error", 16, (v) => v.setBigUint64(0, n, true));
  }
  patch("first-key-length-huge", "error", 24, (v) => v.setBigUint64(0, 2n ** 62n, true));
  const tokens = keyValueAt(base, "tokenizer.ggml.tokens", headerEnd);
  for (const n of [2n ** 31n, 2n ** 60n]) patch(`token-array-count-${n}`, "error", tokens + 8, (v) => v.setBigUint64(0, n, true));
  patch("value-type-unknown", "error", keyValueAt(base, `${arch}.block_count`, headerEnd), (v) => v.setUint32(0, 77, true), /value type/);

  // Tensor infos: n_dims (u32), dims (u64 each), type (u32), offset (u64).
  const exps = infos.find((t) => t.name.endsWith("ffn_up_exps.weight"))!;
  const norm = infos.find((t) => t.name.endsWith("attn_norm.weight"))!;
  const at = tensorInfoAt(base, exps.name, headerEnd);
  const typeAt = at + 4 + 8 * exps.dims.length;
  const offAt = typeAt + 4;
  patch("offset-past-end", "error", offAt, (v) => v.setBigUint64(0, BigInt(base.length), true), /runs past|past the end/);
  patch("offset-huge", "error", offAt, (v) => v.setBigUint64(0, 2n ** 63n, true));
  patch("offset-misaligned", "error", offAt, (v) => v.setBigUint64(0, BigInt(exps.relativeOffset + 1), true), /alignment/);
  patch("offset-overlaps", "error", offAt, (v) => v.setBigUint64(0, BigInt(infos[0]!.relativeOffset), true), /overlap/);
  patch("dims-doubled", "error", at + 4, (v) => v.setBigUint64(0, BigInt(exps.dims[0]! * 2), true));
  patch("dims-huge", "error", at + 4, (v) => v.setBigUint64(0, 2n ** 62n, true));
  patch("n-dims-9", "error", at, (v) => v.setUint32(0, 9, true), /dimensions/);
  patch("ggml-type-unknown", "error", typeAt, (v) => v.setUint32(0, 99, true), /unknown ggml type 99/);
  const normType = tensorInfoAt(base, norm.name, headerEnd) + 4 + 8 * norm.dims.length;
  patch("ggml-type-q4_1-unread", "error", normType, (v) => v.setUint32(0, 3, true), /q4_1/i);
  patch("ggml-type-f16-for-f32", "either", normType, (v) => v.setUint32(0, 1, true));

  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  reencode("arch-unknown", "error", (m) => m.set("general.architecture", { type: "string", value: "mamba" }), /general\.architecture/);
  reencode("arch-missing", "error", (m) => m.delete("general.architecture"), /general\.architecture/);
  reencode("expert-count-missing", "error", (m) => m.delete(`${arch}.expert_count`), new RegExp(`${arch}\\.expert_count`));
  reencode("block-count-string", "error", (m) => m.set(`${arch}.block_count`, { type: "string", value: "2" }), /block_count/);
  reencode("head-count-float", "error", (m) => m.set(`${arch}.attention.head_count`, { type: "float32", value: 4.5 }), /head_count/);
  reencode("expert-ffn-contradicts", "error", (m) => m.set(`${arch}.expert_feed_forward_length`, u32(16)), /config implies/);
  for (const n of [1, 3, 2 ** 31]) reencode(`block-count-${n}`, "error", (m) => m.set(`${arch}.block_count`, u32(n)), /block_count/);
  reencode("top-k-above-experts", "error", (m) => m.set(`${arch}.expert_used_count`, u32(99)), /num_experts_per_tok|experts/);
  // general.alignment 64 re-lays the file out (the same model); patched to 3 it is refused
  const wide = (() => {
    const m: GgufMetadata = new Map(file.metadata);
    m.set("general.alignment", u32(64));
    return encodeGguf(m, tensors);
  })();
  add("alignment-64", "same", () => wide);
  const alignAt = keyValueAt(wide, "general.alignment", wide.length);
  for (const bad of [0, 3, 48]) {
    add(`alignment-${bad}`, "error", () => {
      const f = wide.slice();
      new DataView(f.buffer, alignAt + 4).setUint32(0, bad, true);
      return f;
    }, /alignment/);
  }
  reencode("tensor-dropped", "error", (_, t) => t.splice(t.findIndex((x) => x.name === exps.name), 1), /missing/);
  reencode("extra-tensor", "either", (_, t) => t.push({ name: "blk.0.extra.weight", shape: [4], format: "float32", data: new Uint8Array(16) }));

  for (let i = 0; i < 10; i++) {
    const pos = int(r, 0, headerEnd - 1);
    const bit = int(r, 0, 7);
    add(`header-flip-${pos}-${bit}`, "either", () => {
      const f = base.slice();
      f[pos]! ^= 1 << bit;
      return f;
    });
  }
  for (let i = 0; i < 3; i++) {
    const pos = int(r, headerEnd, lastEnd - 1);
    add(`data-flip-${pos}`, "either", () => {
      const f = base.slice();
      f[pos]! ^= 0x40;
      return f;
    });
  }
  return cases;
}
