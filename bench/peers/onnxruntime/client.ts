/**
 * The onnxruntime peer as a persistent process (moe-peer.ts --serve) for bench/cpu/experts.ts: asked
 * case by case, so that its measurements sit right next to moekit's own.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { spawnJsonLines, type JsonLinesChild } from "../../../src/bench/json-lines-child.js";
import { PEER_DTYPES } from "./moe-model.js";
import { INSTALL_HINT } from "./ort.js";

export const PEER_SCRIPT = fileURLToPath(new URL("./moe-peer.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const PACKAGE = fileURLToPath(new URL("./node_modules/onnxruntime-node/package.json", import.meta.url));

export interface OrtPeerResult {
  dtype: string;
  t: number;
  impl: string;
  ms?: number;
  error?: string;
  version?: string;
}

export class OrtPeer {
  private constructor(
    private readonly child: JsonLinesChild,
    readonly version: string,
  ) {}

  /** The running peer, or the reason it cannot run (one line). */
  static async start(threads: number, seed: number): Promise<OrtPeer | string> {
    if (!existsSync(PACKAGE)) return `onnxruntime-node is not installed (optional peer): ${INSTALL_HINT}`;
    // tsx resolves from the repository root, where it is a devDependency
    const child = spawnJsonLines(process.execPath, ["--import", "tsx", PEER_SCRIPT, "--serve", JSON.stringify({ threads, seed })], REPO_ROOT);
    const ready = await child.next();
    if (!ready?.ready) return "the peer process exited at start";
    return new OrtPeer(child, String(ready.version));
  }

  supports(dtype: string): boolean {
    return (PEER_DTYPES as readonly string[]).includes(dtype);
  }

  /** One case: T tokens with `dtype` weights, timed within `budgetMs` (median ms, or an error). */
  async run(dtype: string, t: number, budgetMs: number): Promise<OrtPeerResult[]> {
    if (this.child.exited) return [{ dtype, t, impl: "com.microsoft.MoE", error: "the peer process has exited" }];
    this.child.send({ dtype, t, budget_ms: budgetMs });
    const out: OrtPeerResult[] = [];
    for (;;) {
      const o = await this.child.next();
      if (!o || o.done) break;
      out.push(o as unknown as OrtPeerResult);
    }
    return out;
  }

  close(): void {
    this.child.close();
  }
}
