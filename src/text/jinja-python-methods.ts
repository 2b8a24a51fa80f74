/**
 * Python string / list methods and Jinja filters that @huggingface/jinja lacks or gets wrong, called
 * through the globals `__py_method` and `__py_filter` that jinja-python.ts rewrites templates into.
 * A method name that is not Python's for the value (a dict key "join", say) falls back to the
 * library's own attribute lookup and call.
 */
import { Environment } from "@huggingface/jinja";
import { str as pyStr, type RuntimeValue } from "./jinja-python-str.js";

export type { RuntimeValue };

type Ctor<T> = new (v: T) => RuntimeValue;

/** The library's value classes, reached through its public Environment (it exports no value class). */
export const values = (() => {
  const probe = new Environment();
  const ctor = <T>(name: string, v: unknown) => probe.set(name, v).constructor as Ctor<T>;
  return {
    Function: ctor<(args: RuntimeValue[], env: Environment) => RuntimeValue>("f", () => null),
    String: ctor<string>("s", ""),
    Integer: ctor<number>("i", 1),
    Boolean: ctor<boolean>("b", true),
    Array: ctor<RuntimeValue[]>("a", []),
    Undefined: ctor<undefined>("u", undefined),
  };
})();

const strValue = (s: string) => new values.String(s);
const intValue = (n: number) => new values.Integer(n);
const boolValue = (b: boolean) => new values.Boolean(b);
const listOfStrings = (xs: string[]) => new values.Array(xs.map(strValue));

/** Methods handled here, by the type they belong to in Python. */
export const STRING_METHODS = new Set([
  "join", "rsplit", "find", "rfind", "count", "index", "splitlines", "removeprefix", "removesuffix",
  "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "zfill", "ljust", "rjust", "center", "capitalize",
]);
export const FILTERS = new Set(["d", "min", "max", "sum", "capitalize", "trim", "upper", "lower", "title"]);

function arg(args: RuntimeValue[], i: number, what: string, type: "StringValue" | "IntegerValue", optional = false): unknown {
  const a = args[i];
  if (a === undefined || a.type === "UndefinedValue" || (optional && a.type === "NullValue")) {
    if (optional) return undefined;
    throw new Error(`${what}: missing argument ${i + 1}`);
  }
  if (a.type !== type) throw new Error(`${what}: argument ${i + 1} must be ${type === "StringValue" ? "a string" : "an integer"}, got ${a.type}`);
  return a.value;
}

const codePoints = (s: string) => [...s];
/** A UTF-16 offset as Python's index in code points. */
const cpIndex = (s: string, utf16: number) => (utf16 < 0 ? -1 : codePoints(s.slice(0, utf16)).length);

function rsplit(s: string, sep: string | undefined, maxsplit: number): string[] {
  if (sep === undefined) {
    const words = s.trim().split(/\s+/).filter(Boolean);
    if (maxsplit < 0 || words.length <= maxsplit + 1) return words;
    // keep the head as one piece, with its inner spacing
    const tail: string[] = [];
    let rest = s.trimEnd();
    for (let i = 0; i < maxsplit; i++) {
      const m = /\s+(\S+)$/.exec(rest)!;
      tail.unshift(m[1]!);
      rest = rest.slice(0, m.index).trimEnd();
    }
    return [rest, ...tail];
  }
  if (sep === "") throw new Error("rsplit: empty separator");
  const parts = s.split(sep);
  if (maxsplit < 0 || parts.length <= maxsplit + 1) return parts;
  return [parts.slice(0, parts.length - maxsplit).join(sep), ...parts.slice(parts.length - maxsplit)];
}

/** Python's line boundaries: \n, \r, \r\n, \v, \f, the separators \x1c-\x1e, \x85, \u2028, \u2029. */
const LINE_BREAKS = new Set(["\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]);

function splitlines(s: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (!LINE_BREAKS.has(s[i]!)) continue;
    lines.push(s.slice(start, i));
    if (s[i] === "\r" && s[i + 1] === "\n") i++;
    start = i + 1;
  }
  if (start < s.length) lines.push(s.slice(start));
  return lines;
}

function pad(s: string, width: number, fill: string, where: "left" | "right" | "center"): string {
  const n = width - codePoints(s).length;
  if (n <= 0) return s;
  if (where === "left") return s + fill.repeat(n);
  if (where === "right") return fill.repeat(n) + s;
  // Python's center puts the extra fill character on the left when the string's length is odd
  const left = Math.floor(n / 2) + (n % 2 && width % 2 ? 1 : 0);
  return fill.repeat(left) + s + fill.repeat(n - left);
}

function stringMethod(s: string, name: string, args: RuntimeValue[]): RuntimeValue {
  const what = `str.${name}`;
  const str = (i: number, optional = false) => arg(args, i, what, "StringValue", optional) as string | undefined;
  const int = (i: number, optional = false) => arg(args, i, what, "IntegerValue", optional) as number | undefined;
  switch (name) {
    case "join": {
      const items = args[0];
      const list = items?.type === "StringValue" ? codePoints(items.value as string).map(strValue) : items?.type === "ArrayValue" || items?.type === "TupleValue" ? (items.value as RuntimeValue[]) : undefined;
      if (!list) throw new Error(`${what}: can only join an iterable`);
      return strValue(
        list
          .map((x, i) => {
            if (x.type !== "StringValue") throw new Error(`${what}: sequence item ${i}: expected str instance, ${x.type} found`);
            return x.value as string;
          })
          .join(s),
      );
    }
    case "rsplit":
      return listOfStrings(rsplit(s, str(0, true), int(1, true) ?? -1));
    case "find":
      return intValue(cpIndex(s, s.indexOf(str(0)!)));
    case "rfind":
      return intValue(cpIndex(s, s.lastIndexOf(str(0)!)));
    case "index": {
      const at = s.indexOf(str(0)!);
      if (at < 0) throw new Error(`${what}: substring not found`);
      return intValue(cpIndex(s, at));
    }
    case "count": {
      const sub = str(0)!;
      return intValue(sub === "" ? codePoints(s).length + 1 : s.split(sub).length - 1);
    }
    case "splitlines":
      return listOfStrings(splitlines(s));
    case "removeprefix": {
      const p = str(0)!;
      return strValue(p && s.startsWith(p) ? s.slice(p.length) : s);
    }
    case "removesuffix": {
      const p = str(0)!;
      return strValue(p && s.endsWith(p) ? s.slice(0, -p.length) : s);
    }
    case "isdigit":
      return boolValue(/^\p{Nd}+$/u.test(s));
    case "isalpha":
      return boolValue(/^\p{L}+$/u.test(s));
    case "isalnum":
      return boolValue(/^[\p{L}\p{N}]+$/u.test(s));
    case "isspace":
      return boolValue(/^\s+$/u.test(s));
    case "islower":
      return boolValue(s !== s.toUpperCase() && s === s.toLowerCase());
    case "isupper":
      return boolValue(s !== s.toLowerCase() && s === s.toUpperCase());
    case "zfill": {
      const width = int(0)!;
      const sign = /^[+-]/.test(s) ? s[0]! : "";
      return strValue(sign + pad(s.slice(sign.length), width - sign.length, "0", "right"));
    }
    case "ljust":
      return strValue(pad(s, int(0)!, str(1, true) ?? " ", "left"));
    case "rjust":
      return strValue(pad(s, int(0)!, str(1, true) ?? " ", "right"));
    case "center":
      return strValue(pad(s, int(0)!, str(1, true) ?? " ", "center"));
    case "capitalize": {
      const [first = "", ...rest] = codePoints(s);
      return strValue(first.toUpperCase() + rest.join("").toLowerCase());
    }
    default:
      throw new Error(`'str' object has no attribute '${name}'`);
  }
}

function same(a: RuntimeValue, b: RuntimeValue): boolean {
  return a.type === b.type ? a.value === b.value : (a.type === "IntegerValue" || a.type === "FloatValue") && (b.type === "IntegerValue" || b.type === "FloatValue") && a.value === b.value;
}

function listMethod(list: RuntimeValue[], name: string, args: RuntimeValue[]): RuntimeValue | undefined {
  if (name === "count") return intValue(list.filter((x) => same(x, args[0]!)).length);
  if (name === "index") {
    const at = list.findIndex((x) => same(x, args[0]!));
    if (at < 0) throw new Error("list.index(x): x not in list");
    return intValue(at);
  }
  return undefined;
}

/** `obj.name(args)` with Python's meaning for strings and lists, else the library's own call. */
export function callMethod(obj: RuntimeValue, name: string, args: RuntimeValue[], env: Environment): RuntimeValue {
  if (obj.type === "StringValue") return stringMethod(obj.value as string, name, args);
  if (obj.type === "ArrayValue" || obj.type === "TupleValue") {
    const r = listMethod(obj.value as RuntimeValue[], name, args);
    if (r) return r;
  }
  const attr = obj.type === "ObjectValue" || obj.type === "NamespaceValue" ? (obj.value as Map<string, RuntimeValue>).get(name) : undefined;
  if (attr?.type === "FunctionValue") return (attr.value as (a: RuntimeValue[], e: Environment) => RuntimeValue)(args, env);
  throw new Error(`'${obj.type}' has no method '${name}'`);
}

function numbers(list: RuntimeValue[], what: string): RuntimeValue[] {
  for (const x of list) if (x.type !== "IntegerValue" && x.type !== "FloatValue" && x.type !== "StringValue") throw new Error(`${what}: cannot compare ${x.type}`);
  return list;
}

/** `value | name(args)` for the filters of FILTERS. */
export function applyFilter(name: string, value: RuntimeValue, args: RuntimeValue[]): RuntimeValue {
  switch (name) {
    case "d": {
      const fallback = args[0] ?? strValue("");
      const boolean = args[1]?.type === "BooleanValue" && args[1].value === true;
      const missing = value.type === "UndefinedValue" || (boolean && !isTruthy(value));
      return missing ? fallback : value;
    }
    case "min":
    case "max": {
      if (value.type !== "ArrayValue" && value.type !== "TupleValue") throw new Error(`${name}: expected a list, got ${value.type}`);
      const list = numbers(value.value as RuntimeValue[], name);
      if (list.length === 0) return new values.Undefined(undefined);
      return list.reduce((best, x) => ((name === "min" ? (x.value as number) < (best.value as number) : (x.value as number) > (best.value as number)) ? x : best));
    }
    case "sum": {
      if (value.type !== "ArrayValue" && value.type !== "TupleValue") throw new Error(`sum: expected a list, got ${value.type}`);
      const list = value.value as RuntimeValue[];
      let total = args[0] && args[0].type === "IntegerValue" ? (args[0].value as number) : 0;
      let float = false;
      for (const x of list) {
        if (x.type !== "IntegerValue" && x.type !== "FloatValue") throw new Error(`sum: cannot add ${x.type}`);
        float ||= x.type === "FloatValue";
        total += x.value as number;
      }
      return float ? new (Object.getPrototypeOf(list.find((x) => x.type === "FloatValue")!).constructor as Ctor<number>)(total) : intValue(total);
    }
    // String filters convert their operand with str() first, as Jinja's soft_str does: undefined is "".
    case "capitalize":
      return stringMethod(toStr(value), "capitalize", []);
    case "trim": {
      const chars = args[0]?.type === "StringValue" ? new Set(args[0].value as string) : undefined;
      const cps = codePoints(toStr(value));
      if (!chars) return strValue(cps.join("").trim());
      let a = 0;
      let b = cps.length;
      while (a < b && chars.has(cps[a]!)) a++;
      while (b > a && chars.has(cps[b - 1]!)) b--;
      return strValue(cps.slice(a, b).join(""));
    }
    case "upper":
      return strValue(toStr(value).toUpperCase());
    case "lower":
      return strValue(toStr(value).toLowerCase());
    case "title":
      return strValue(toStr(value).replace(/\p{L}+/gu, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase()));
    default:
      throw new Error(`no filter named '${name}'`);
  }
}

function toStr(v: RuntimeValue): string {
  return v.type === "StringValue" ? (v.value as string) : pyStr(v);
}

function isTruthy(v: RuntimeValue): boolean {
  if (v.type === "ArrayValue" || v.type === "TupleValue") return (v.value as unknown[]).length > 0;
  if (v.type === "ObjectValue") return (v.value as Map<string, unknown>).size > 0;
  return Boolean(v.value);
}
