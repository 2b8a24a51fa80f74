/**
 * Stop strings over streamed text: text is let through as soon as it cannot be the start of a stop
 * string; a tail that could be (a stop string split across two pieces) is held back until the next
 * piece decides. At a match, the text before it is the last of the output.
 */
export class StopStrings {
  private held = "";
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** The text that is safe to show, and whether a stop string was reached (nothing after it is shown). */
  push(text: string): { text: string; stopped: boolean } {
    const all = this.held + text;
    if (this.stops.length === 0) {
      this.held = "";
      return { text: all, stopped: false };
    }
    let at = -1;
    for (const s of this.stops) {
      const i = all.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.held = "";
      return { text: all.slice(0, at), stopped: true };
    }
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, all.length); k > keep; k--) {
        if (all.endsWith(s.slice(0, k))) {
          keep = k;
          break;
        }
      }
    }
    this.held = all.slice(all.length - keep);
    return { text: all.slice(0, all.length - keep), stopped: false };
  }

  /** The end of the output: whatever was held back is text after all. */
  flush(): string {
    const h = this.held;
    this.held = "";
    return h;
  }
}
