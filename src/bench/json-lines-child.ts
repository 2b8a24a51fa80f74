/**
 * A child process spoken to in JSON lines: requests on its stdin, one JSON object per stdout line back
 * (the persistent peers of the benchmarks: bench/peers/transformers_experts.py --serve,
 * bench/peers/onnxruntime/moe-peer.ts --serve). Its stderr goes to ours.
 */
import { spawn } from "node:child_process";

export interface JsonLinesChild {
  /** The next line as an object; null once the child has exited and every line is read. */
  next(): Promise<Record<string, unknown> | null>;
  send(request: unknown): void;
  /** Ends its stdin (a serving child then exits). */
  close(): void;
  readonly exited: boolean;
}

export function spawnJsonLines(command: string, args: string[], cwd?: string): JsonLinesChild {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"], cwd });
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  let buf = "";
  let exited = false;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  const end = () => {
    exited = true;
    wake?.();
  };
  child.on("close", end); // after stdout has delivered everything
  child.on("error", end);
  child.stdin.on("error", () => {}); // a child that died early: its exit is what gets reported
  return {
    get exited() {
      return exited;
    },
    async next() {
      while (lines.length === 0) {
        if (exited) return null;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
      const line = lines.shift()!;
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`${command}: a reply line is not JSON: ${line.slice(0, 200)}`);
      }
    },
    send(request: unknown) {
      child.stdin.write(JSON.stringify(request) + "\n");
    },
    close() {
      child.stdin.end();
    },
  };
}
