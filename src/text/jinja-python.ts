/**
 * Python semantics where @huggingface/jinja follows JavaScript's and real chat templates notice:
 *
 * - printing: `{{ x }}` writes Python's str(x): True / False, None, 2.0, 1e-05, and dicts and lists
 *   as Python reprs ({'a': 1}); the library writes true / false, nothing, 2, and JSON;
 * - `~` and the `string` filter convert with str() too (the library refuses None);
 * - `s.strip(chars)`, `s.lstrip(chars)`, `s.rstrip(chars)` strip the given characters (Qwen3, GLM and
 *   others call `.strip('\n')`); the library ignores the argument and strips all whitespace;
 * - string and list methods and filters the library lacks (jinja-python-methods.ts).
 *
 * Done by rewriting the parsed template once, at compile time: those expressions become calls of
 * globals defined here (`__py_str`, `__py_strip`, `__py_method`, `__py_filter`). The library's
 * interpreter dispatches on the nodes' `type` field, so the rewritten nodes are plain objects of the
 * same shape as the parser's.
 */
import type { Environment } from "@huggingface/jinja";
import { applyFilter, callMethod, FILTERS, STRING_METHODS, values, type RuntimeValue } from "./jinja-python-methods.js";
import { str } from "./jinja-python-str.js";

interface Node {
  type: string;
  [field: string]: unknown;
}

export const STR = "__py_str";
export const STRIP = "__py_strip";
export const METHOD = "__py_method";
export const FILTER = "__py_filter";

// ---------------------------------------------------------------- str.strip(chars)

function strip(s: string, chars: string | null, mode: string): string {
  if (chars === null) return mode === "lstrip" ? s.trimStart() : mode === "rstrip" ? s.trimEnd() : s.trim();
  const set = new Set(chars);
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  if (mode !== "rstrip") while (a < b && set.has(cps[a]!)) a++;
  if (mode !== "lstrip") while (b > a && set.has(cps[b - 1]!)) b--;
  return cps.slice(a, b).join("");
}

// ---------------------------------------------------------------- the globals

const fn = (f: (args: RuntimeValue[], env: Environment) => RuntimeValue) => new values.Function(f) as never;
const name = (v: RuntimeValue | undefined) => String(v?.value);

/** Defines the globals the rewritten templates call in `env`. */
export function definePythonGlobals(env: Environment): void {
  env.variables.set(STR, fn((args) => new values.String(str(args[0] ?? { type: "UndefinedValue", value: undefined }))));
  env.variables.set(
    STRIP,
    fn(([target, mode, chars]) => {
      if (!target || target.type !== "StringValue") throw new Error(`${name(mode)}() is a string method, called on ${target?.type ?? "nothing"}`);
      if (chars && chars.type !== "StringValue" && chars.type !== "NullValue" && chars.type !== "UndefinedValue") throw new Error(`${name(mode)} arg must be None or str`);
      const set = chars && chars.type === "StringValue" ? (chars.value as string) : null;
      return new values.String(strip(target.value as string, set, name(mode)));
    }),
  );
  env.variables.set(METHOD, fn(([target, method, ...args], e) => callMethod(target!, name(method), args, e)));
  env.variables.set(FILTER, fn(([filter, operand, ...args]) => applyFilter(name(filter), operand!, args)));
}

// ---------------------------------------------------------------- the rewrite

const STATEMENT_LISTS = ["body", "alternate", "defaultBlock"];
/** Statements that print nothing themselves, and text (a string prints as itself). */
const NOT_PRINTED = new Set(["Set", "If", "For", "Macro", "CallStatement", "FilterStatement", "Break", "Continue", "Comment", "StringLiteral"]);

const isNode = (v: unknown): v is Node => v !== null && typeof v === "object" && typeof (v as Node).type === "string";
const ident = (name: string): Node => ({ type: "Identifier", value: name });
const call = (name: string, args: Node[]): Node => ({ type: "CallExpression", callee: ident(name), args });

function printed(stmt: Node): Node {
  return NOT_PRINTED.has(stmt.type) ? stmt : call(STR, [stmt]);
}

function rewriteNode(node: Node): Node {
  for (const [key, child] of Object.entries(node)) {
    if (Array.isArray(child)) {
      const items = child.map((c: unknown) => (isNode(c) ? rewriteNode(c) : c));
      node[key] = STATEMENT_LISTS.includes(key) && node.type !== "ArrayLiteral" && node.type !== "TupleLiteral" ? items.map((c) => (isNode(c) ? printed(c) : c)) : items;
    } else if (child instanceof Map) {
      node[key] = new Map([...child.entries()].map(([k, v]) => [isNode(k) ? rewriteNode(k) : k, isNode(v) ? rewriteNode(v) : v]));
    } else if (isNode(child) && key !== "operator") {
      node[key] = rewriteNode(child);
    }
  }
  const literal = (value: unknown): Node => ({ type: "StringLiteral", value });
  // x.strip(chars) / x.lstrip(chars) / x.rstrip(chars), and the methods of STRING_METHODS
  if (node.type === "CallExpression" && isNode(node.callee) && node.callee.type === "MemberExpression" && !node.callee.computed) {
    const prop = node.callee.property as Node;
    const args = node.args as Node[];
    if (prop.type === "Identifier" && ["strip", "lstrip", "rstrip"].includes(prop.value as string) && args.length === 1 && args[0]!.type !== "KeywordArgumentExpression") {
      return call(STRIP, [node.callee.object as Node, literal(prop.value), args[0]!]);
    }
    if (prop.type === "Identifier" && STRING_METHODS.has(prop.value as string)) return call(METHOD, [node.callee.object as Node, literal(prop.value), ...args]);
  }
  // x | string, and the filters of FILTERS
  if (node.type === "FilterExpression" && isNode(node.filter)) {
    const f = node.filter;
    if (f.type === "Identifier" && f.value === "string") return call(STR, [node.operand as Node]);
    if (f.type === "Identifier" && FILTERS.has(f.value as string)) return call(FILTER, [literal(f.value), node.operand as Node]);
    if (f.type === "CallExpression" && isNode(f.callee) && f.callee.type === "Identifier" && FILTERS.has(f.callee.value as string)) {
      return call(FILTER, [literal(f.callee.value), node.operand as Node, ...(f.args as Node[])]);
    }
  }
  // a ~ b
  if (node.type === "BinaryExpression" && (node.operator as { value?: unknown }).value === "~") {
    node.left = call(STR, [node.left as Node]);
    node.right = call(STR, [node.right as Node]);
  }
  return node;
}

/** Rewrites a parsed template (the library's Program) in place for the Python semantics above. */
export function pythonSemantics<T extends object>(program: T): T {
  rewriteNode(program as unknown as Node);
  return program;
}
