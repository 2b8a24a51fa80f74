/** How a benchmark times a case: a fixed warm-up + iterations (moekit bench), or a time budget (bench/cpu/experts.ts). */

export type TimingPlan = { kind: "iters"; warmup: number; iters: number } | { kind: "budget"; budgetMs: number };

/**
 * Samples (ms) of fn. budget: one warm-up, then at least 3 runs, more while under the budget (at most
 * 15); iters: `warmup` untimed runs, then `iters` timed ones.
 */
export async function timeRuns(fn: () => unknown, plan: TimingPlan): Promise<number[]> {
  const samples: number[] = [];
  const warmup = plan.kind === "iters" ? plan.warmup : 1;
  for (let i = 0; i < warmup; i++) await fn();
  const start = performance.now();
  const more = () =>
    plan.kind === "iters" ? samples.length < plan.iters : samples.length < 3 || (samples.length < 15 && performance.now() - start < plan.budgetMs);
  while (more()) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** Wall and process CPU ms (user + system, every thread) of each run of each side. */
export interface SideRuns {
  ms: number[];
  cpu: number[];
}

/**
 * Same-process A/B: `rounds` rounds, each running every side once, in the given order on even rounds and
 * reversed on odd ones (so a drift of a shared machine's load hits all sides alike); `pauseMs` of sleep before
 * each run. Returns each side's wall and process CPU times.
 */
export async function alternateRuns<S extends string>(sides: readonly S[], rounds: number, run: (side: S) => Promise<unknown>, pauseMs = 0): Promise<Record<S, SideRuns>> {
  const out = Object.fromEntries(sides.map((s) => [s, { ms: [], cpu: [] }])) as unknown as Record<S, SideRuns>;
  const reversed = [...sides].reverse();
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 ? reversed : sides) {
      if (pauseMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await run(side);
      out[side].ms.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      out[side].cpu.push((c.user + c.system) / 1000);
    }
  }
  return out;
}
