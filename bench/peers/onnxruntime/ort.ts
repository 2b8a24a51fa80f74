/**
 * onnxruntime-node, loaded from this folder's own node_modules (bench/peers/onnxruntime/install.sh): it
 * is not a dependency of moekit, so it is required at run time and typed here by the few members used.
 */
import { createRequire } from "node:module";

export type OrtTensorData = Float32Array | Uint16Array;

export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: OrtTensorData;
}

export interface OrtSessionOptions {
  executionProviders: string[];
  intraOpNumThreads: number;
  interOpNumThreads: number;
  graphOptimizationLevel: "disabled" | "basic" | "extended" | "all";
  executionMode: "sequential" | "parallel";
}

export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface Ort {
  InferenceSession: { create(path: string, options: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: "float32" | "float16", data: OrtTensorData, dims: readonly number[]) => OrtTensor;
  env: { versions: { common: string; node?: string } };
}

export const INSTALL_HINT = "bash bench/peers/onnxruntime/install.sh";

/** onnxruntime-node, or an error that says how to install it. */
export function loadOrt(): Ort {
  const require = createRequire(new URL("./package.json", import.meta.url));
  try {
    return require("onnxruntime-node") as Ort;
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    throw new Error(`onnxruntime-node is not installed for the peer (${why}); install it with: ${INSTALL_HINT}`);
  }
}

export function ortVersion(ort: Ort): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

/** Session options of the peer: CPU EP, `threads` intra-op threads, one inter-op thread, every graph optimization. */
export function sessionOptions(threads: number): OrtSessionOptions {
  return {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  };
}
