/**
 * An OpenAI-compatible HTTP server over one model (node:http; request bodies validated with ajv):
 * POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics.
 * Requests run through the continuous-batching engine (engine/scheduler.ts).
 *
 * node:http rather than a framework: two of the five routes stream server-sent events, where the
 * handler needs the socket itself (writes as tokens come, the client's disconnect cancelling its
 * sequence), which a framework would hand over anyway; ajv (what Fastify validates with) checks the
 * bodies against JSON schemas without type coercion.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { MoekitTokenizer } from "../text/tokenizer-interface.js";
import type { ServeContext } from "./context.js";
import { BatchEngine, type EngineModel, type EngineOptions } from "./engine/scheduler.js";
import { readJsonBody } from "./http/body.js";
import { HttpError } from "./http/errors.js";
import { endStreamWithError, sendJson } from "./http/sse.js";
import { ServeMetrics } from "./metrics.js";
import { chatCompletions } from "./routes/chat.js";
import { completions } from "./routes/completions.js";

export interface ServerOptions extends Omit<EngineOptions, "onStep"> {
  model: EngineModel;
  tokenizer: MoekitTokenizer;
  /** The name /v1/models lists and responses carry; default "moekit". */
  modelId?: string;
  /** max_tokens when a request gives none; default 512. */
  maxTokens?: number;
  /** Per-request limit in ms; default 600 000. */
  timeoutMs?: number;
  /** Largest request body; default 4 MiB. */
  maxBodyBytes?: number;
  /** Chat template variables for every request (a request's chat_template_kwargs override them). */
  templateKwargs?: Record<string, unknown>;
}

type Handler = (ctx: ServeContext, body: unknown, res: ServerResponse) => Promise<number>;

const POST_ROUTES: Record<string, Handler> = {
  "/v1/chat/completions": chatCompletions,
  "/v1/completions": completions,
};

export class ModelServer {
  readonly engine: BatchEngine;
  readonly http: Server;
  readonly context: ServeContext;
  private readonly maxBodyBytes: number;

  constructor(opts: ServerOptions) {
    const metrics = new ServeMetrics();
    this.engine = new BatchEngine(opts.model, { ...opts, onStep: (s) => metrics.onStep(s) });
    this.context = {
      engine: this.engine,
      tokenizer: opts.tokenizer,
      modelId: opts.modelId ?? "moekit",
      created: Math.floor(Date.now() / 1000),
      metrics,
      maxTokens: opts.maxTokens ?? 512,
      timeoutMs: opts.timeoutMs ?? 600_000,
      templateKwargs: opts.templateKwargs ?? {},
    };
    this.maxBodyBytes = opts.maxBodyBytes ?? 4 * 2 ** 20;
    this.http = createHttpServer((req, res) => void this.handle(req, res));
    this.http.keepAliveTimeout = 5000;
  }

  /** Listen on host:port (default 127.0.0.1, port 0 = any free one); resolves with the address. */
  listen(port = 0, host = "127.0.0.1"): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, host, () => {
        this.http.off("error", reject);
        const a = this.http.address() as AddressInfo;
        resolve({ host: a.address, port: a.port, url: `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}` });
      });
    });
  }

  /** Stop accepting connections, cancel what runs, close idle connections. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.engine.close();
    this.http.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    const endpoint = POST_ROUTES[path] || ["/v1/models", "/health", "/metrics"].includes(path) ? path : "other";
    let status = 200;
    try {
      status = await this.route(req, res, path);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, `Internal error: ${(e as Error).message}`, "server_error");
      status = err.status;
      if (!res.headersSent) sendJson(res, err.status, err.body());
      else endStreamWithError(res, err.body());
    }
    this.context.metrics.onRequest(endpoint, status);
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<number> {
    const post = POST_ROUTES[path];
    if (post) {
      if (req.method !== "POST") throw new HttpError(405, `${path} takes POST, not ${req.method}.`, "invalid_request_error", null, "method_not_allowed");
      return post(this.context, await readJsonBody(req, this.maxBodyBytes), res);
    }
    if (req.method !== "GET") throw new HttpError(req.method === "POST" && ["/v1/models", "/health", "/metrics"].includes(path) ? 405 : 404, `No route ${req.method} ${path}.`, "invalid_request_error", null, "not_found");
    const ctx = this.context;
    switch (path) {
      case "/health":
        sendJson(res, 200, { status: "ok", model: ctx.modelId, active_sequences: ctx.engine.activeSequences, queue_depth: ctx.engine.queueDepth });
        return 200;
      case "/v1/models":
        sendJson(res, 200, { object: "list", data: [{ id: ctx.modelId, object: "model", created: ctx.created, owned_by: "moekit" }] });
        return 200;
      case "/metrics": {
        const text = ctx.metrics.render(ctx.engine);
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(text);
        return 200;
      }
      default:
        throw new HttpError(404, `No route GET ${path}.`, "invalid_request_error", null, "not_found");
    }
  }
}
