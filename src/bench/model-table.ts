/** The `--scope model` table as markdown: one line per row and dtype, moekit beside llama.cpp. */
import { memoryLine } from "./memory.js";
import type { ModelRow } from "./model-bench.js";

const num = (x: number | null | undefined, digits = 1) => (x !== null && x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : "–");
const pct = (x: number | null | undefined) => (x !== null && x !== undefined && Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : "–");

/** A measured value with the spread of its runs when there are several. */
function measured(r: ModelRow | undefined): string {
  if (!r) return "–";
  const digits = r.metric === "prefill_ms" ? 0 : 1;
  if (r.runs.length < 2) return num(r.value, digits);
  return `${num(r.value, digits)} (${num(Math.min(...r.runs), digits)}–${num(Math.max(...r.runs), digits)})`;
}

function floorCell(r: ModelRow | undefined): string {
  if (!r) return "–";
  return `${num(r.floor, r.metric === "prefill_ms" ? 0 : 1)} ${r.floor_bound === "compute" ? "(GEMM)" : "(read)"}`;
}

export function modelTable(rows: readonly ModelRow[]): string {
  const head = ["case", "dtype", "moekit", "floor", "moekit share of floor", "llama.cpp", "floor", "llama.cpp share of floor", "moekit/llama.cpp speed"];
  const keys: string[] = [];
  for (const r of rows) if (!keys.includes(`${r.row}|${r.dtype}`)) keys.push(`${r.row}|${r.dtype}`);
  const lines = keys.map((k) => {
    const [row, dtype] = k.split("|") as [string, string];
    const ours = rows.find((r) => r.engine === "moekit" && r.row === row && r.dtype === dtype);
    const peer = rows.find((r) => r.engine === "llama.cpp" && r.row === row && r.dtype === dtype);
    return [row, dtype, measured(ours), floorCell(ours), pct(ours?.share_of_floor), measured(peer), floorCell(peer), pct(peer?.share_of_floor), num(ours?.speed_vs_llama_cpp, 2)];
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((_, i) => (i < 2 ? "---" : "---:"))), ...lines.map(line)].join("\n");
}

const SOURCE = { load: "quantized at load", file: "its `moekit quantize` checkpoint, mapped" } as const;

/** One line per dtype: moekit's memory accounting (memory.ts) and llama.cpp's peak beside it. */
export function memoryLines(rows: readonly ModelRow[]): string[] {
  const dtypes = [...new Set(rows.map((r) => r.dtype))];
  return dtypes.flatMap((dtype) => {
    const ours = rows.find((r) => r.engine === "moekit" && r.dtype === dtype && r.weights_mb !== null);
    const peer = rows.find((r) => r.engine === "llama.cpp" && r.dtype === dtype);
    if (!ours && !peer) return [];
    const e6 = (x: number | null) => (x ?? NaN) * 1e6;
    const line = ours
      ? memoryLine({
          weightBytes: e6(ours.weights_mb), activationBytes: e6(ours.activations_mb), peakBytes: e6(ours.peak_mem_mb), loadPeakBytes: e6(ours.load_peak_mem_mb),
          runPeakBytes: e6(ours.run_peak_mem_mb), loadedRssBytes: e6(ours.loaded_rss_mb), runtimeBytes: e6(ours.runtime_mb), ratio: ours.mem_ratio ?? NaN,
        })
      : "moekit: –";
    const source = ours?.quant_source ? ` (${SOURCE[ours.quant_source]})` : "";
    return [`- ${dtype}${source}: ${line}${peer ? `; llama.cpp peak RSS ${Math.round(peer.peak_mem_mb).toLocaleString("en-US")} MB` : ""}`];
  });
}

export function modelReport(rows: readonly ModelRow[], notes: readonly string[] = []): string {
  const r = rows[0];
  const peer = rows.find((x) => x.engine === "llama.cpp");
  const about = r
    ? `${r.model}, ${r.layers} layer${r.layers === 1 ? "" : "s"}, moekit ${r.detail}${r.threads ? `, ${r.threads} threads` : ""}` +
      `${peer ? `; llama.cpp through ${peer.detail}, ${peer.threads} threads` : ""}.`
    : "no rows.";
  const legend =
    "Median (min–max over runs). Floors from the GEMM and read-bandwidth probes run right before each case: a prefill floor is " +
    "max(FLOPs / GEMM GFLOP/s, bytes / read GB/s) in ms, a decode floor is the tok/s of reading one token's bytes (weights of the top-k experts, " +
    "the rest of the model, the KV cache at 2 bytes per value) at the read ceiling. Share of floor: floor / ms or tok/s / floor. Speed ratio > 1: moekit faster.";
  const noteLines = notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join("\n")}\n` : "";
  const mem = memoryLines(rows);
  const memory =
    mem.length > 0
      ? "\nMemory: weights are the host weight storages as held; activations what the cases add to the resident set once every weight page " +
        "is resident (KV cache and scratch included); the peak covers loading and the cases; runtime is the resident size before loading.\n" +
        `${mem.join("\n")}\n`
      : "";
  return `${about}\n${legend}\n\n${modelTable(rows)}\n${memory}${noteLines}`;
}
