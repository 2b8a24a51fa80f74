/**
 * `auto`: an experts implementation that picks, per call, the cheapest of batched_mm, grouped_mm and
 * any registered implementation declared `autoCandidate`, from a cost model of
 * (S = T·K, E, H, I, dtype, backend).
 *
 * The cost model, in order:
 * 1. A measured profile (`moekit tune`): per backend and weight dtype, latencies of each candidate at
 *    several slot counts for one set of dims. A prediction interpolates log-latency against log-slots
 *    between the measured points (extrapolating the end segments with a slope clamped to [0, 1]) and
 *    scales by H·I relative to the measured dims. The entry with the same backend and dtype and the
 *    nearest dims is used.
 * 2. Built-in defaults otherwise. Host backends (reference, cpu): grouped_mm, as transformers ranks it
 *    first on CPUs at every size (the cpu backend's own grouped_mm runs the whole layer in one native
 *    call; batched_mm there is four native ops over per-slot intermediates). Device backends:
 *    batched_mm below 64 slots, grouped_mm from 64 (§1.5 of the reference: GPUs gather at decode).
 * Candidates other than the two built-ins are eligible only where the profile measured them.
 */
import type { Backend } from "../backends/backend.js";
import type { DType } from "../dtype.js";
import type { Tensor } from "../tensor.js";
import type { ExpertsInterface } from "./registry.js";
import { inputProjection, type ExpertsImplementation, type ExpertsWeights } from "./types.js";

export const AUTO_NAME = "auto";

export interface AutoShape {
  tokens: number;
  topK: number;
  experts: number;
  hidden: number;
  intermediate: number;
  dtype: DType;
  backend: string;
  isHost: boolean;
}

export interface AutoProfilePoint {
  slots: number;
  /** median latency in ms per candidate name */
  ms: Record<string, number>;
}

export interface AutoProfileEntry {
  backend: string;
  dtype: DType;
  threads?: number;
  dims: { experts: number; hidden: number; intermediate: number; topK: number };
  points: AutoProfilePoint[];
  /** smallest measured slot count where grouped_mm was at least as fast as batched_mm (informative) */
  crossoverSlots?: number | null;
  measuredAt?: string;
}

export interface AutoProfile {
  version: 1;
  entries: AutoProfileEntry[];
}

const DEVICE_CROSSOVER_SLOTS = 64;

function matchEntry(profile: AutoProfile | null | undefined, s: AutoShape): AutoProfileEntry | undefined {
  const same = (profile?.entries ?? []).filter((e) => e.backend === s.backend && e.dtype === s.dtype && e.points.length > 0);
  const dist = (e: AutoProfileEntry) =>
    Math.abs(Math.log((e.dims.experts * e.dims.hidden * e.dims.intermediate) / (s.experts * s.hidden * s.intermediate))) +
    Math.abs(Math.log(e.dims.experts / s.experts));
  return same.sort((a, b) => dist(a) - dist(b))[0];
}

function interpolate(points: { x: number; y: number }[], x: number): number {
  if (points.length === 1) return points[0]!.y;
  let i = points.findIndex((p) => p.x >= x);
  if (i === -1) i = points.length - 1;
  if (i === 0) i = 1;
  const a = points[i - 1]!;
  const b = points[i]!;
  let slope = (b.y - a.y) / (b.x - a.x || 1);
  if (x < a.x || x > b.x) slope = Math.min(1, Math.max(0, slope));
  return x > b.x ? b.y + slope * (x - b.x) : a.y + slope * (x - a.x);
}

function profiledMs(entry: AutoProfileEntry, name: string, s: AutoShape): number | undefined {
  const pts = entry.points
    .filter((p) => Number.isFinite(p.ms[name]) && p.ms[name]! > 0 && p.slots > 0)
    .map((p) => ({ x: Math.log(p.slots), y: Math.log(p.ms[name]!) }))
    .sort((a, b) => a.x - b.x);
  if (pts.length === 0) return undefined;
  const scale = (s.hidden * s.intermediate) / (entry.dims.hidden * entry.dims.intermediate);
  return Math.exp(interpolate(pts, Math.log(s.tokens * s.topK))) * scale;
}

function defaultMs(name: string, s: AutoShape): number | undefined {
  if (name !== "batched_mm" && name !== "grouped_mm") return undefined;
  const slots = s.tokens * s.topK;
  const gatherWins = !s.isHost && slots < DEVICE_CROSSOVER_SLOTS;
  // Relative units: only the order matters between the two built-ins.
  return (name === "batched_mm") === gatherWins ? 1 : 2;
}

/** Predicted latency (ms) of candidate `name` for a call of shape `s`; undefined when it has no cost entry. */
export function predictMs(name: string, s: AutoShape, profile?: AutoProfile | null): number | undefined {
  const entry = matchEntry(profile, s);
  // Within a measured entry only measured candidates compete (no mixing of measured and modelled units).
  if (entry) return profiledMs(entry, name, s);
  return defaultMs(name, s);
}

/** The candidate auto runs for shape `s`, with every prediction made. Ties go to grouped_mm. */
export function chooseExperts(s: AutoShape, candidates: readonly string[], profile?: AutoProfile | null): { name: string; predicted: Record<string, number> } {
  const predicted: Record<string, number> = {};
  for (const c of candidates) {
    const ms = predictMs(c, s, profile);
    if (ms !== undefined && Number.isFinite(ms)) predicted[c] = ms;
  }
  const ranked = Object.entries(predicted).sort((a, b) => a[1] - b[1] || Number(b[0] === "grouped_mm") - Number(a[0] === "grouped_mm"));
  if (ranked.length === 0) return { name: "grouped_mm", predicted };
  return { name: ranked[0]![0], predicted };
}

export function autoShape(w: ExpertsWeights, topkIndex: Tensor, backend: Backend): AutoShape {
  return {
    tokens: topkIndex.shape[0]!,
    topK: topkIndex.shape[1]!,
    experts: w.numExperts,
    hidden: w.hiddenSize,
    intermediate: w.intermediateSize,
    dtype: inputProjection(w).dtype,
    backend: backend.name,
    isHost: backend.isHost,
  };
}

// ---- profile state ---------------------------------------------------------------------------

interface AutoState {
  /** undefined: not loaded yet; null: none */
  profile: AutoProfile | null | undefined;
  loading?: Promise<void>;
  last?: string;
}

const state: AutoState = { profile: undefined };

/** Use this profile (null: built-in defaults) instead of loading the stored one. */
export function setAutoProfile(profile: AutoProfile | null): void {
  if (profile !== null) validateProfile(profile, "setAutoProfile");
  state.profile = profile;
}

/** The implementation auto ran last in this process (for benchmarks and debugging). */
export function lastAutoChoice(): string | undefined {
  return state.last;
}

export function validateProfile(p: unknown, where: string): AutoProfile {
  const bad = (why: string) => new Error(`${where}: not a moekit auto profile (${why})`);
  if (typeof p !== "object" || p === null) throw bad("not an object");
  const o = p as AutoProfile;
  if (o.version !== 1) throw bad(`version ${JSON.stringify(o.version)}, expected 1`);
  if (!Array.isArray(o.entries)) throw bad("no entries list");
  for (const e of o.entries) {
    if (typeof e.backend !== "string" || typeof e.dtype !== "string" || !e.dims || !Array.isArray(e.points)) throw bad("an entry lacks backend, dtype, dims or points");
  }
  return o;
}

/** Where `moekit tune` stores the profile: $MOEKIT_AUTO_PROFILE, else $XDG_CACHE_HOME or ~/.cache, /moekit/auto-profile.json. */
export async function defaultProfilePath(): Promise<string> {
  const { homedir } = await import("node:os");
  const { join } = await import("node:path");
  const env = process.env;
  if (env.MOEKIT_AUTO_PROFILE) return env.MOEKIT_AUTO_PROFILE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "moekit", "auto-profile.json");
}

/** Read a profile (Node only); null when the file does not exist. */
export async function loadAutoProfile(path?: string): Promise<AutoProfile | null> {
  const { readFile } = await import("node:fs/promises");
  const p = path ?? (await defaultProfilePath());
  let text: string;
  try {
    text = await readFile(p, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${p}: invalid JSON (${(e as Error).message})`);
  }
  return validateProfile(json, p);
}

/** Merge `entry` into the profile at `path` (replacing one for the same backend, dtype, threads and dims) and write it. */
export async function saveAutoProfileEntry(entry: AutoProfileEntry, path?: string): Promise<string> {
  const { mkdir, writeFile } = await import("node:fs/promises");
  const { dirname } = await import("node:path");
  const p = path ?? (await defaultProfilePath());
  const old = (await loadAutoProfile(p)) ?? { version: 1, entries: [] };
  const same = (e: AutoProfileEntry) =>
    e.backend === entry.backend && e.dtype === entry.dtype && e.threads === entry.threads && JSON.stringify(e.dims) === JSON.stringify(entry.dims);
  const profile: AutoProfile = { version: 1, entries: [...old.entries.filter((e) => !same(e)), entry] };
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, `${JSON.stringify(profile, null, 2)}\n`);
  return p;
}

async function ensureProfile(): Promise<AutoProfile | null> {
  if (state.profile !== undefined) return state.profile;
  if (typeof process === "undefined" || !process.versions?.node) return (state.profile = null);
  state.loading ??= loadAutoProfile().then(
    (p) => {
      if (state.profile === undefined) state.profile = p;
    },
    (e: Error) => {
      console.warn(`moekit auto: ignoring the stored profile: ${e.message}`);
      if (state.profile === undefined) state.profile = null;
    },
  );
  await state.loading;
  return state.profile ?? null;
}

/** The `auto` implementation over a registry's candidates. */
export function createAutoImplementation(registry: ExpertsInterface): ExpertsImplementation {
  return async (w, hidden, topkIndex, topkWeights, backend) => {
    const profile = await ensureProfile();
    const candidates = registry.list(backend).filter((n) => n !== AUTO_NAME && registry.isAutoCandidate(n, backend));
    const { name } = chooseExperts(autoShape(w, topkIndex, backend), candidates, profile);
    state.last = name;
    return registry.get(name, backend)(w, hidden, topkIndex, topkWeights, backend);
  };
}
