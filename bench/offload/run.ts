/**
 * Decode under a memory limit: each case runs decode-child.ts in a fresh cgroup v1 memory group
 * (/sys/fs/cgroup/memory/moekit-offload-*, root only) with `memory.limit_in_bytes` = --limit, after the
 * weight file has been dropped from the page cache (a page is charged to the group that first reads it).
 * Cases: moekit with the expert cache (maxResidentBytes = limit − --headroom), moekit with the kernel
 * alone deciding (mapped, no budget), llama.cpp (node-llama-cpp, mmap), and with no limit moekit mapped
 * vs read into memory (MOEKIT_MMAP=0) for the "within 5% of resident speed" check. One JSON line per case.
 *
 *   node --import tsx bench/offload/run.ts --dir DIR --gguf FILE --limit 2.5G [--headroom 400M] [--new 48] [--cases a,b,...]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseByteSize } from "../../src/cli/byte-size.js";
import { evictFiles, weightFiles } from "./memory.js";

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    gguf: { type: "string" },
    limit: { type: "string", default: "2.5G" },
    headroom: { type: "string", default: "400M" },
    new: { type: "string", default: "48" },
    threads: { type: "string", default: "2" },
    cases: { type: "string", default: "moekit-cache,moekit-kernel,llama.cpp,moekit-unlimited-mapped,moekit-unlimited-read" },
  },
});
const limit = parseByteSize("--limit", values.limit);
const budget = limit - parseByteSize("--headroom", values.headroom);
const CG = "/sys/fs/cgroup/memory";

interface Case {
  name: string;
  limited: boolean;
  args: string[];
  env?: Record<string, string>;
  files: string[];
}
const child = ["--import", "tsx", "bench/offload/decode-child.ts", "--new", values.new, "--threads", values.threads];
const all: Case[] = [
  { name: "moekit-cache", limited: true, args: [...child, "--model", values.dir!, "--budget", String(budget)], files: weightFiles(values.dir!) },
  { name: "moekit-kernel", limited: true, args: [...child, "--model", values.dir!], files: weightFiles(values.dir!) },
  { name: "moekit-cache-gguf", limited: true, args: [...child, "--model", values.gguf!, "--budget", String(budget)], files: weightFiles(values.gguf!) },
  { name: "llama.cpp", limited: true, args: [...child, "--engine", "llama.cpp", "--model", values.gguf!], files: weightFiles(values.gguf!) },
  { name: "moekit-unlimited-mapped", limited: false, args: [...child, "--model", values.dir!], files: weightFiles(values.dir!) },
  { name: "moekit-unlimited-budget", limited: false, args: [...child, "--model", values.dir!, "--budget", String(1e12)], files: weightFiles(values.dir!) },
  { name: "moekit-unlimited-read", limited: false, args: [...child, "--model", values.dir!], env: { MOEKIT_MMAP: "0" }, files: weightFiles(values.dir!) },
];
for (const name of values.cases.split(",")) {
  const c = all.find((x) => x.name === name);
  if (!c) throw new Error(`unknown case ${name}: ${all.map((x) => x.name).join(", ")}`);
  const cached = evictFiles(c.files);
  const group = `${CG}/moekit-offload-${process.pid}-${name.replace(/[^a-z0-9-]/gi, "")}`;
  let prefix: string[] = [];
  if (c.limited) {
    mkdirSync(group);
    writeFileSync(`${group}/memory.limit_in_bytes`, String(limit));
    // the shell joins the group, then becomes node: every page node touches is charged to it
    prefix = ["sh", "-c", `echo $$ > ${group}/cgroup.procs && exec "$0" "$@"`];
  }
  const argv = [...prefix, process.execPath, ...c.args];
  const r = spawnSync(argv[0]!, argv.slice(1), { env: { ...process.env, ...c.env }, encoding: "utf8", maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let peak: number | undefined;
  let failcnt: number | undefined;
  if (c.limited) {
    peak = Number(readFileSync(`${group}/memory.max_usage_in_bytes`, "utf8")) / 2 ** 20;
    failcnt = Number(readFileSync(`${group}/memory.failcnt`, "utf8"));
    rmdirSync(group);
  }
  let result: unknown;
  try {
    result = JSON.parse(line);
  } catch {
    result = { error: `exit ${r.status} ${r.signal ?? ""}`, stderr: r.stderr.slice(-2000) };
  }
  console.log(JSON.stringify({ case: name, limitMiB: c.limited ? limit / 2 ** 20 : null, budgetMiB: budget / 2 ** 20, cachedBeforeEvictMiB: cached, groupPeakMiB: peak, failcnt, result }));
}
