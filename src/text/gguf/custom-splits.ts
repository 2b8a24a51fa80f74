/**
 * The pre-tokenizer splits llama.cpp runs as hand-written scanners instead of regexes (src/unicode.cpp
 * `unicode_regex_split_custom_*`): GPT-2's pattern, the llama3 / qwen2 / qwen3.5 family, and splitting
 * on newline runs. They are reproduced by behaviour, quirks included (a run of spaces before a word
 * leaves its last space to the word; a number run in llama3 splits every 3 digits; undefined code
 * points outside any class end up alone), since the ids must equal llama.cpp's.
 *
 * Each splitter takes the code points and the lengths of the current segments and returns the
 * lengths of the finer segments.
 */
import { ACCENT_MARK, asciiLower, cptFlags, LETTER, NUMBER, WHITESPACE } from "./unicode.js";

const OUT = -1;
type Scan = (cps: readonly number[], ini: number, end: number, push: (len: number) => void) => void;

function eachSegment(cps: readonly number[], offsets: readonly number[], scan: Scan): number[] {
  const out: number[] = [];
  const push = (len: number) => {
    if (len > 0) out.push(len);
  };
  let start = 0;
  for (const len of offsets) {
    scan(cps, start, start + len, push);
    start += len;
  }
  return out;
}

/** Accessors bounded to one segment: outside it a code point is OUT and its flags are 0. */
function segment(cps: readonly number[], ini: number, end: number) {
  return {
    cpt: (p: number) => (p >= ini && p < end ? cps[p]! : OUT),
    flags: (p: number) => (p >= ini && p < end ? cptFlags(cps[p]!) : 0),
  };
}

/** 's 't 're 've 'm 'll 'd at p (case-insensitive when `fold`): the contraction's length, or 0. */
function contraction(cpt: (p: number) => number, p: number, end: number, fold: boolean): number {
  if (cpt(p) !== 0x27 || p + 1 >= end) return 0;
  const low = (c: number) => (fold ? asciiLower(c) : c);
  const a = low(cpt(p + 1));
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2;
  if (p + 2 >= end) return 0;
  const b = low(cpt(p + 2));
  if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3;
  return 0;
}

/** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
export function splitGpt2(cps: readonly number[], offsets: readonly number[]): number[] {
  return eachSegment(cps, offsets, (cps, ini, end, push) => {
    const { cpt, flags } = segment(cps, ini, end);
    let prev = ini;
    const add = (to: number) => {
      push(to - prev);
      const n = to - prev;
      prev = to;
      return n;
    };
    for (let pos = ini; pos < end; ) {
      const c = contraction(cpt, pos, end, false);
      if (c) {
        pos += add(pos + c);
        continue;
      }
      const cp = cpt(pos);
      let f2 = cp === 0x20 ? flags(pos + 1) : flags(pos);
      const lead = cp === 0x20 ? 1 : 0;
      const runOf = (ok: (f: number) => boolean) => {
        pos += lead;
        while (ok(f2)) f2 = flags(++pos);
        add(pos);
      };
      if (f2 & LETTER) {
        runOf((f) => (f & LETTER) !== 0);
        continue;
      }
      if (f2 & NUMBER) {
        runOf((f) => (f & NUMBER) !== 0);
        continue;
      }
      const other = (f: number) => !(f & (WHITESPACE | LETTER | NUMBER)) && f !== 0;
      if (other(f2)) {
        runOf(other);
        continue;
      }
      let ws = 0;
      while (flags(pos + ws) & WHITESPACE) ws++;
      if (ws > 1 && cpt(pos + ws) !== OUT) {
        pos += ws - 1;
        add(pos);
        continue;
      }
      if (ws > 0) {
        pos += ws;
        add(pos);
        continue;
      }
      add(++pos);
    }
  });
}

/**
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * with D = 3 (llama3) or 1 (qwen2); `marks` makes \p{M} count as a letter (qwen3.5).
 */
export function splitLlama3Like(maxDigits: number, marks: boolean): (cps: readonly number[], offsets: readonly number[]) => number[] {
  const LET = marks ? LETTER | ACCENT_MARK : LETTER;
  return (cps, offsets) =>
    eachSegment(cps, offsets, (cps, ini, end, push) => {
      const { cpt, flags } = segment(cps, ini, end);
      let prev = ini;
      const add = (to: number) => {
        const n = to - prev;
        push(n);
        prev = to;
        return n;
      };
      for (let pos = ini; pos < end; ) {
        const c = contraction(cpt, pos, end, true);
        if (c) {
          pos += add(pos + c);
          continue;
        }
        const cp = cpt(pos);
        const f = flags(pos);
        if (!(cp === 0x0d || cp === 0x0a || f & NUMBER) && (f & LET || flags(pos + 1) & LET)) {
          pos++;
          while (flags(pos) & LET) pos++;
          add(pos);
          continue;
        }
        if (f & NUMBER) {
          let run = pos;
          while (flags(pos) & NUMBER) {
            if (++pos - run >= maxDigits) {
              add(pos);
              run = pos;
            }
          }
          add(pos);
          continue;
        }
        let f2 = cp === 0x20 ? flags(pos + 1) : f;
        const other = (g: number) => !(g & (WHITESPACE | LET | NUMBER));
        if (other(f2) && f !== 0) {
          pos += cp === 0x20 ? 1 : 0;
          while (other(f2) && f2 !== 0) f2 = flags(++pos);
          while (cpt(pos) === 0x0d || cpt(pos) === 0x0a) pos++;
          add(pos);
          continue;
        }
        let ws = 0;
        let lastNewline = 0;
        while (flags(pos + ws) & WHITESPACE) {
          const c2 = cpt(pos + ws);
          if (c2 === 0x0d || c2 === 0x0a) lastNewline = pos + ws + 1;
          ws++;
        }
        if (lastNewline > 0) {
          pos = lastNewline;
          add(pos);
          continue;
        }
        if (ws > 1 && cpt(pos + ws) !== OUT) {
          pos += ws - 1;
          add(pos);
          continue;
        }
        if (ws > 0) {
          pos += ws;
          add(pos);
          continue;
        }
        add(++pos);
      }
    });
}

/** [^\n]+|[\n]+ : runs of non-newlines and runs of newlines. */
export function splitNewlines(cps: readonly number[], offsets: readonly number[]): number[] {
  return eachSegment(cps, offsets, (cps, ini, end, push) => {
    let pos = ini;
    while (pos < end) {
      const nl = cps[pos] === 0x0a;
      const run = pos;
      while (pos < end && (cps[pos] === 0x0a) === nl) pos++;
      push(pos - run);
    }
  });
}
