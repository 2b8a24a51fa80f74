/**
 * llama.cpp's pre-tokenizer split (src/unicode.cpp `unicode_regex_split`): a list of patterns applied in
 * turn, each splitting every current segment into its matches and the gaps between them. Patterns with
 * a hand-written scanner run that (custom-splits.ts); any other runs as a regex the way llama.cpp runs
 * it with std::regex, reproduced here with JS regexes:
 *
 * - a pattern that names Unicode categories (\p{L}, \p{N}, \p{P}, \p{M}, \p{S}, \p{Lu}...) runs on a
 *   "collapsed" text where every code point ≥ 128 is one stand-in character for its category (or for
 *   whitespace), with each \p{...} rewritten to its stand-in plus the ASCII members of the category —
 *   note that \p{Lu}, \p{Ll}... all become "any letter", as in llama.cpp;
 * - any other pattern runs on the code points themselves, non-ASCII whitespace replaced by \v (C++'s
 *   \s is ASCII-only, so \s here is rewritten to the ASCII set).
 */
import { splitGpt2, splitLlama3Like, splitNewlines } from "./custom-splits.js";
import { ACCENT_MARK, CATEGORIES, cptFlags, LETTER, NUMBER, PUNCTUATION, SYMBOL, WHITESPACE } from "./unicode.js";

type Splitter = (cps: readonly number[], offsets: readonly number[]) => number[];

const L3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const CUSTOM = new Map<string, Splitter>([
  ["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", splitGpt2],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", splitLlama3Like(3, false)],
  [`${L3}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`, splitLlama3Like(3, false)],
  [`${L3}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`, splitLlama3Like(1, false)],
  [`${L3}|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`, splitLlama3Like(1, true)],
  ["[^\\n]+|[\\n]+", splitNewlines],
]);

/** Patterns llama.cpp runs through scanners moekit does not have. */
const UNSUPPORTED = new Set(["\\p{Han}+", "\\p{AFMoE_digits}", "\\d{1,3}(?=(?:\\d{3})*\\b)"]);

/** \p{...} names llama.cpp collapses, and the category each stands for. */
const UCAT: Record<string, number> = {
  "\\p{N}": NUMBER,
  "\\p{L}": LETTER,
  "\\p{P}": PUNCTUATION,
  "\\p{M}": ACCENT_MARK,
  "\\p{S}": SYMBOL,
  "\\p{Lu}": LETTER,
  "\\p{Ll}": LETTER,
  "\\p{Lt}": LETTER,
  "\\p{Lm}": LETTER,
  "\\p{Lo}": LETTER,
};
/** The stand-in character of each category in collapsed text, and the category's ASCII members as class text. */
const STAND_IN: Record<number, [string, string]> = {
  [NUMBER]: ["\u00d1", "0-9"],
  [LETTER]: ["\u00d2", "A-Za-z"],
  [PUNCTUATION]: ["\u00d3", "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"],
  [ACCENT_MARK]: ["\u00d4", ""],
  [SYMBOL]: ["\u00d5", "\\$\\+<->\\^`\\|~"],
};
const OTHER = "\u00d0";
const VT = "\u000b";

function usesCategories(pattern: string): boolean {
  return Object.keys(UCAT).some((k) => pattern.includes(k));
}

/** Collapsed text: ASCII kept, whitespace → \v, other code points → their category's stand-in. */
function collapse(cps: readonly number[]): string {
  let s = "";
  for (const cp of cps) {
    if (cp < 128) {
      s += String.fromCharCode(cp);
      continue;
    }
    const f = cptFlags(cp);
    s += f & WHITESPACE ? VT : (STAND_IN[f & CATEGORIES]?.[0] ?? OTHER);
  }
  return s;
}

/** The pattern with each \p{...} replaced by its stand-in and ASCII members (brackets added outside classes). */
function collapsedPattern(pattern: string): RegExp {
  if ([...pattern].some((c) => c.codePointAt(0)! >= 128)) throw new Error(`pre-tokenizer pattern mixes Unicode categories and non-ASCII characters: ${pattern}`);
  let out = "";
  let inside = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "[" && (i === 0 || pattern[i - 1] !== "\\")) {
      out += c;
      inside = true;
      continue;
    }
    if (inside && c === "]" && pattern[i - 1] !== "\\") {
      out += c;
      inside = false;
      continue;
    }
    if (c === "\\" && pattern[i + 1] === "p" && pattern[i + 2] === "{") {
      const close = pattern.indexOf("}", i + 3);
      const name = close > 0 ? pattern.slice(i, close + 1) : "";
      const cat = UCAT[name];
      if (cat !== undefined) {
        const [stand, ascii] = STAND_IN[cat]!;
        out += inside ? stand + ascii : `[${stand}${ascii}]`;
        i = close;
        continue;
      }
    }
    out += c;
  }
  return new RegExp(out, "g");
}

/** The pattern over code points, with C++'s ASCII-only \s and \S. */
function widePattern(pattern: string): RegExp {
  const ASCII_WS = "\\t\\n\\v\\f\\r ";
  let out = "";
  let inside = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") {
      const n = pattern[i + 1];
      if (n === "s") out += inside ? ASCII_WS : `[${ASCII_WS}]`;
      else if (n === "S" && !inside) out += `[^${ASCII_WS}]`;
      else if (n === "S") throw new Error(`pre-tokenizer pattern has \\S inside a class: ${pattern}`);
      else out += c + (n ?? "");
      i++;
      continue;
    }
    if (c === "[") inside = true;
    else if (c === "]") inside = false;
    out += c;
  }
  return new RegExp(out, "gu");
}

/** Splits every segment of `units` (one JS string per code point sequence) by `re`: matches and gaps. */
function splitByRegex(cps: readonly number[], offsets: readonly number[], re: RegExp, text: (start: number, end: number) => string, wide: boolean): number[] {
  const out: number[] = [];
  let start = 0;
  for (const len of offsets) {
    const seg = text(start, start + len);
    // Indices of the JS string are UTF-16 units; convert them to code point counts in wide mode.
    const cpIndex = wide ? unitToCodePoint(seg) : null;
    const at = (u: number) => (cpIndex ? cpIndex[u]! : u);
    let done = 0;
    re.lastIndex = 0;
    for (let m = re.exec(seg); m !== null; m = re.exec(seg)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const b = at(m.index);
      const e = at(m.index + m[0].length);
      if (b > done) out.push(b - done);
      out.push(e - b);
      done = e;
    }
    if (done < len) out.push(len - done);
    start += len;
  }
  return out;
}

function unitToCodePoint(s: string): Uint32Array {
  const map = new Uint32Array(s.length + 1);
  let cp = 0;
  for (let u = 0; u < s.length; u++) {
    map[u] = cp;
    const c = s.charCodeAt(u);
    if (c >= 0xd800 && c <= 0xdbff && u + 1 < s.length) {
      map[++u] = cp;
    }
    cp++;
  }
  map[s.length] = cp;
  return map;
}

export interface CompiledSplit {
  split(cps: readonly number[]): number[][];
}

/** Compiles a pre-tokenizer's pattern list once; split() returns the words as code point arrays. */
export function compileSplit(patterns: readonly string[]): CompiledSplit {
  const steps = patterns.map((p) => {
    if (UNSUPPORTED.has(p)) throw new Error(`moekit does not implement llama.cpp's custom pre-tokenizer scanner for '${p}'`);
    const custom = CUSTOM.get(p);
    if (custom) return { kind: "custom" as const, custom };
    if (usesCategories(p)) return { kind: "collapsed" as const, re: collapsedPattern(p) };
    return { kind: "wide" as const, re: widePattern(p) };
  });
  return {
    split(cps) {
      let offsets = [cps.length];
      let collapsed: string | null = null;
      let wide: string[] | null = null;
      for (const step of steps) {
        if (step.kind === "custom") {
          offsets = step.custom(cps, offsets);
        } else if (step.kind === "collapsed") {
          collapsed ??= collapse(cps);
          const c = collapsed;
          offsets = splitByRegex(cps, offsets, step.re, (s, e) => c.slice(s, e), false);
        } else {
          wide ??= cps.map((cp) => (cp >= 128 && cptFlags(cp) & WHITESPACE ? VT : String.fromCodePoint(cp)));
          const w = wide;
          offsets = splitByRegex(cps, offsets, step.re, (s, e) => w.slice(s, e).join(""), true);
        }
      }
      const words: number[][] = [];
      let start = 0;
      for (const len of offsets) {
        words.push(cps.slice(start, start + len) as number[]);
        start += len;
      }
      return words;
    },
  };
}
