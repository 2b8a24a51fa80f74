/** What both completion routes do with a submitted generation: run it through the output stream, map failures. */
import type { OutputStream } from "../../chat/output-stream.js";
import type { OutputDelta } from "../../text/output/types.js";
import { timeoutError, type ServeContext } from "../context.js";
import type { Generation, GenerationResult } from "../engine/scheduler.js";
import { HttpError } from "../http/errors.js";
import type { SseWriter } from "../http/sse.js";

/** Every token through `output` (its deltas to `onDeltas`) until the generation ends or a stop string cancels it. */
export async function runGeneration(gen: Generation, output: OutputStream, onDeltas: (deltas: OutputDelta[]) => void = () => {}): Promise<GenerationResult> {
  for await (const t of gen.tokens) {
    onDeltas(output.push(t));
    if (output.stopped) {
      gen.cancel();
      break;
    }
  }
  const result = await gen.done;
  onDeltas(output.finish());
  return result;
}

/** The HTTP error of a generation that timed out or failed; undefined when it finished. */
export function generationFailure(result: GenerationResult, ctx: ServeContext): HttpError | undefined {
  if (result.reason === "timeout") return timeoutError(ctx.timeoutMs);
  if (result.reason === "error") return new HttpError(500, `Generation failed: ${result.error?.message ?? "unknown error"}`, "server_error", null, "generation_failed");
  return undefined;
}

/**
 * A stream whose generation failed gets the error as its last event; one whose client left is not written
 * to. Returns the status to log then, or undefined when the stream goes on to its final chunks.
 */
export function endFailedStream(sse: SseWriter, result: GenerationResult, ctx: ServeContext): number | undefined {
  const err = generationFailure(result, ctx);
  if (err) {
    sse.send(err.body());
    sse.end();
    return err.status;
  }
  return sse.open ? undefined : 499;
}
