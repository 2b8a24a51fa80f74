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
