/** Latency statistics over timed iterations (milliseconds). p90 uses linear interpolation, as numpy. */
export interface LatencyStats {
  mean: number;
  median: number;
  p90: number;
  min: number;
  max: number;
  std: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("quantile of no samples");
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The median of unsorted samples (the mean of the middle two for an even count). */
export function median(samples: readonly number[]): number {
  return quantile([...samples].sort((a, b) => a - b), 0.5);
}

export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new Error("latency statistics need at least one timed iteration");
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const variance = s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length;
  return { mean, median: quantile(s, 0.5), p90: quantile(s, 0.9), min: s[0]!, max: s[s.length - 1]!, std: Math.sqrt(variance) };
}
