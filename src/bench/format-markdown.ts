/** The benchmark table as markdown, in the seed's columns and then moekit's extra ones. */
import type { Ceilings } from "./case-spec.js";
import type { BenchRecord } from "./record.js";

const f = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "–");

export function implLabel(r: BenchRecord): string {
  const name = r.supplied_by ? `${r.implementation} [${r.supplied_by}]` : r.implementation;
  return r.auto_choice ? `${name} (→${r.auto_choice})` : name;
}

export function markdownTable(records: readonly BenchRecord[]): string {
  const head = [
    "Batch Size", "Seq Length", "Implementation", "Mean Latency (ms)", "Median Latency (ms)", "P90 Latency (ms)", "Peak Mem (MB)",
    "Mem / (W+A)", "Tokens/s", "GFLOP/s", "GB/s", "% GEMM ceiling", "% BW ceiling", "× best",
  ];
  const rows = records.map((r) => [
    String(r.batch_size), String(r.seq_length), implLabel(r), f(r.mean_ms, 2), f(r.median_ms, 2), f(r.p90_ms, 2), f(r.peak_mem_mb, 0),
    r.mem_ratio === null ? "–" : f(r.mem_ratio, 2), f(r.tokens_per_s, 1), f(r.gflops, 2), f(r.gbps, 2), pct(r.frac_gemm_ceiling), pct(r.frac_bandwidth_ceiling), f(r.ratio_to_best, 2),
  ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((h, i) => (i < 3 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

export function markdownReport(records: readonly BenchRecord[], ceilings: Ceilings): string {
  const r = records[0];
  const about = r
    ? `${r.model}, scope ${r.scope}, ${r.layers} layer${r.layers === 1 ? "" : "s"}, ${r.dtype} weights, ${r.compute} compute, backend ${r.backend}` +
      `${r.threads ? `, ${r.threads} threads` : ""}, warmup ${r.warmup}, ${r.iters} iterations`
    : "no cases";
  const ceil = `Ceilings measured at start: GEMM ${ceilings.gemmGflops.toFixed(2)} GFLOP/s (${ceilings.gemmShape}), bandwidth ${ceilings.bandwidthGBs.toFixed(2)} GB/s (${ceilings.bandwidthMethod}).`;
  const own = records.find((x) => x.mem_ratio !== null);
  const mem = own
    ? `Peak Mem: resident high-water mark of the timed iterations. Mem / (W+A): the peak over loading and the timed iterations over the weights ` +
      `(W ${f(own.weights_mb, 0)} MB, their storages as held) plus the activations A (what the iterations add once every weight page is resident); ` +
      `runtime before loading ${f(own.runtime_mb ?? NaN, 0)} MB.\n`
    : "";
  return `${about}.\n${ceil}\n\n${markdownTable(records)}\n${mem}`;
}
