/**
 * Runs fuzz requests in worker child processes (child.ts), a few at a time. Each request gets a
 * deadline; a child that dies (signal, abort, AddressSanitizer report), misses the deadline or grows
 * past the memory limit is replaced, and that request is recorded as a crash, hang or memory failure
 * with the tail of the child's stderr. Children are also replaced after a large peak or many requests,
 * so each request's reported peak is its own.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ChildReply, ChildRequest } from "./child.js";

export type Status = "ok" | "error" | "crash" | "hang" | "memory";

export interface Outcome {
  status: Status;
  reply?: ChildReply;
  /** crash/hang/memory: what happened, with the child's last stderr. */
  detail?: string;
  ms: number;
}

export interface Job {
  id: string;
  /** Writes the job's files and returns the request; `done` removes them. */
  prepare(): Promise<ChildRequest>;
  done?(): Promise<void>;
}

export interface PoolOptions {
  workers: number;
  timeoutMs: number;
  /** A child above this resident size is killed at once (protects the machine). */
  killAboveBytes: number;
  /** Replace a child whose peak passed this, so the next request starts low. */
  recycleAboveBytes: number;
  recycleAfterJobs: number;
  onOutcome?(job: Job, outcome: Outcome): void;
}

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));

function residentBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

class Worker {
  private child: ChildProcess | null = null;
  private stderr = "";
  private jobs = 0;
  private ready: Promise<void> | null = null;

  private start(): Promise<void> {
    this.stderr = "";
    this.jobs = 0;
    const child = fork(CHILD, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "pipe", "ipc"], serialization: "advanced" });
    child.stderr!.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-6000)));
    child.on("error", () => undefined);
    this.child = child;
    return new Promise((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (m.ready) {
          child.off("exit", onExit);
          resolve();
        }
      };
      const onExit = (code: number | null, signal: string | null) => reject(new Error(`fuzz child failed to start (${signal ?? code}): ${this.stderr}`));
      child.once("message", onMessage);
      child.once("exit", onExit);
    });
  }

  stop(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    this.child = null;
    this.ready = null;
  }

  async run(req: ChildRequest, opts: PoolOptions): Promise<Outcome> {
    if (this.child && (this.child.exitCode !== null || this.child.signalCode !== null)) this.stop();
    if (!this.ready) this.ready = this.start();
    await this.ready;
    const child = this.child!;
    this.jobs++;
    const t0 = performance.now();
    const outcome = await new Promise<Outcome>((resolve) => {
      let settled = false;
      const finish = (o: Omit<Outcome, "ms">) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearInterval(watch);
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve({ ...o, ms: performance.now() - t0 });
      };
      const onMessage = (reply: ChildReply) => finish({ status: reply.ok ? "ok" : "error", reply });
      const onExit = (code: number | null, signal: string | null) =>
        // Give the stderr pipe a moment to deliver an AddressSanitizer report.
        setTimeout(() => finish({ status: "crash", detail: `child exited (${signal ?? `code ${code}`}): ${this.stderr.trim().slice(-3000)}` }), 100);
      const deadline = setTimeout(() => {
        child.kill("SIGKILL");
        finish({ status: "hang", detail: `no answer within ${opts.timeoutMs} ms` });
      }, opts.timeoutMs);
      const watch = setInterval(() => {
        const rss = residentBytes(child.pid!);
        if (rss > opts.killAboveBytes) {
          child.kill("SIGKILL");
          finish({ status: "memory", detail: `resident ${(rss / 2 ** 30).toFixed(2)} GiB, killed above ${(opts.killAboveBytes / 2 ** 30).toFixed(2)} GiB` });
        }
      }, 100);
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send(req);
    });
    const peak = outcome.reply?.maxRssBytes ?? 0;
    if (outcome.status === "crash" || outcome.status === "hang" || outcome.status === "memory" || peak > opts.recycleAboveBytes || this.jobs >= opts.recycleAfterJobs) this.stop();
    return outcome;
  }
}

/** Runs every job; outcomes in job order. */
export async function runPool(jobs: Job[], opts: PoolOptions): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(jobs.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, opts.workers) }, () => new Worker());
  await Promise.all(
    workers.map(async (w) => {
      try {
        while (next < jobs.length) {
          const i = next++;
          const job = jobs[i]!;
          const req = await job.prepare();
          const o = await w.run(req, opts);
          await job.done?.();
          outcomes[i] = o;
          opts.onOutcome?.(job, o);
        }
      } finally {
        w.stop();
      }
    }),
  );
  return outcomes;
}
