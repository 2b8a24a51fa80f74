/**
 * Regenerates the GGUF interop fixtures in test/fixtures/gguf/: moekit writes moekit-written.gguf
 * (test/helpers/gguf-crosscheck.ts), gguf-py (scripts/gguf_py_fixtures.py, Python at $MOEKIT_PYTHON or
 * /work/venv/bin/python) reads it and writes its own gguf-py-written.gguf, and both views are saved
 * as JSON; the tests compare moekit's reading of both files with them, without Python. This script
 * also checks the two views agree now and says so.
 *
 *   node --import tsx scripts/gguf-py-fixtures.ts
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { encodeGguf, GgufFile } from "../src/loading/gguf/index.js";
import { FileSource } from "../src/loading/node-files.js";
import { fileJson, moekitCrosscheckFile } from "../test/helpers/gguf-crosscheck.js";

const OUT = "test/fixtures/gguf";
const python = process.env.MOEKIT_PYTHON ?? "/work/venv/bin/python";
const { metadata, tensors } = moekitCrosscheckFile();
writeFileSync(`${OUT}/moekit-written.gguf`, encodeGguf(metadata, tensors));
const r = spawnSync(python, ["scripts/gguf_py_fixtures.py", `${OUT}/moekit-written.gguf`, OUT], { stdio: "inherit" });
if (r.status !== 0) process.exit(r.status ?? 1);
for (const [file, json] of [["moekit-written.gguf", "moekit-written.gguf-py.json"], ["gguf-py-written.gguf", "gguf-py-written.json"]]) {
  const ours = await fileJson(await GgufFile.open(new FileSource(`${OUT}/${file}`)));
  const theirs = JSON.parse(readFileSync(`${OUT}/${json}`, "utf8"));
  console.log(`${file}: moekit's and gguf-py's readings ${isDeepStrictEqual(ours, theirs) ? "agree" : "DIFFER"}`);
}
