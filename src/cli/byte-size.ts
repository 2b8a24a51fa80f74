/** A byte count as users write it for --max-memory: 2G, 1.5GiB, 512M, 800MB, 1e9 (K/M/G/T are powers of 1024). */
const UNITS: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

export function parseByteSize(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`${flag} must be a size such as 2G, 512M or 1500000000, got '${text}'`);
  return bytes;
}
