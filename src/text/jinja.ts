/**
 * Chat templates rendered through @huggingface/jinja in the environment transformers gives them
 * (`_compile_jinja_template`): trim_blocks and lstrip_blocks, loop controls, the globals
 * `raise_exception` and `strftime_now`, and a `tojson` that keeps non-ASCII text and takes indent /
 * separators / sort_keys / ensure_ascii (the library implements that filter with the same options);
 * printing and string stripping follow Python (jinja-python.ts). What still differs from Python's
 * Jinja2 is listed in docs/text.md.
 */
import { Environment, Interpreter, Template } from "@huggingface/jinja";
import { definePythonGlobals, pythonSemantics } from "./jinja-python.js";
import { strftime } from "./strftime.js";

/** A template's own refusal (`raise_exception(...)`) or a rendering failure, naming the template. */
export class ChatTemplateError extends Error {
  override name = "ChatTemplateError";
}

const compiled = new Map<string, Template>();
const MAX_CACHED = 32;

function compile(source: string, name: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
      pythonSemantics(t.parsed);
    } catch (e) {
      throw new ChatTemplateError(`${name} does not parse: ${(e as Error).message}`);
    }
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, t);
  }
  return t;
}

/** Python's range(), which the library has but does not export. */
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new ChatTemplateError("range() arg 3 must not be zero");
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

/** A template's refusal carries the template's own words, as transformers' TemplateError does. */
class TemplateRaised extends Error {}

function globals(now: () => Date): Record<string, unknown> {
  return {
    true: true,
    false: false,
    none: null,
    True: true,
    False: false,
    None: null,
    range,
    raise_exception: (message: unknown) => {
      throw new TemplateRaised(String(message));
    },
    strftime_now: (format: unknown) => strftime(now(), String(format)),
  };
}

export interface RenderOptions {
  /** The clock `strftime_now` reads (default: the current time). */
  now?: () => Date;
  /** Names the template in errors ("'default'", "'tool_use'", "given as a string"). */
  label?: string;
}

/**
 * Renders `source` with `variables` (messages, tools, add_generation_prompt, special tokens, the
 * caller's kwargs). Variables shadow the globals, as render() kwargs do in Python.
 */
export function renderTemplate(source: string, variables: Record<string, unknown>, opts: RenderOptions = {}): string {
  const name = opts.label ? `chat template ${opts.label}` : "the chat template";
  const template = compile(source, name);
  const root = new Environment();
  for (const [k, v] of Object.entries(globals(opts.now ?? (() => new Date())))) root.set(k, v);
  definePythonGlobals(root);
  const scope = new Environment(root);
  for (const [k, v] of Object.entries(variables)) scope.set(k, v);
  try {
    return new Interpreter(scope).run(template.parsed).value as string;
  } catch (e) {
    if (e instanceof TemplateRaised) throw new ChatTemplateError(e.message);
    throw new ChatTemplateError(`${name} failed: ${(e as Error).message}`);
  }
}
