/**
 * fromPretrained of one checkpoint `--repeat` times in one process (the first includes compiling moekit's
 * modules through tsx; later ones are the load itself), and the GGUF header parse alone. One JSON line:
 *
 *   node --expose-gc --import tsx bench/offload/load-repeat.ts --model FILE.gguf|DIR [--repeat 3]
 */
import { parseArgs } from "node:util";
import { GgufFile } from "../../src/loading/gguf/reader.js";
import { FileSource } from "../../src/loading/node-files.js";
import { AutoModelForCausalLM } from "../../src/pretrained/auto-model.js";

const { values } = parseArgs({ options: { model: { type: "string" }, repeat: { type: "string", default: "3" } } });
if (!values.model) throw new Error("--model FILE.gguf|DIR is required");
const gc = (globalThis as { gc?: () => void }).gc;
const loadMs: number[] = [];
for (let i = 0; i < Number(values.repeat); i++) {
  gc?.();
  const t0 = performance.now();
  const m = await AutoModelForCausalLM.fromPretrained(values.model, { backend: "cpu", threads: 2 });
  loadMs.push(Math.round(performance.now() - t0));
  m.dispose();
}
const headerMs: number[] = [];
if (values.model.endsWith(".gguf")) {
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await GgufFile.open(new FileSource(values.model));
    headerMs.push(Math.round(performance.now() - t0));
  }
}
console.log(JSON.stringify({ model: values.model, loadMs, headerMs }));
