/**
 * End to end in a browser: builds examples/browser with Vite, serves it and the fixture checkpoints on
 * localhost (Range requests supported), drives Debian's chromium headless through playwright-core
 * (both installed by scripts/setup-browser.sh), loads fixture models into the page by URL, generates
 * 8 greedy tokens on the page's WebGPU backend and checks them against greedy_ids; a screenshot of each
 * run is saved in test-artifacts/. Skips, printing why, when chromium, the example's packages or
 * WebGPU in the browser are unavailable.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, sep } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { quantizeCommand } from "../../src/cli/quantize.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";
import { Tensor } from "../../src/tensor.js";
import { GGUF_MODELS, ggufPath } from "../helpers/gguf-models.js";
import { expectedTensors, F32, familyDir } from "../models/model-fixtures.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const EXAMPLE = join(ROOT, "examples", "browser");
const DIST = join(EXAMPLE, "dist");
const ARTIFACTS = join(ROOT, "test-artifacts");
const CHROMIUM = process.env.MOEKIT_CHROMIUM ?? "/usr/bin/chromium";
const PLAYWRIGHT = join(EXAMPLE, "node_modules", "playwright-core", "index.mjs");
const VITE = join(EXAMPLE, "node_modules", "vite", "bin", "vite.js");
/** One run per family, cycling the implementations (every implementation is covered). */
const RUNS: [string, string][] = [
  ["qwen2_moe", "grouped_mm"],
  ["gpt_oss", "batched_mm"],
  ["deepseek_v3", "eager"],
];
const ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-angle=swiftshader",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

// Minimal structural types of the playwright-core API used here (it is installed only in the example).
interface Page {
  setInputFiles(selector: string, files: string): Promise<void>;
  goto(url: string): Promise<unknown>;
  waitForFunction(fn: string, arg?: unknown, opts?: { timeout?: number }): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
  screenshot(opts: { path: string; fullPage?: boolean }): Promise<unknown>;
  on(event: "console" | "pageerror", fn: (m: { text?: () => string; message?: string }) => void): void;
}
interface Context {
  pages(): Page[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Chromium {
  launchPersistentContext(dir: string, opts: { executablePath: string; headless: boolean; args: string[] }): Promise<Context>;
}

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".png": "image/png" };

/** `moekit quantize` output written by the quantized-checkpoint test (served at /quantized/). */
const QUANTIZED = mkdtempSync(join(tmpdir(), "moekit-quantized-"));

/** What the page asked of each served path: whole-file GETs and Range requests. */
const served = new Map<string, { whole: number; ranges: number }>();

/**
 * Static files: / → the built page, /fixtures/ → test/fixtures/transformers, /gguf/ →
 * test/fixtures/gguf/models; HEAD and single Range requests.
 */
function serve(): Promise<{ server: Server; origin: string }> {
  const mounts: [string, string][] = [
    ["/fixtures/", F32.dir],
    ["/gguf/", GGUF_MODELS],
    ["/quantized/", QUANTIZED],
    ["/", DIST],
  ];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const count = served.get(path) ?? { whole: 0, ranges: 0 };
    served.set(path, count);
    if (req.method === "GET") count[req.headers.range ? "ranges" : "whole"]++;
    const mount = mounts.find(([prefix]) => path.startsWith(prefix))!;
    let file = normalize(join(mount[1], path.slice(mount[0].length)));
    if (!file.startsWith(mount[1] + sep) && file !== mount[1]) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!existsSync(file)) return void res.writeHead(404).end();
    const size = statSync(file).size;
    const headers: Record<string, string | number> = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "accept-ranges": "bytes", "cache-control": "no-store" };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end) return void res.writeHead(416, { "content-range": `bytes */${size}` }).end();
      res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${size}`, "content-length": end - start + 1 });
      if (req.method === "HEAD") return void res.end();
      return void createReadStream(file, { start, end }).pipe(res);
    }
    res.writeHead(200, { ...headers, "content-length": size });
    if (req.method === "HEAD") return void res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

function whyNot(): string | undefined {
  if (process.env.MOEKIT_SKIP_BROWSER) return "MOEKIT_SKIP_BROWSER is set";
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (run scripts/setup-browser.sh)`;
  if (!existsSync(PLAYWRIGHT) || !existsSync(VITE)) return "examples/browser has no node_modules (run scripts/setup-browser.sh)";
  return undefined;
}

let skip = whyNot();
let context: Context | undefined;
let page: Page | undefined;
let http: { server: Server; origin: string } | undefined;
let profile: string | undefined;

if (!skip) {
  const build = spawnSync(process.execPath, [VITE, "build", "--logLevel", "warn"], { cwd: EXAMPLE, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`vite build of examples/browser failed:\n${build.stdout}\n${build.stderr}`);
  http = await serve();
  const { chromium } = (await import(pathToFileURL(PLAYWRIGHT).href)) as { chromium: Chromium };
  profile = mkdtempSync(join(tmpdir(), "moekit-chromium-"));
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  } catch (e) {
    skip = `chromium could not start: ${(e as Error).message.split("\n")[0]}`;
  }
  if (context) {
    // From here on a failure is the page's fault, not the machine's: it fails the file rather than skipping.
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => process.stderr.write(`# page error: ${e.message}\n`));
    await page.goto(`${http.origin}/`);
    await page.waitForFunction("document.body.dataset.gpu", undefined, { timeout: 60_000 });
    const adapter = await page.evaluate<string | null>(
      "(async () => { const a = navigator.gpu && (await navigator.gpu.requestAdapter()); return a ? [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' ') : null; })()",
    );
    if (!adapter) skip = "chromium has no WebGPU adapter here (navigator.gpu.requestAdapter() gave none)";
    else process.stderr.write(`# browser e2e on chromium WebGPU adapter: ${adapter}\n`);
  }
}
if (skip) process.stderr.write(`# skipping browser e2e: ${skip}\n`);

after(async () => {
  rmSync(QUANTIZED, { recursive: true, force: true });
  await context?.close();
  http?.server.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A fixture family's prompt (row 0 of input_ids) as page parameters, and its expected greedy ids. */
async function fixtureRun(family: string): Promise<{ prompt: string; greedy: number[] }> {
  const ex = await expectedTensors(F32, family);
  const s = ex.input_ids!.shape[1]!;
  const prompt = Array.from(((await ex.input_ids!.data()) as Int32Array).slice(0, s));
  return { prompt: prompt.join(","), greedy: Array.from((await ex.greedy_ids!.data()) as Int32Array) };
}

type PageRun = { tokens: number[]; error?: string; impl?: string; model?: string; prefillTokensPerS?: number; decodeTokensPerS?: number };

/** Waits for the page's run to end, saves a screenshot `browser-e2e-<shot>.png` and returns its result, failing on a page error. */
async function finishedRun(shot: string): Promise<PageRun> {
  await page!.waitForFunction("['done', 'error'].includes(document.body.dataset.state)", undefined, { timeout: 110_000 });
  await page!.screenshot({ path: join(ARTIFACTS, `browser-e2e-${shot}.png`), fullPage: true });
  const run = await page!.evaluate<PageRun>("window.moekit");
  assert.equal(run.error, undefined, `page error: ${run.error}`);
  return run;
}

/** Opens the page without a model, hands it `files` through the input `selector`, then generates. */
async function runChosen(query: URLSearchParams, selector: string, files: string, shot: string): Promise<PageRun> {
  await page!.goto(`${http!.origin}/?${query}`);
  await page!.waitForFunction("document.body.dataset.gpu", undefined, { timeout: 60_000 });
  await page!.setInputFiles(selector, files);
  await page!.waitForFunction("['ready', 'error'].includes(document.body.dataset.state)", undefined, { timeout: 60_000 });
  await page!.evaluate("document.getElementById('generate').click()");
  return finishedRun(shot);
}

describe("browser example end to end (chromium, WebGPU)", { skip }, () => {
  before(() => mkdirSync(ARTIFACTS, { recursive: true }));
  for (const [family, impl] of RUNS) {
    it(`${family} with ${impl}: 8 greedy tokens equal greedy_ids`, { timeout: 120_000 }, async () => {
      const { prompt, greedy } = await fixtureRun(family);
      const q = new URLSearchParams({ model: `/fixtures/${family}/`, impl, prompt, max: "8", ignoreEos: "1", autorun: "1" });
      await page!.goto(`${http!.origin}/?${q}`);
      const run = await finishedRun(`${family}-${impl}`);
      assert.equal(run.impl, impl);
      assert.deepEqual(run.tokens, greedy, `${family} ${impl}: tokens from the page`);
      assert.ok(run.prefillTokensPerS! > 0 && run.decodeTokensPerS! > 0, "the page reports prefill and decode rates");
    });
  }

  it("a GGUF by URL (qwen2_moe.gguf), read by Range requests, batched_mm", { timeout: 120_000 }, async () => {
    const family = "qwen2_moe";
    const { prompt, greedy } = await fixtureRun(family);
    served.delete(`/gguf/${family}.gguf`);
    const q = new URLSearchParams({ model: `/gguf/${family}.gguf`, impl: "batched_mm", prompt, max: "8", ignoreEos: "1", autorun: "1" });
    await page!.goto(`${http!.origin}/?${q}`);
    const run = await finishedRun(`${family}-gguf-url`);
    assert.deepEqual(run.tokens, greedy, "tokens from the GGUF");
    const reads = served.get(`/gguf/${family}.gguf`);
    assert.ok(reads && reads.ranges > 1, `the page read the GGUF by ranges (${JSON.stringify(reads)})`);
    assert.equal(reads.whole, 0, "the GGUF was never downloaded whole");
  });

  it("a chosen GGUF file (olmoe.gguf), grouped_mm", { timeout: 120_000 }, async () => {
    const family = "olmoe";
    const { prompt, greedy } = await fixtureRun(family);
    const q = new URLSearchParams({ impl: "grouped_mm", prompt, max: "8", ignoreEos: "1" });
    const run = await runChosen(q, "#gguf", ggufPath(family), `${family}-gguf-file`);
    assert.deepEqual(run.tokens, greedy, "tokens from the chosen GGUF");
  });

  it("a quantized checkpoint (moekit quantize --dtype q8_0 of qwen2_moe) generates on WebGPU as on the reference backend", { timeout: 120_000 }, async () => {
    const family = "qwen2_moe";
    let log = "";
    const code = await quantizeCommand([familyDir(F32, family), "--dtype", "q8_0", "-o", QUANTIZED], { out: () => {}, err: (x) => void (log += x) });
    assert.equal(code, 0, log);
    const { prompt } = await fixtureRun(family);
    const ids = prompt.split(",").map(Number);
    const reference = await AutoModelForCausalLM.fromPretrained(QUANTIZED, { backend: "reference" });
    assert.ok(reference.moeBlocks()[0]!.experts.weights.gateUp!.dtype === "q8_0", "the experts stay q8_0");
    const input = Tensor.from(Int32Array.from(ids), [1, ids.length]);
    const want = Array.from(((await (await reference.generate(input, { maxNewTokens: 8, minNewTokens: 8 })).data()) as Int32Array).slice(ids.length));
    const q = new URLSearchParams({ model: "/quantized/", impl: "grouped_mm", prompt, max: "8", ignoreEos: "1", autorun: "1" });
    await page!.goto(`${http!.origin}/?${q}`);
    const run = await finishedRun(`${family}-q8_0`);
    assert.deepEqual(run.tokens, want, "tokens of the quantized checkpoint on the page's WebGPU");
  });

  it("mixtral from a chosen folder (input webkitdirectory), grouped_mm", { timeout: 120_000 }, async () => {
    const family = "mixtral";
    const { prompt, greedy } = await fixtureRun(family);
    const q = new URLSearchParams({ impl: "grouped_mm", prompt, max: "8", ignoreEos: "1" });
    const run = await runChosen(q, "#folder", join(F32.dir, family), `${family}-folder`);
    assert.equal(run.model, family, "the checkpoint is named after the chosen folder");
    assert.deepEqual(run.tokens, greedy);
  });
});
