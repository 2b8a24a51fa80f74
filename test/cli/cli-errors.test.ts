/**
 * `moekit` run as a child process: a user mistake exits non-zero at once with one line naming it, never
 * a stack trace, and never after work has started (no model load, no benchmark, no directory created).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, stat, writeFile, readFile, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { F32, familyDir } from "../models/model-fixtures.js";

const CHILD = fileURLToPath(new URL("../helpers/cli-child.ts", import.meta.url));

function moekit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ["--import", "tsx", CHILD, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

async function refused(args: string[], code: number, message: RegExp): Promise<void> {
  const r = await moekit(...args);
  assert.equal(r.code, code, `moekit ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
}

const OLMOE = familyDir(F32, "olmoe");

describe("moekit command line: user mistakes", () => {
  it("info takes no arguments", async () => {
    await refused(["info", "extra"], 2, /^moekit info: unexpected argument 'extra' \(moekit info takes no arguments/);
    assert.equal((await moekit("info")).code, 0);
  });

  it("generate: --ids with an empty or non-integer entry, bad numbers, names and unknown options", async () => {
    await refused(["generate", OLMOE, "--ids", "1,,2"], 2, /--ids must list token ids separated by commas, entry 2 is ''/);
    await refused(["generate", OLMOE, "--ids", "1,-2"], 2, /--ids must list token ids separated by commas, entry 2 is '-2'/);
    await refused(["generate", OLMOE, "--ids", "1", "--max-new-tokens", "1.5"], 2, /--max-new-tokens must be an integer ≥ 0, got '1\.5'/);
    await refused(["generate", OLMOE, "--ids", "1", "--temperature", "-5"], 2, /--temperature must be a number ≥ 0 \(0: greedy\), got '-5'/);
    await refused(["generate", OLMOE, "--ids", "1", "--threads", "0"], 2, /--threads must be an integer ≥ 1, got '0'/);
    await refused(["generate", OLMOE, "--ids", "1", "--experts", "fastest"], 2, /--experts: unknown experts implementation "fastest"/);
    await refused(["generate", "nowhere", "--ids", "1", "--backend", "nope"], 2, /--backend must be one of auto, cpu, webgpu, reference, got 'nope'/);
    await refused(["generate", OLMOE, "--ids", "1", "--seed", "x"], 2, /--seed must be an integer ≥ 0, got 'x'/);
    await refused(["generate", OLMOE, "--ids", "1", "--chat"], 2, /--chat needs --prompt/);
    await refused(["generate", OLMOE, "--ids", "1", "--bogus"], 2, /unknown option --bogus/);
  });

  it("generate: a folder without config.json, and a config that fails validation", async () => {
    const empty = await mkdtemp(join(tmpdir(), "moekit-cli-"));
    await refused(["generate", empty, "--ids", "1,2"], 1, /^moekit generate: checkpoint '.*' has no config\.json$/m);
    const bad = await mkdtemp(join(tmpdir(), "moekit-cli-"));
    await cp(OLMOE, bad, { recursive: true });
    const cfg = JSON.parse(await readFile(join(OLMOE, "config.json"), "utf8")) as Record<string, unknown>;
    await writeFile(join(bad, "config.json"), JSON.stringify({ ...cfg, num_experts_per_tok: 99 }));
    await refused(["generate", bad, "--ids", "1,2", "--backend", "reference"], 1, /config\.json \(olmoe\): 'num_experts_per_tok' 99 must be ≤ num_experts 8/);
  });

  it("bench: a bad backend or output path is refused before any case runs", async () => {
    await refused(["bench", "--backend", "nope"], 2, /^moekit bench: --backend must be one of reference, cpu, got 'nope'/);
    const dir = await mkdtemp(join(tmpdir(), "moekit-cli-"));
    await refused(["bench", "--json", join(dir, "missing", "out.json")], 2, /--json .*: the directory .*missing does not exist \(create it first\)/);
    await refused(["bench", "--markdown", dir], 2, /--markdown .* is a directory, not a file/);
  });

  it("tune --out: no directory is created", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moekit-cli-"));
    const out = join(dir, "a", "b", "profile.json");
    await refused(["tune", "--out", out, "--backend", "reference"], 2, /--out .*: the directory .*b does not exist \(create it first\)/);
    await assert.rejects(stat(join(dir, "a")), /ENOENT/);
  });

  it("unknown commands", async () => {
    const r = await moekit("nope");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^moekit: unknown command 'nope'/);
  });
});
