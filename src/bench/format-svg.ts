/**
 * `--svg`: median latency against tokens per call, log-log, one line per implementation, so the
 * batched_mm / grouped_mm crossover shows at a glance. A hand-written SVG string, no dependency.
 */
import { implLabel } from "./format-markdown.js";
import type { BenchRecord } from "./record.js";

const H = 440;
/** Plot area width; the legend to its right grows with the longest implementation name. */
const PW = 460;
const M = { left: 70, top: 40, bottom: 56 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function label(v: number): string {
  return v >= 1 ? String(Math.round(v)) : String(Number(v.toPrecision(1)));
}

export function latencySvg(records: readonly BenchRecord[], title = "moekit bench: latency vs tokens"): string {
  const pts = records.filter((r) => r.median_ms > 0 && r.tokens > 0);
  const series = new Map<string, { x: number; y: number }[]>();
  for (const r of pts) {
    const name = r.implementation;
    if (!series.has(name)) series.set(name, []);
    series.get(name)!.push({ x: r.tokens, y: r.median_ms });
  }
  const xs = pts.map((r) => r.tokens);
  const ys = pts.map((r) => r.median_ms);
  const xLo = xs.length ? 10 ** Math.floor(Math.log10(Math.min(...xs))) : 1;
  const xHi = xs.length ? 10 ** Math.ceil(Math.log10(Math.max(...xs) * 1.0001)) : 10;
  const yLo = ys.length ? 10 ** Math.floor(Math.log10(Math.min(...ys))) : 1;
  const yHi = ys.length ? 10 ** Math.ceil(Math.log10(Math.max(...ys) * 1.0001)) : 10;
  const longest = Math.max(0, ...[...series.keys()].map((n) => n.length));
  const W = M.left + PW + Math.max(190, 56 + 7 * longest);
  const pw = PW;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + (pw * Math.log10(x / xLo)) / Math.max(Math.log10(xHi / xLo), 1e-9);
  const sy = (y: number) => M.top + ph - (ph * Math.log10(y / yLo)) / Math.max(Math.log10(yHi / yLo), 1e-9);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const x of decades(xLo, xHi).filter((v) => v >= xLo && v <= xHi)) {
    out.push(`<line x1="${sx(x).toFixed(1)}" y1="${M.top}" x2="${sx(x).toFixed(1)}" y2="${M.top + ph}" stroke="#ddd"/>`);
    out.push(`<text x="${sx(x).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  for (const y of decades(yLo, yHi).filter((v) => v >= yLo && v <= yHi)) {
    out.push(`<line x1="${M.left}" y1="${sy(y).toFixed(1)}" x2="${M.left + pw}" y2="${sy(y).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${label(y)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">tokens per call (batch × sequence, log scale)</text>`);
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">median latency, ms (log scale)</text>`);
  [...series.entries()].forEach(([name, s], i) => {
    const color = COLORS[i % COLORS.length]!;
    // Several grid points can share a token count (1x16 vs 4x4): draw the mean per count.
    const byX = new Map<number, number[]>();
    for (const p of s) byX.set(p.x, [...(byX.get(p.x) ?? []), p.y]);
    const line = [...byX.entries()].sort((a, b) => a[0] - b[0]).map(([x, v]) => ({ x, y: v.reduce((a, b) => a + b, 0) / v.length }));
    const d = line.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of line) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    const ly = M.top + 10 + i * 20;
    out.push(`<line x1="${M.left + pw + 14}" y1="${ly}" x2="${M.left + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${M.left + pw + 42}" y="${ly + 4}">${esc(name)}</text>`);
  });
  const r0 = records[0];
  if (r0) out.push(`<text x="${M.left}" y="${M.top - 6}" fill="#555">${esc(`${r0.model} · ${r0.scope} · ${r0.backend} · ${r0.dtype}`)}</text>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

export { implLabel };
