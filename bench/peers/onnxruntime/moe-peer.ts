/**
 * The onnxruntime peer: Qwen1.5-MoE-A2.7B's experts layer (H 2048, I 1408, 60 experts, top-4) as
 * com.microsoft.MoE on onnxruntime-node's CPU EP (model: moe-model.ts; spec fields: spec.ts).
 *
 *   node --import tsx bench/peers/onnxruntime/moe-peer.ts --check
 *   node --import tsx bench/peers/onnxruntime/moe-peer.ts '{"threads": 2, "dtype": "float32", "ts": [1, 16, 128]}'
 *   node --import tsx bench/peers/onnxruntime/moe-peer.ts --serve '{"threads": 2, "seed": 42}'
 *       then one case per stdin line, {"dtype": "float32", "t": 16, "budget_ms": 1500}, answered with its
 *       result line and {"done": true} (lets bench/cpu/experts.ts interleave the peer with its own cases)
 *   node --import tsx bench/peers/onnxruntime/moe-peer.ts --verify ['{"dims": {...}, "dtype": "float16", "tokens": 3, "scale": 2, "seed": 7}']
 *
 * One JSON line per case: {dtype, t, impl: "com.microsoft.MoE", ms (median), samples, version, ...} or
 * {dtype, t, impl, error}. --check prints {version, dtypes} and exits 0 when onnxruntime-node loads.
 */
import { createInterface } from "node:readline";
import { PEER_DTYPES } from "./moe-model.js";
import { loadOrt, ortVersion, type Ort } from "./ort.js";
import { IMPL, isPeerDtype, MoeSession, unsupportedDtype } from "./session.js";
import { parseSpec, type PeerSpec } from "./spec.js";
import type { TimingPlan } from "../../../src/bench/timing.js";
import { DEFAULT_VERIFY_CASES, parseVerifyCase, verifyCase, type VerifyCase } from "./verify.js";

function print(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + "\n");
}

/** Sessions by dtype, one open at a time (each holds gigabytes of weights). */
class Sessions {
  private current: { dtype: string; session: MoeSession } | null = null;

  constructor(
    private readonly ort: Ort,
    private readonly spec: PeerSpec,
  ) {}

  async get(dtype: string): Promise<MoeSession> {
    if (this.current?.dtype === dtype) return this.current.session;
    if (!isPeerDtype(dtype)) throw new Error(unsupportedDtype(dtype));
    await this.close();
    const s = this.spec;
    const session = await MoeSession.open(this.ort, { dims: s.dims, dtype, layers: s.layers, seed: s.seed, scale: s.scale, placement: s.placement }, s.threads);
    this.current = { dtype, session };
    return session;
  }

  async close(): Promise<void> {
    await this.current?.session.release();
    this.current = null;
  }
}

async function runCase(sessions: Sessions, spec: PeerSpec, dtype: string, t: number, plan: TimingPlan): Promise<void> {
  try {
    const session = await sessions.get(dtype);
    print({ dtype, t, ...(await session.time(t, plan)), threads: spec.threads });
  } catch (e) {
    print({ dtype, t, impl: IMPL, error: (e as Error).message.split("\n")[0]!.slice(0, 300) });
  }
}

async function serve(ort: Ort, spec: PeerSpec): Promise<void> {
  const sessions = new Sessions(ort, spec);
  print({ ready: true, version: ortVersion(ort) });
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    let c: { dtype?: unknown; t?: unknown; budget_ms?: unknown };
    try {
      c = JSON.parse(line) as typeof c;
    } catch {
      c = {};
    }
    const t = Number(c.t);
    const plan: TimingPlan = typeof c.budget_ms === "number" ? { kind: "budget", budgetMs: c.budget_ms } : spec.plan;
    if (typeof c.dtype !== "string" || !Number.isInteger(t) || t < 1) print({ dtype: c.dtype, t: c.t, impl: IMPL, error: `a case needs a dtype string and a positive integer t, got ${line}` });
    else await runCase(sessions, spec, c.dtype, t, plan);
    print({ done: true });
  }
  await sessions.close();
}

async function verify(ort: Ort, arg: string | undefined): Promise<boolean> {
  const cases: VerifyCase[] = arg ? [parseVerifyCase(arg)] : DEFAULT_VERIFY_CASES;
  let ok = true;
  for (const c of cases) {
    const r = await verifyCase(ort, c, 2);
    print(r);
    ok &&= r.ok === true;
  }
  return ok;
}

async function main(argv: string[]): Promise<number> {
  const [mode, arg] = argv;
  if (mode === undefined || mode === "-h" || mode === "--help") {
    process.stderr.write("usage: moe-peer.ts --check | '<spec json>' | --serve '<spec json>' | --verify ['<case json>']\n");
    return mode === undefined ? 2 : 0;
  }
  const ort = loadOrt();
  if (mode === "--check") {
    print({ version: ortVersion(ort), dtypes: PEER_DTYPES });
    return 0;
  }
  if (mode === "--verify") return (await verify(ort, arg)) ? 0 : 1;
  if (mode === "--serve") {
    await serve(ort, parseSpec(arg ?? "{}"));
    return 0;
  }
  if (mode.startsWith("--")) throw new Error(`unknown option ${mode} (see --help)`);
  const spec = parseSpec(mode);
  if (spec.ts.length === 0) throw new Error("spec.ts must list at least one token count");
  const sessions = new Sessions(ort, spec);
  for (const t of spec.ts) await runCase(sessions, spec, spec.dtype, t, spec.plan);
  await sessions.close();
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`moe-peer: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
