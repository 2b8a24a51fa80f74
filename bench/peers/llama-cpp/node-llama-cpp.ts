/**
 * node-llama-cpp, imported from this folder's own node_modules (bench/peers/llama-cpp/install.sh): it
 * is not a dependency of moekit, so it is imported by a computed name at run time (the repository
 * typechecks without it) and typed here by the few members the peer uses.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type Token = number;

export interface GenerateNextOptions {
  probabilities?: boolean;
  token?: boolean;
  options?: { temperature?: number };
}

export type ControlledInput = Token | [Token, { generateNext?: GenerateNextOptions }];

export interface ControlledOutput {
  next: { token?: Token | null; probabilities?: Map<Token, number> };
}

export interface LlamaContextSequence {
  controlledEvaluate(input: ControlledInput[]): Promise<(ControlledOutput | undefined)[]>;
  clearHistory(): Promise<void>;
  dispose(): void;
  readonly contextSize: number;
}

export interface LlamaContext {
  getSequence(): LlamaContextSequence;
  dispose(): Promise<void>;
  readonly contextSize: number;
  readonly batchSize: number;
}

export interface LlamaContextOptions {
  contextSize: number;
  batchSize: number;
  sequences: number;
  threads: { ideal: number; min: number };
  flashAttention?: boolean;
}

export interface LlamaModel {
  tokenize(text: string, specialTokens?: boolean): Token[];
  detokenize(tokens: readonly Token[], specialTokens?: boolean): string;
  createContext(options: LlamaContextOptions): Promise<LlamaContext>;
  dispose(): Promise<void>;
  readonly tokens: { readonly bos: Token | null; readonly eos: Token | null };
  readonly fileInfo: { readonly metadata: Record<string, unknown> };
}

export interface LlamaModelOptions {
  modelPath: string;
  gpuLayers: number;
  useMmap: boolean;
  vocabOnly?: boolean;
}

export interface Llama {
  loadModel(options: LlamaModelOptions): Promise<LlamaModel>;
  dispose(): Promise<void>;
  readonly buildType: string;
  readonly systemInfo: string;
}

export interface NodeLlamaCpp {
  getLlama(options: { gpu: false; build: "never"; maxThreads: number; logLevel: string; progressLogs: boolean }): Promise<Llama>;
  LlamaLogLevel: Record<string, string>;
}

export const PEER_DIR = fileURLToPath(new URL(".", import.meta.url));
export const INSTALL_HINT = "bash bench/peers/llama-cpp/install.sh";
export const PINNED_VERSION = "3.21.1";

/** Whether node-llama-cpp is installed in the peer folder. */
export function llamaCppInstalled(): boolean {
  return existsSync(fileURLToPath(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url)));
}

/** node-llama-cpp, or an error that says how to install it. */
export async function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  if (!llamaCppInstalled()) throw new Error(`node-llama-cpp is not installed for the peer; install it with: ${INSTALL_HINT}`);
  // Resolved from this file's folder, whose node_modules holds the pinned package.
  const name = new URL("./node_modules/node-llama-cpp/dist/index.js", import.meta.url).href;
  return (await import(name)) as NodeLlamaCpp;
}

/** One Llama instance per process (CPU only, never building from source). */
let llama: Promise<Llama> | null = null;
export function cpuLlama(): Promise<Llama> {
  llama ??= importNodeLlamaCpp().then((m) => m.getLlama({ gpu: false, build: "never", maxThreads: 0, logLevel: "error", progressLogs: false }));
  return llama;
}
