/**
 * Request bodies checked against their JSON schema (ajv, no type coercion): the first violation
 * becomes an HTTP 400 naming the parameter, in OpenAI's error shape.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { badRequest } from "./errors.js";

const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, strict: false });
const compiled = new Map<object, ValidateFunction>();

/** Path of the offending value as OpenAI writes it: messages[0].role. */
function paramOf(e: ErrorObject): string {
  const parts = e.instancePath.split("/").slice(1);
  if (e.keyword === "required") parts.push(String((e.params as { missingProperty: string }).missingProperty));
  return parts.reduce((s, p) => (/^\d+$/.test(p) ? `${s}[${p}]` : s ? `${s}.${p}` : p), "");
}

function describe(e: ErrorObject, param: string): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `Missing required parameter: '${param}'.`;
    case "type":
      return `Invalid type for '${param}': expected ${String(p.type)}.`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `Invalid value for '${param}': must be ${String(p.comparison)} ${String(p.limit)}.`;
    case "enum":
      return `Invalid value for '${param}': must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}.`;
    case "const":
      return `Invalid value for '${param}': only ${JSON.stringify(p.allowedValue)} is supported.`;
    case "minItems":
    case "maxItems":
      return `Invalid value for '${param}': must have ${e.keyword === "minItems" ? "at least" : "at most"} ${String(p.limit)} item(s).`;
    default:
      return `Invalid value for '${param || "body"}': ${e.message ?? "does not match the schema"}.`;
  }
}

/**
 * anyOf reports every branch's error: the useful one is at the deepest path, and there a range error
 * (the value had a branch's type) beats a type error (the value matched no branch's type).
 */
function pick(errors: ErrorObject[]): ErrorObject {
  const specific = errors.filter((e) => e.keyword !== "anyOf" && !(e.keyword === "type" && (e.params as { type: string }).type === "null"));
  const pool = specific.length > 0 ? specific : errors;
  const depth = Math.max(...pool.map((e) => e.instancePath.length));
  const deepest = pool.filter((e) => e.instancePath.length === depth);
  return deepest.find((e) => e.keyword !== "type") ?? deepest[0]!;
}

export function validateBody<T>(schema: object, body: unknown): T {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("The request body must be a JSON object.", null, "invalid_type");
  let fn = compiled.get(schema);
  if (!fn) compiled.set(schema, (fn = ajv.compile(schema)));
  if (!fn(body)) {
    const e = pick(fn.errors ?? []);
    const param = paramOf(e);
    throw badRequest(describe(e, param), param || null, e.keyword === "type" ? "invalid_type" : e.keyword === "required" ? "missing_required_parameter" : "invalid_value");
  }
  return body as T;
}
