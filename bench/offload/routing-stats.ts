/** What the routing of a decode looked like: how skewed (share of the most used experts) and how correlated step to step. */
export interface RoutingStats {
  /** Share of routings that went to the 10% / 25% most used experts of their layer. */
  top10Share: number;
  top25Share: number;
  /** Mean fraction of a step's experts that the previous step of the same layer also used. */
  lag1Overlap: number;
  /** The same for two steps drawn at random (what overlap with no temporal correlation looks like). */
  randomOverlap: number;
}

/** `calls[layer][step]`: the expert ids of one decode step's token at that layer. */
export function routingStats(calls: number[][][], experts: number): RoutingStats {
  let total = 0;
  let top10 = 0;
  let top25 = 0;
  let lag = 0;
  let lagN = 0;
  let rnd = 0;
  let rndN = 0;
  const overlap = (a: number[], b: number[]) => a.filter((e) => b.includes(e)).length / a.length;
  for (const steps of calls) {
    const count = new Array<number>(experts).fill(0);
    for (const ids of steps) for (const e of ids) count[e]!++;
    const sorted = [...count].sort((a, b) => b - a);
    const n = sorted.reduce((a, b) => a + b, 0);
    total += n;
    top10 += sorted.slice(0, Math.ceil(experts * 0.1)).reduce((a, b) => a + b, 0);
    top25 += sorted.slice(0, Math.ceil(experts * 0.25)).reduce((a, b) => a + b, 0);
    for (let i = 1; i < steps.length; i++) {
      lag += overlap(steps[i]!, steps[i - 1]!);
      lagN++;
      const j = (i * 7919) % steps.length;
      if (j !== i) {
        rnd += overlap(steps[i]!, steps[j]!);
        rndN++;
      }
    }
  }
  return { top10Share: top10 / total, top25Share: top25 / total, lag1Overlap: lag / Math.max(1, lagN), randomOverlap: rnd / Math.max(1, rndN) };
}
