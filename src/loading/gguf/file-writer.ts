/** Writes a GGUF file to disk through writeGgufStream (Node only: node:fs is imported inside the function). */
import type { GgufMetadata } from "./values.js";
import { writeGgufStream, type GgufLayout, type GgufTensorSpec } from "./writer.js";

export async function writeGgufFile(
  path: string,
  metadata: GgufMetadata,
  tensors: readonly GgufTensorSpec[],
  data: (t: GgufTensorSpec, index: number) => Promise<Uint8Array>,
): Promise<GgufLayout> {
  const { open } = await import("node:fs/promises");
  const fh = await open(path, "w");
  try {
    return await writeGgufStream(
      {
        write: async (chunk) => {
          let done = 0;
          while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
        },
      },
      metadata,
      tensors,
      data,
    );
  } finally {
    await fh.close();
  }
}
