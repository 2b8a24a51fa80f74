/**
 * A structural pass over JSON bytes before JSON.parse, whose cost explodes on hostile input: V8 takes
 * seconds per million levels of nesting (minutes for a 100 MB file of '['), and memory grows with the
 * number of objects. Strings are skipped with a native search, so long strings cost almost nothing.
 */

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export interface JsonScanLimits {
  maxDepth: number;
  /** The error for nesting past maxDepth at byte `at`. */
  tooDeep(at: number): Error;
  /** Objects opened at depth 2 (the root's members), e.g. safetensors entries. */
  maxObjectsAtDepth2?: number;
  tooMany?(): Error;
}

/** Throws the limit's error when the bytes nest too deep or hold too many depth-2 objects; malformed JSON is left to JSON.parse. */
export function scanJson(bytes: Uint8Array, limits: JsonScanLimits): void {
  const maxObjects = limits.maxObjectsAtDepth2 ?? Infinity;
  let depth = 0;
  let objects = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === QUOTE) {
      i = closingQuote(bytes, i);
      if (i < 0) return;
    } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      if (++depth > limits.maxDepth) throw limits.tooDeep(i);
      if (depth === 2 && b === OPEN_OBJECT && ++objects > maxObjects) throw limits.tooMany!();
    } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
      depth--;
    }
  }
}

/** Index of the quote that ends the string opened at `open`; -1 if none. */
function closingQuote(bytes: Uint8Array, open: number): number {
  let q = bytes.indexOf(QUOTE, open + 1);
  while (q > 0) {
    let slashes = 0;
    while (bytes[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q;
    q = bytes.indexOf(QUOTE, q + 1);
  }
  return -1;
}

/** A JSON object from bytes: bounded depth, UTF-8, and an object at the top; errors name `where`. */
export function parseJsonObject(where: string, bytes: Uint8Array, maxDepth: number): Record<string, unknown> {
  scanJson(bytes, { maxDepth, tooDeep: (at) => new Error(`${where}: JSON nests deeper than ${maxDepth} levels (byte ${at})`) });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${where}: not valid UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${where}: must hold a JSON object`);
  return value as Record<string, unknown>;
}
