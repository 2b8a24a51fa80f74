/** Short renderings of untrusted values for error messages (a name or a shape may be megabytes long). */

const MAX = 120;

function cut(s: string): string {
  return s.length <= MAX ? s : `${s.slice(0, MAX)}… (${s.length} chars)`;
}

/** A tensor name, quoted and shortened. */
export function briefName(name: string): string {
  return `'${cut(name)}'`;
}

/** Any JSON value, shortened. */
export function briefJson(value: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch {
    s = undefined;
  }
  return cut(s ?? String(value));
}
