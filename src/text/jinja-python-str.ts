/** Python's str() and repr() of Jinja runtime values, as Jinja2 prints them. */

/** The parts of a runtime value these read: its kind and its JS value. */
export interface RuntimeValue {
  type: string;
  value: unknown;
}

function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 16) {
    const [mant, e] = x.toExponential().split("e") as [string, string];
    const sign = e.startsWith("-") ? "-" : "+";
    return `${mant}e${sign}${e.replace(/^[+-]/, "").padStart(2, "0")}`;
  }
  const s = String(x);
  return s.includes(".") ? s : `${s}.0`;
}

function stringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

function repr(v: RuntimeValue): string {
  switch (v.type) {
    case "StringValue":
      return stringRepr(v.value as string);
    case "ArrayValue":
      return `[${(v.value as RuntimeValue[]).map(repr).join(", ")}]`;
    case "TupleValue": {
      const items = (v.value as RuntimeValue[]).map(repr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    }
    case "ObjectValue":
    case "KeywordArgumentsValue":
    case "NamespaceValue": {
      const entries = [...(v.value as Map<string, RuntimeValue>).entries()].map(([k, x]) => `${stringRepr(k)}: ${repr(x)}`);
      const body = `{${entries.join(", ")}}`;
      return v.type === "NamespaceValue" ? `<Namespace ${body}>` : body;
    }
    default:
      return str(v);
  }
}

/** Python's str() of a template value, as Jinja2 prints it. */
export function str(v: RuntimeValue): string {
  switch (v.type) {
    case "StringValue":
      return v.value as string;
    case "UndefinedValue":
      return "";
    case "NullValue":
      return "None";
    case "BooleanValue":
      return v.value ? "True" : "False";
    case "IntegerValue":
      return String(v.value);
    case "FloatValue":
      return floatRepr(v.value as number);
    case "FunctionValue":
      return "<function>";
    default:
      return repr(v);
  }
}
