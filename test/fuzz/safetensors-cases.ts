/**
 * Seeded mutations of a valid safetensors file. Each case says what a correct reader must do with it:
 * "error" (a clean error), "same" (load exactly the base's tensors and logits) or "either" (an error,
 * or a load whose every tensor holds the bytes its header points at).
 */
import { seededRng, type Rng } from "../../src/generation/rng.js";

export type Expect = "error" | "same" | "either";

export interface Entry {
  dtype: unknown;
  shape: unknown;
  data_offsets: unknown;
  [k: string]: unknown;
}

/** A valid file taken apart: header entries (in file order), header padding, data section. */
export interface Parts {
  header: Record<string, Entry>;
  pad: number;
  data: Uint8Array;
}

export interface FileCase {
  id: string;
  expect: Expect;
  /** What the model loader must do (a dropped tensor is fine for the file, not for the model). */
  modelExpect?: Expect;
  make(): Uint8Array;
}

export function split(file: Uint8Array): Parts {
  const len = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(file.subarray(8, 8 + len));
  const trimmed = text.trimEnd();
  return { header: JSON.parse(trimmed) as Record<string, Entry>, pad: text.length - trimmed.length, data: file.slice(8 + len) };
}

/** Header JSON (+ pad) and data into a file; `lengthDelta` makes the length field lie. */
export function join(header: unknown, data: Uint8Array, opts: { pad?: number; lengthDelta?: number; rawHeader?: Uint8Array } = {}): Uint8Array {
  const h = opts.rawHeader ?? new TextEncoder().encode((typeof header === "string" ? header : JSON.stringify(header)) + " ".repeat(opts.pad ?? 0));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, h.length + (opts.lengthDelta ?? 0))), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function clone(p: Parts): Parts {
  return { header: structuredClone(p.header), pad: p.pad, data: p.data };
}

const tensorNames = (p: Parts) => Object.keys(p.header).filter((k) => k !== "__metadata__");
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const offs = (e: Entry) => e.data_offsets as [number, number];

/** Names sorted by where their bytes are. */
function inDataOrder(p: Parts): string[] {
  return tensorNames(p).sort((a, b) => offs(p.header[a]!)[0] - offs(p.header[b]!)[0]);
}

/** All mutations of one base file; `tag` prefixes the ids. Deterministic for a seed. */
export function safetensorsCases(tag: string, base: Uint8Array, seed: number): FileCase[] {
  const r = seededRng(seed);
  const parts = split(base);
  const names = tensorNames(parts);
  const nonEmpty = names.filter((n) => offs(parts.header[n]!)[1] > offs(parts.header[n]!)[0]);
  const cases: FileCase[] = [];
  const seen = new Map<string, number>();
  const add = (id: string, expect: Expect, make: () => Uint8Array, modelExpect?: Expect) => {
    const k = (seen.get(id) ?? 0) + 1;
    seen.set(id, k);
    cases.push({ id: `${tag}/${id}${k > 1 ? `-${k}` : ""}`, expect, modelExpect, make });
  };
  const edit = (id: string, expect: Expect, change: (p: Parts) => void, modelExpect?: Expect) =>
    add(id, expect, () => {
      const p = clone(parts);
      change(p);
      return join(p.header, p.data, { pad: p.pad });
    }, modelExpect);

  add("base", "same", () => base);

  // Truncations: the fixed landmarks, then random cut points.
  const headerEnd = 8 + (base.length - parts.data.length - 8);
  for (const at of [0, 4, 7, 8, 9, headerEnd - 1, headerEnd, headerEnd + 1, base.length - 1]) add(`truncate-at-${at}`, "error", () => base.slice(0, at));
  for (let i = 0; i < 12; i++) {
    const at = int(r, 0, base.length - 1);
    add(`truncate-random-${at}`, "error", () => base.slice(0, at));
  }

  // A length field that lies by ±1..8 (the header keeps its trailing pad spaces).
  for (let d = 1; d <= 8; d++) {
    for (const sign of [-1, 1]) add(`length-${sign < 0 ? "short" : "long"}-${d}`, "error", () => join(parts.header, parts.data, { pad: parts.pad + 8, lengthDelta: sign * d }));
  }
  for (const field of [0n, 1n, 2n ** 31n, 2n ** 63n, 2n ** 64n - 1n]) {
    add(`length-field-${field}`, "error", () => {
      const f = base.slice();
      new DataView(f.buffer).setBigUint64(0, field, true);
      return f;
    });
  }

  // Shifted headers: leading spaces (the reference reader refuses them), trailing spaces (valid pad),
  // bytes slipped between header and data.
  for (const k of [1, 3, 8]) {
    add(`shift-leading-spaces-${k}`, "error", () => join(" ".repeat(k) + JSON.stringify(parts.header), parts.data, { pad: parts.pad }));
    add(`shift-trailing-spaces-${k}`, "same", () => join(parts.header, parts.data, { pad: parts.pad + k }));
    add(`shift-data-by-${k}`, "error", () => join(parts.header, new Uint8Array([...new Uint8Array(k).fill(0x20), ...parts.data]), { pad: parts.pad }));
  }

  // Offsets: overlapping, reversed, out of range, of the wrong type.
  const order = inDataOrder(parts);
  for (let i = 0; i < 6; i++) {
    const idx = int(r, 1, order.length - 1);
    const k = int(r, 1, 16);
    edit(`overlap-${order[idx]}-by-${k}`, "error", (p) => {
      const [b, e] = offs(p.header[order[idx]!]!);
      p.header[order[idx]!]!.data_offsets = [b - k, e - k];
    });
  }
  for (let i = 0; i < 4; i++) {
    const n = pick(r, nonEmpty);
    edit(`reversed-${n}`, "error", (p) => void (p.header[n]!.data_offsets = [...offs(p.header[n]!)].reverse()));
  }
  const dataLen = parts.data.length;
  const wrongOffsets: [string, unknown][] = [
    ["past-end", [dataLen - 4, dataLen + 4]],
    ["huge", [2 ** 53, 2 ** 53 + 4]],
    ["beyond-safe", [0, 2 ** 64]],
    ["negative", [-4, 0]],
    ["fractional", [0.5, 4.5]],
    ["strings", ["0", "4"]],
    ["three", [0, 4, 8]],
    ["null", null],
  ];
  for (const [what, value] of wrongOffsets) {
    const n = pick(r, nonEmpty);
    edit(`offsets-${what}-${n}`, "error", (p) => void (p.header[n]!.data_offsets = value));
  }

  // Holes: an entry removed (its bytes stay), a tensor removed with its bytes (a valid file the model
  // cannot load), trailing garbage, a zero-size tensor inside another.
  for (let i = 0; i < 3; i++) {
    const n = pick(r, nonEmpty);
    edit(`hole-unlisted-${n}`, "error", (p) => void delete p.header[n]);
    add(`dropped-${n}`, "either", () => dropTensor(parts, n), "error");
  }
  for (const k of [1, 4, 8, 1000]) {
    add(`trailing-garbage-${k}`, "error", () => {
      const extra = Uint8Array.from({ length: k }, () => int(r, 0, 255));
      const f = new Uint8Array(base.length + k);
      f.set(base);
      f.set(extra, base.length);
      return f;
    });
  }
  edit("zero-size-inside", "error", (p) => {
    const [b] = offs(p.header[nonEmpty[0]!]!);
    p.header["z.inside"] = { dtype: "F32", shape: [0], data_offsets: [b + 4, b + 4] };
  });

  // Valid rearrangements: data in another order, extra zero-size tensors (odd names included).
  for (let i = 0; i < 3; i++) add(`reordered-${i}`, "same", () => reorder(parts, r));
  edit("extra-zero-size-odd-names", "same", (p) => {
    for (const n of ["__proto__", "constructor", "toString", "hasOwnProperty", ""]) {
      Object.defineProperty(p.header, n, { value: { dtype: "F32", shape: [0], data_offsets: [dataLen, dataLen] }, enumerable: true, writable: true, configurable: true });
    }
  });

  // Shapes: huge, negative, fractional, of the wrong type, with a lying element count.
  const badShapes: [string, unknown][] = [
    ["huge-2d", [2 ** 40, 2 ** 40]],
    ["over-2^53", [2 ** 30, 2 ** 30, 2 ** 30]],
    ["zero-times-huge", [0, 2 ** 60]],
    ["negative", [-1, 4]],
    ["fractional", [1.5]],
    ["string", "64"],
    ["nested", [[4]]],
    ["one-more", null],
  ];
  for (const [what, value] of badShapes) {
    const n = pick(r, nonEmpty);
    edit(`shape-${what}-${n}`, "error", (p) => {
      const e = p.header[n]!;
      e.shape = value ?? [...(e.shape as number[]).slice(0, -1), (e.shape as number[]).at(-1)! + 1];
    });
  }
  const matrices = nonEmpty.filter((k) => {
    const shape = parts.header[k]!.shape as number[];
    return shape.length >= 2 && shape[0] !== shape.at(-1);
  });
  for (let i = 0; i < 3; i++) {
    const n = pick(r, matrices);
    edit(`shape-transposed-${n}`, "either", (p) => void (p.header[n]!.shape = [...(p.header[n]!.shape as number[])].reverse()), "error");
  }

  // dtypes: unknown, of the wrong type, and integer / byte dtypes where the model expects float weights.
  const badDtypes: [string, unknown, Expect, Expect][] = [
    ["unknown", "F33", "error", "error"],
    ["lowercase", "f32", "error", "error"],
    ["number", 4, "error", "error"],
    ["missing", undefined, "error", "error"],
    ["I32", "I32", "either", "error"],
    ["U32", "U32", "either", "error"],
    ["F4", "F4", "error", "error"],
  ];
  for (const [what, value, fileExpect, modelExpect] of badDtypes) {
    const n = pick(r, nonEmpty.filter((k) => parts.header[k]!.dtype === "F32")) ?? nonEmpty[0]!;
    edit(`dtype-${what}-${n}`, fileExpect, (p) => void (p.header[n]!.dtype = value), modelExpect);
  }
  for (const [dtype, factor] of [["U8", 4], ["BOOL", 4], ["F8_E4M3", 4], ["I16", 2], ["BF16", 2], ["F64", 0.5], ["I64", 0.5]] as const) {
    const n = pick(r, nonEmpty.filter((k) => parts.header[k]!.dtype === "F32" && ((parts.header[k]!.shape as number[]).at(-1)! * factor) % 1 === 0));
    if (!n) continue;
    edit(`dtype-reinterpret-${dtype}-${n}`, "either", (p) => {
      const e = p.header[n]!;
      e.dtype = dtype;
      e.shape = [...(e.shape as number[]).slice(0, -1), (e.shape as number[]).at(-1)! * factor];
    }, "error");
  }

  // Metadata of the wrong kind.
  const badMetadata: [string, unknown][] = [["array", ["pt"]], ["number-value", { format: 1 }], ["nested", { a: { b: "c" } }], ["string", "pt"]];
  for (const [what, value] of badMetadata) edit(`metadata-${what}`, "error", (p) => void (p.header.__metadata__ = value as Entry));
  edit("metadata-null", "same", (p) => void (p.header.__metadata__ = null as unknown as Entry));

  // JSON-level damage: duplicate keys, non-UTF-8 names, entries that are not objects, a non-object header.
  // JSON.parse keeps the last of duplicate keys: a duplicate first is shadowed, a duplicate last leaves a hole.
  const dup = (n: string) => `${JSON.stringify(n)}:${JSON.stringify({ ...parts.header[n], data_offsets: [0, 0], shape: [0] })}`;
  add("duplicate-key-first", "either", () => join(`{${dup(order[0]!)},${JSON.stringify(parts.header).slice(1)}`, parts.data, { pad: parts.pad }));
  add("duplicate-key-last", "error", () => join(`${JSON.stringify(parts.header).slice(0, -1)},${dup(order.at(-1)!)}}`, parts.data, { pad: parts.pad }));
  add("non-utf8-name", "error", () => {
    const h = new TextEncoder().encode(JSON.stringify(parts.header));
    h[h.indexOf(0x2e)] = 0xff;
    return join(null, parts.data, { rawHeader: h });
  });
  edit("entry-not-object", "error", (p) => void (p.header[nonEmpty[0]!] = [1, 2] as unknown as Entry));
  add("header-array", "error", () => join([parts.header], parts.data));
  add("header-empty-object", "error", () => join({}, parts.data));

  // Random damage: bit flips in the header, in the data, anywhere.
  for (let i = 0; i < 24; i++) {
    const where = i % 3 === 0 ? "header" : i % 3 === 1 ? "data" : "any";
    const lo = where === "data" ? headerEnd : where === "header" ? 0 : 0;
    const hi = where === "header" ? headerEnd - 1 : base.length - 1;
    const flips = Array.from({ length: int(r, 1, 4) }, () => [int(r, lo, hi), 1 << int(r, 0, 7)] as const);
    add(`flip-${where}-${flips.map(([at, bit]) => `${at}^${bit}`).join(",")}`, "either", () => {
      const f = base.slice();
      for (const [at, bit] of flips) f[at]! ^= bit;
      return f;
    });
  }
  return cases;
}

/** The file with tensor `name` and its bytes removed (later offsets shifted): valid, one tensor short. */
function dropTensor(p: Parts, name: string): Uint8Array {
  const [b, e] = offs(p.header[name]!);
  const header = structuredClone(p.header);
  delete header[name];
  for (const n of tensorNames({ ...p, header })) {
    const [x, y] = offs(header[n]!);
    if (x >= e) header[n]!.data_offsets = [x - (e - b), y - (e - b)];
  }
  const data = new Uint8Array(p.data.length - (e - b));
  data.set(p.data.subarray(0, b));
  data.set(p.data.subarray(e), b);
  return join(header, data);
}

/** The same tensors with their bytes laid out in a random order. */
function reorder(p: Parts, r: Rng): Uint8Array {
  const names = tensorNames(p);
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  const header = structuredClone(p.header);
  const data = new Uint8Array(p.data.length);
  let at = 0;
  for (const n of names) {
    const [b, e] = offs(p.header[n]!);
    data.set(p.data.subarray(b, e), at);
    header[n]!.data_offsets = [at, at + e - b];
    at += e - b;
  }
  return join(header, data);
}

/** Headers far bigger than any real one: many entries, deep nesting, one huge (valid) metadata string. */
export function hugeHeaderCases(tag: string, base: Uint8Array): FileCase[] {
  const parts = split(base);
  return [
    {
      id: `${tag}/huge-1.6M-zero-size-entries`,
      expect: "error",
      make: () => {
        const entry = new TextEncoder().encode(`"z0000000":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},`);
        const n = 1_600_000;
        const h = new Uint8Array(2 + n * entry.length);
        h[0] = 0x7b;
        h.set(entry, 1);
        const body = n * entry.length;
        for (let filled = entry.length; filled < body; filled *= 2) h.copyWithin(1 + filled, 1, 1 + Math.min(filled, body - filled));
        const hex = new TextEncoder().encode("0123456789abcdef");
        for (let i = 0; i < n; i++) for (let d = 0, v = i; d < 7; d++, v >>= 4) h[1 + i * entry.length + 8 - d] = hex[v & 15]!;
        h[h.length - 2] = 0x20;
        h[h.length - 1] = 0x7d;
        return join(null, new Uint8Array(0), { rawHeader: h });
      },
    },
    {
      id: `${tag}/huge-deep-nesting`,
      expect: "error",
      make: () => join(`{"a":${"[".repeat(5_000_000)}${"]".repeat(5_000_000)}}`, parts.data),
    },
    {
      id: `${tag}/huge-metadata-string`,
      expect: "same",
      make: () => join({ ...parts.header, __metadata__: { blob: "x".repeat(60_000_000) } }, parts.data),
    },
    {
      id: `${tag}/header-over-limit`,
      expect: "error",
      make: () => join({ ...parts.header, __metadata__: { blob: "x".repeat(100_000_001) } }, parts.data),
    },
  ];
}
