/** Server-sent events as OpenAI streams them: `data: {json}` per chunk, `data: [DONE]` at the end. */
import type { ServerResponse } from "node:http";

export class SseWriter {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    res.flushHeaders();
  }

  /** False once the client is gone (nothing more is written). */
  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  send(data: unknown): void {
    if (this.open) this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    if (!this.open) return;
    this.res.write("data: [DONE]\n\n");
    this.res.end();
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** A stream that already started ends with the error as one more event, then [DONE]. */
export function endStreamWithError(res: ServerResponse, body: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  res.write(`data: ${JSON.stringify(body)}\n\ndata: [DONE]\n\n`);
  res.end();
}
