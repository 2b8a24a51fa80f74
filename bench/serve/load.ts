/**
 * The load and fault test of `moekit serve` (run by hand; results go to docs/performance.md):
 *
 *   node --import tsx bench/serve/load.ts [--layers 2] [--threads 2] [--requests 2000] [--clients 16]
 *     [--new 48] [--streams 8] [--rounds 5] [--prefill-chunk 64] [--non-deterministic] [--out result.json]
 *
 * 1. starts bench/serve/server-child.ts (the synthetic Qwen1.5-MoE-A2.7B, real dimensions, cpu backend)
 *    in its own process, on loopback;
 * 2. throughput, --rounds rounds (default 5) of one greedy stream of --new tokens, then --streams streams at
 *    once: aggregate decode tok/s (tokens after each stream's first / span from the first stream's first token
 *    to the last stream's last), the same over the steady window alone (from the last stream's first token
 *    to the first stream's last: every stream decoding, no prompt's prefill inside), each against the same
 *    round's lone stream (medians over rounds), and inter-token latency percentiles over every round's gaps;
 * 3. faults: reference answers one at a time, then --requests requests from --clients clients: 10%
 *    malformed (must get 400), 10% disconnecting mid-stream, the rest greedy (half streamed) compared
 *    with the reference; resident memory of the server (after a GC) before and after; the server must
 *    still be alive and stop cleanly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { faultTraffic, percentile, referenceAnswers, serverRss, timedStream, type Prompt, type StreamTiming } from "./traffic.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const num = (name: string, fallback: number) => Number(arg(name, String(fallback)));

const layers = num("--layers", 2);
const threads = num("--threads", 2);
const requests = num("--requests", 2000);
const clients = num("--clients", 16);
const newTokens = num("--new", 48);
const streams = num("--streams", 8);
const prefillChunk = num("--prefill-chunk", 64);
const rounds = num("--rounds", 5);
const nonDet = process.argv.includes("--non-deterministic");
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

async function startServer(): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const args = ["--expose-gc", "--import", "tsx", "bench/serve/server-child.ts", "--layers", String(layers), "--threads", String(threads), "--max-batch", String(Math.max(clients, streams)), "--max-queue", "256", "--prefill-chunk", String(prefillChunk)];
  if (nonDet) args.push("--non-deterministic");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+) (.*)/.exec(out);
      if (m) {
        log(`server ready: ${m[1]} (${m[2]})`);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before it was ready`)));
  });
  return { child, url, exited };
}

/** A prompt of about `words` words (a few tokens each with the synthetic tokenizer), distinct per i. */
const promptText = (i: number, words: number) => Array.from({ length: words }, (_, j) => `w${(i * 7919 + j * 104729) % 9973}`).join(" ");

function summary(runs: StreamTiming[]): { decodeTps: number; itlP50: number; itlP99: number; ttftMs: number } {
  const first = Math.min(...runs.map((r) => r.first));
  const last = Math.max(...runs.map((r) => r.last));
  const tokens = runs.reduce((n, r) => n + r.completionTokens - 1, 0);
  const gaps = runs.flatMap((r) => r.gaps);
  return { decodeTps: (tokens / (last - first)) * 1000, itlP50: percentile(gaps, 0.5), itlP99: percentile(gaps, 0.99), ttftMs: percentile(runs.map((r) => r.ttft), 0.5) };
}

class Done extends Error {}
const server = await startServer();
const result: Record<string, unknown> = { layers, threads, prefillChunk, mode: nonDet ? "non-deterministic" : "deterministic", date: new Date().toISOString() };
try {
  // warm-up: the first steps allocate the native pool's buffers
  await timedStream(server.url, { text: promptText(999, 8), maxTokens: 4 });

  // Rounds of one lone stream then the concurrent streams: the machine's speed swings by ±15% between minutes,
  // so each round's ratio is taken between two runs seconds apart, and the medians over rounds are reported.
  log(`throughput: ${rounds} rounds of 1 stream, then ${streams} streams, ${newTokens} new tokens each`);
  const singles: StreamTiming[] = [];
  const manys: StreamTiming[][] = [];
  const perRound: { singleTps: number; concurrentTps: number; steadyTps: number; steadyOverSingle: number; overSingle: number }[] = [];
  const steady: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const one = await timedStream(server.url, { text: promptText(round, 10), maxTokens: newTokens });
    const concurrent = await Promise.all(Array.from({ length: streams }, (_, i) => timedStream(server.url, { text: promptText(100 + 10 * round + i, 10), maxTokens: newTokens })));
    singles.push(one);
    manys.push(concurrent);
    // steady state: gaps while every stream is decoding (after the last first token, before the first end)
    const from = Math.max(...concurrent.map((r) => r.first));
    const to = Math.min(...concurrent.map((r) => r.last));
    let steadyTokens = 0;  // tokens that arrived in (from, to]: every stream decoding, no prompt's prefill left
    for (const r of concurrent) {
      let t = r.first;
      for (const g of r.gaps) {
        if (t >= from && t + g <= to) steady.push(g);
        t += g;
        if (t > from && t <= to) steadyTokens++;
      }
    }
    const singleTps = summary([one]).decodeTps;
    const concurrentTps = summary(concurrent).decodeTps;
    const steadyTps = (steadyTokens / (to - from)) * 1000;
    perRound.push({ singleTps, concurrentTps, steadyTps, steadyOverSingle: steadyTps / singleTps, overSingle: concurrentTps / singleTps });
    log(`round ${round + 1}: 1 stream ${singleTps.toFixed(1)} tok/s, ${streams} streams ${concurrentTps.toFixed(1)} (steady ${steadyTps.toFixed(1)}, ${(steadyTps / singleTps).toFixed(2)}×)`);
  }
  const med = (f: (r: (typeof perRound)[number]) => number) => percentile(perRound.map(f), 0.5);
  const singleGaps = singles.flatMap((r) => r.gaps);
  const many = summary(manys.flat());
  result.throughput = {
    rounds: perRound,
    single: { decodeTps: med((r) => r.singleTps), itlP50: percentile(singleGaps, 0.5), itlP99: percentile(singleGaps, 0.99) },
    concurrent: { streams, decodeTps: med((r) => r.concurrentTps), itlP50: many.itlP50, itlP99: many.itlP99, ttftMs: many.ttftMs, steadyDecodeTps: med((r) => r.steadyTps), steadyItlP99: percentile(steady, 0.99), steadyGaps: steady.length },
    aggregateOverSingle: med((r) => r.overSingle),
    steadyAggregateOverSingle: med((r) => r.steadyOverSingle),
    p99Ratio: many.itlP99 / percentile(singleGaps, 0.99),
  };
  log(`throughput: ${JSON.stringify(result.throughput)}`);

  const m0 = await (await fetch(`${server.url}/metrics`)).text();
  const stat = (re: RegExp) => Number(re.exec(m0)?.[1]);
  result.decodeStepMsMean = (stat(/^moekit_forward_seconds_total\{phase="decode"\} (\S+)$/m) * 1000) / stat(/^moekit_forward_steps_total\{phase="decode",[^}]*\} (\S+)$/m);
  if (requests === 0) throw new Done();
  log("faults: reference answers, one at a time");
  const prompts: Prompt[] = Array.from({ length: 24 }, (_, i) => ({ text: promptText(200 + i, 4 + (i % 6) * 3), maxTokens: 4 + (i % 3) * 4 }));
  const references = await referenceAnswers(server.url, prompts);
  process.kill(server.child.pid!, "SIGUSR2");
  await new Promise((r) => setTimeout(r, 1000));
  const rssBefore = await serverRss(server.url);
  log(`faults: ${requests} requests from ${clients} clients (rss before ${(rssBefore / 1e6).toFixed(0)} MB)`);
  const faults = await faultTraffic({ url: server.url, prompts, references, requests, clients, malformedFraction: 0.1, disconnectFraction: 0.1, timeoutMs: 300_000, seed: 1 });
  await new Promise((r) => setTimeout(r, 2000));
  process.kill(server.child.pid!, "SIGUSR2");
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfter = await serverRss(server.url);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  result.faults = {
    ...faults,
    mismatches: faults.mismatches.length,
    mismatchSamples: faults.mismatches.slice(0, 5),
    failed: faults.failed.slice(0, 10),
    failedCount: faults.failed.length,
    rssBeforeMb: rssBefore / 1e6,
    rssAfterMb: rssAfter / 1e6,
    rssChange: rssAfter / rssBefore - 1,
    activeAfter: Number(/^moekit_active_sequences (\S+)$/m.exec(metrics)?.[1]),
    kvBytesAfter: Number(/^moekit_kv_cache_bytes (\S+)$/m.exec(metrics)?.[1]),
    steps: [...metrics.matchAll(/^moekit_forward_steps_total\{([^}]*)\} (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`),
  };
  log(`faults: ${JSON.stringify(result.faults)}`);
} catch (e) {
  if (!(e instanceof Done)) throw e;
} finally {
  const alive = server.child.exitCode === null;
  server.child.kill("SIGTERM");
  const code = await server.exited;
  result.server = { aliveAtEnd: alive, exitCode: code };
  log(`server: alive at the end ${alive}, exit code ${code}`);
  const out = arg("--out", "");
  if (out) writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
