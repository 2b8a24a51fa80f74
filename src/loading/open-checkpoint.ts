/**
 * A checkpoint from what a user names (Node only): a `.gguf` file, a local directory or a Hugging Face
 * repo id (resolve-source.ts).
 */
import { Checkpoint } from "./checkpoint.js";
import { resolveCheckpointDir, type ResolveOptions } from "./resolve-source.js";

/** Whether `source` names a GGUF file by its extension. */
export function isGgufPath(source: string): boolean {
  return typeof source === "string" && /\.gguf$/i.test(source);
}

export async function openCheckpoint(source: string, opts: ResolveOptions = {}): Promise<Checkpoint> {
  if (isGgufPath(source)) {
    const { stat } = await import("node:fs/promises");
    const st = await stat(source).catch(() => undefined);
    if (!st) throw new Error(`GGUF file '${source}' does not exist`);
    if (!st.isFile()) throw new Error(`'${source}' is not a regular file`);
    const { FileSource } = await import("./node-files.js");
    const { openGgufCheckpoint } = await import("./gguf-model/open.js");
    return openGgufCheckpoint(new FileSource(source));
  }
  return Checkpoint.open(await resolveCheckpointDir(source, opts));
}
