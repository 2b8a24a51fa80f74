/** A request's JSON body, read up to a size limit; malformed JSON is a 400 in OpenAI's shape. */
import type { IncomingMessage } from "node:http";
import { badRequest, HttpError } from "./errors.js";

export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `The request body is larger than ${maxBytes} bytes.`, "invalid_request_error", null, "request_too_large");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw badRequest("The request body is empty; send a JSON object.", null, "invalid_json");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`The request body is not valid JSON: ${(e as Error).message}`, null, "invalid_json");
  }
}
