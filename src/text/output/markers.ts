/** Marker search over streamed text, shared by the output parsers. */

/** The length of the longest end of `s` that begins some marker without being all of it: text to hold back. */
export function partialMarkerAt(s: string, markers: readonly string[]): number {
  let best = 0;
  for (const m of markers) {
    for (let n = Math.min(m.length - 1, s.length); n > best; n--) {
      if (s.endsWith(m.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}

/** The first marker in `s` (the longest where two start at the same place), or undefined. */
export function firstMarker<T extends string>(s: string, markers: readonly T[]): { at: number; marker: T } | undefined {
  let found: { at: number; marker: T } | undefined;
  for (const m of markers) {
    const i = s.indexOf(m);
    if (i >= 0 && (!found || i < found.at || (i === found.at && m.length > found.marker.length))) found = { at: i, marker: m };
  }
  return found;
}
