/** Running one request in a fresh Node child (the runner), so each case's peak memory is its own. */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildReply, ChildRequest } from "./case-spec.js";

function runnerFile(): { path: string; execArgv: string[] } {
  const ts = /\.ts$/.test(import.meta.url);
  const path = fileURLToPath(new URL(`./runner${ts ? ".ts" : ".js"}`, import.meta.url));
  // --expose-gc: the runner collects what loading left behind before it measures the run's peak memory.
  if (!ts) return { path, execArgv: ["--expose-gc"] };
  // Running from sources (tests, development): the child needs the same TypeScript loader.
  let tsx = "tsx";
  try {
    tsx = import.meta.resolve("tsx");
  } catch {
    /* fall back to resolving from the working directory */
  }
  return { path, execArgv: ["--expose-gc", "--import", tsx] };
}

export function runInChild<T>(req: ChildRequest): Promise<T> {
  const { path, execArgv } = runnerFile();
  return new Promise<T>((resolve, reject) => {
    const child = fork(path, [], { execArgv, stdio: ["ignore", "pipe", "pipe", "ipc"] });
    let stderr = "";
    let reply: ChildReply | undefined;
    child.stdout!.on("data", () => undefined);
    child.stderr!.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on("message", (m: ChildReply) => {
      reply = m;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (reply?.ok) resolve(reply.result as T);
      else if (reply) reject(new Error(reply.error));
      else reject(new Error(`benchmark child exited (${signal ?? `code ${code}`}) without a result${stderr ? `: ${stderr.trim()}` : ""}`));
    });
    child.send(req);
  });
}
