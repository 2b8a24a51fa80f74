/**
 * The moekit browser page: load a checkpoint (folder, GGUF file or URL) onto the WebGPU backend, pick the
 * experts implementation, stream generated token ids and show prefill / decode tokens/s.
 *
 * Query parameters drive it without clicks (the end-to-end test uses them):
 *   ?model=<url, a checkpoint folder or a .gguf file>&impl=grouped_mm&prompt=1,2,3&max=8&ignoreEos=1&autorun=1
 * Progress is mirrored on document.body.dataset.state ("idle" | "loading" | "ready" | "generating" |
 * "done" | "error"), WebGPU availability on document.body.dataset.gpu ("ok" | "none") and the last
 * run on window.moekit.
 */
import { AutoModelForCausalLM, Tensor, createWebGpuBackend, type Checkpoint, type MoeForCausalLM, type WebGpuBackend } from "../../../src/index.js";
import { checkpointFromFiles, checkpointFromGgufFile, checkpointFromUrl } from "./sources.js";

interface RunReport {
  adapter?: string;
  model?: string;
  impl?: string;
  prompt?: number[];
  tokens: number[];
  prefillTokensPerS?: number;
  decodeTokensPerS?: number;
  error?: string;
}

const report: RunReport = { tokens: [] };
(window as unknown as { moekit: RunReport }).moekit = report;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  adapter: $<HTMLDivElement>("adapter"),
  folder: $<HTMLInputElement>("folder"),
  gguf: $<HTMLInputElement>("gguf"),
  url: $<HTMLInputElement>("url"),
  loadUrl: $<HTMLButtonElement>("load-url"),
  modelInfo: $<HTMLDivElement>("model-info"),
  impl: $<HTMLSelectElement>("impl"),
  max: $<HTMLInputElement>("max"),
  ignoreEos: $<HTMLInputElement>("ignore-eos"),
  sample: $<HTMLInputElement>("sample"),
  prompt: $<HTMLInputElement>("prompt"),
  generate: $<HTMLButtonElement>("generate"),
  status: $<HTMLDivElement>("status"),
  output: $<HTMLPreElement>("output"),
  prefill: $<HTMLSpanElement>("prefill"),
  decode: $<HTMLSpanElement>("decode"),
  count: $<HTMLSpanElement>("count"),
};

function setState(state: string): void {
  document.body.dataset.state = state;
}

function status(text: string, error = false): void {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", error);
}

function fail(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  report.error = msg;
  status(msg, true);
  setState("error");
  console.error(e);
}

let backend: WebGpuBackend | undefined;
let model: MoeForCausalLM | undefined;

async function gpuBackend(): Promise<WebGpuBackend> {
  if (backend) return backend;
  if (!("gpu" in navigator)) throw new Error("This browser has no WebGPU (navigator.gpu is missing). Try Chrome/Edge 113+, or enable WebGPU.");
  backend = await createWebGpuBackend();
  report.adapter = backend.description;
  ui.adapter.textContent = `WebGPU: ${backend.description}`;
  return backend;
}

async function load(open: () => Promise<Checkpoint>): Promise<void> {
  try {
    setState("loading");
    ui.generate.disabled = true;
    const b = await gpuBackend();
    status("Reading the checkpoint…");
    const ckpt = await open();
    const t0 = performance.now();
    model = await AutoModelForCausalLM.fromPretrained(ckpt, { backend: b, expertsImplementation: ui.impl.value });
    await b.sync();
    const secs = (performance.now() - t0) / 1000;
    report.model = ckpt.name;
    ui.modelInfo.textContent = `${model.modelType}: ${model.numLayers} layers, vocabulary ${model.vocabSize} (${ckpt.name})`;
    status(`Loaded in ${secs.toFixed(2)} s.`);
    ui.generate.disabled = false;
    setState("ready");
  } catch (e) {
    fail(e);
  }
}

function parseIds(text: string): number[] {
  const ids = text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 0)) throw new Error(`prompt: expected token ids separated by commas or spaces, got '${text}'`);
  return ids;
}

async function generate(): Promise<void> {
  if (!model) return;
  try {
    setState("generating");
    ui.generate.disabled = true;
    model.setExpertsImplementation(ui.impl.value);
    const prompt = parseIds(ui.prompt.value);
    const max = Math.max(1, Number(ui.max.value) || 1);
    Object.assign(report, { impl: ui.impl.value, prompt, tokens: [], error: undefined, prefillTokensPerS: undefined, decodeTokensPerS: undefined });
    ui.output.textContent = `${prompt.join(" ")} │`;
    ui.prefill.textContent = ui.decode.textContent = "–";
    ui.count.textContent = "0";
    status(`Generating with ${ui.impl.value}…`);
    const input = Tensor.from(Int32Array.from(prompt), [1, prompt.length]);
    const opts = { maxNewTokens: max, minNewTokens: ui.ignoreEos.checked ? max : 0, doSample: ui.sample.checked, temperature: 1 };
    const start = performance.now();
    let first = 0;
    for await (const step of model.stream(input, opts)) {
      const now = performance.now();
      report.tokens.push(step[0]!);
      ui.output.textContent += ` ${step[0]}`;
      ui.count.textContent = String(report.tokens.length);
      if (report.tokens.length === 1) {
        first = now;
        report.prefillTokensPerS = prompt.length / ((now - start) / 1000);
        ui.prefill.textContent = report.prefillTokensPerS.toFixed(1);
      } else {
        report.decodeTokensPerS = (report.tokens.length - 1) / ((now - first) / 1000);
        ui.decode.textContent = report.decodeTokensPerS.toFixed(1);
      }
    }
    status(`Done: ${report.tokens.length} tokens with ${ui.impl.value}.`);
    ui.generate.disabled = false;
    setState("done");
  } catch (e) {
    ui.generate.disabled = false;
    fail(e);
  }
}

ui.folder.addEventListener("change", () => {
  if (ui.folder.files && ui.folder.files.length > 0) void load(() => checkpointFromFiles(ui.folder.files!));
});
ui.gguf.addEventListener("change", () => {
  const file = ui.gguf.files?.[0];
  if (file) void load(() => checkpointFromGgufFile(file));
});
ui.loadUrl.addEventListener("click", () => {
  if (ui.url.value.trim()) void load(() => checkpointFromUrl(ui.url.value.trim()));
});
ui.generate.addEventListener("click", () => void generate());

async function main(): Promise<void> {
  setState("idle");
  const q = new URLSearchParams(location.search);
  if (q.get("impl")) ui.impl.value = q.get("impl")!;
  if (q.get("prompt")) ui.prompt.value = q.get("prompt")!;
  if (q.get("max")) ui.max.value = q.get("max")!;
  if (q.get("ignoreEos") === "1") ui.ignoreEos.checked = true;
  try {
    await gpuBackend();
    document.body.dataset.gpu = "ok";
  } catch (e) {
    document.body.dataset.gpu = "none";
    ui.adapter.textContent = `WebGPU unavailable: ${(e as Error).message}`;
    fail(e);
    return;
  }
  const url = q.get("model");
  if (url) {
    ui.url.value = url;
    await load(() => checkpointFromUrl(url));
    if (q.get("autorun") === "1" && model) await generate();
  }
}

void main();
