/** Errors as the OpenAI API shapes them: HTTP status and { error: { message, type, param, code } }. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = "invalid_value") => new HttpError(400, message, "invalid_request_error", param, code);
