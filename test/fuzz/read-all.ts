/**
 * Read every tensor of a safetensors file the way a loader would (the expectation its stored dtype
 * calls for) and fingerprint what came back; the same fingerprints computed straight from the file's
 * bytes are the oracle that a read returned exactly the bytes its header points at.
 */
import type { SafetensorsFile, TensorExpectation } from "../../src/loading/safetensors.js";

/** The expectation a loader would state for a stored dtype; null: moekit reads it in no form. */
export function expectationFor(stored: string): TensorExpectation | null {
  if (["F32", "BF16", "F16", "F64"].includes(stored)) return "float";
  if (stored === "I32" || stored === "I64") return "int";
  if (stored === "U8") return "u8-blocks";
  if (stored === "F8_E8M0") return "e8m0-scales";
  if (stored === "F8_E4M3") return "fp8";
  return null;
}

/** FNV-1a over bytes, as 8 hex digits. */
export function fingerprint(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return `${bytes.length}:${h.toString(16).padStart(8, "0")}`;
}

function bytesOfView(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * What moekit should hand back for a tensor stored as `stored` with file bytes `raw`: the bytes
 * themselves, F64 narrowed to float32, I64 narrowed to int32 (null when a value is out of range).
 */
export function expectedBytes(stored: string, raw: Uint8Array): Uint8Array | null {
  const copy = raw.slice();
  if (stored === "F64") return bytesOfView(Float32Array.from(new Float64Array(copy.buffer)));
  if (stored === "I64") {
    const src = new BigInt64Array(copy.buffer);
    const out = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      if (src[i]! > 2147483647n || src[i]! < -2147483648n) return null;
      out[i] = Number(src[i]!);
    }
    return bytesOfView(out);
  }
  return copy;
}

/** Fingerprint of every tensor as read through moekit; unreadable dtypes must fail with a clean error. */
export async function readAll(file: SafetensorsFile): Promise<Record<string, string>> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>; // "__proto__" is a valid tensor name
  for (const name of file.keys()) {
    const info = file.info(name);
    const expect = expectationFor(info.stored);
    if (expect === null) {
      await file.tensor(name).then(
        () => {
          throw new Error(`BUG: ${info.stored} tensor '${name}' was read as float`);
        },
        (e: unknown) => {
          if (!(e instanceof Error) || !/is expected here/.test(e.message)) throw e;
        },
      );
      out[name] = "unreadable";
    } else if (expect === "float" || expect === "int") {
      const t = await file.tensor(name, { expect });
      out[name] = fingerprint(bytesOfView(t.hostStorage()));
    } else {
      out[name] = fingerprint((await file.bytes(name, { expect })).bytes);
    }
  }
  return out;
}

/**
 * The oracle for readAll: fingerprints computed from the file bytes and an independent parse of the
 * header (JSON.parse, offsets taken at face value). Only meaningful for a file moekit accepted.
 */
export function fingerprintsFromBytes(file: Uint8Array): Record<string, string> {
  const len = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + len))) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out: Record<string, string> = Object.create(null) as Record<string, string>; // "__proto__" is a valid tensor name
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (expectationFor(e.dtype) === null) {
      out[name] = "unreadable";
      continue;
    }
    const raw = file.subarray(8 + len + e.data_offsets[0], 8 + len + e.data_offsets[1]);
    const want = expectedBytes(e.dtype, raw);
    out[name] = want === null ? "out-of-range" : fingerprint(want);
  }
  return out;
}
