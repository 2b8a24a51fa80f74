/**
 * The peer's model on disk: a cache folder per (dims, dtype, layers, seed, scale) holding the weights as
 * one external-data file (generated once, written under a temporary name and renamed when complete) and
 * the small model files that point into it. Folder: $MOEKIT_ORT_CACHE, else <tmpdir>/moekit-ort-peer.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { narrowFromF32 } from "../../../src/dtype.js";
import { encodeModel, type ExternalTensor } from "./onnx-model.js";
import { fc1Name, fc2Name, moeModel, weightTensors, type MoeDims, type PeerDtype, type WeightPlacement } from "./moe-model.js";
import { interleaveGateUp, layerSeed, seededExpertChunks } from "./weights.js";

export interface PeerModelSpec {
  dims: MoeDims;
  dtype: PeerDtype;
  layers: number;
  seed: number;
  /** weights are uniform in [-scale, scale) */
  scale: number;
  placement: WeightPlacement;
}

export interface PreparedModel {
  modelPath: string;
  dataPath: string;
  tensors: ExternalTensor[];
  weightBytes: number;
  /** time spent generating the data file now (0 when it was cached) */
  generatedMs: number;
}

const DATA_FILE = "weights.bin";

export function cacheRoot(): string {
  return process.env.MOEKIT_ORT_CACHE || join(os.tmpdir(), "moekit-ort-peer");
}

function folderName(s: PeerModelSpec): string {
  const d = s.dims;
  return `moe-H${d.hidden}-I${d.intermediate}-E${d.experts}-k${d.topK}-${s.dtype}-L${s.layers}-seed${s.seed}-scale${s.scale}`;
}

function bytesView(values: Float32Array, dtype: PeerDtype): Uint8Array {
  const v = dtype === "float32" ? values : narrowFromF32(values, dtype);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function writeData(path: string, s: PeerModelSpec, tensors: ExternalTensor[]): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const { hidden: h, intermediate: i } = s.dims;
  const wb = s.dtype === "float32" ? 4 : 2;
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    for (let l = 0; l < s.layers; l++) {
      const fc1 = byName.get(fc1Name(l))!;
      const fc2 = byName.get(fc2Name(l))!;
      for (const c of seededExpertChunks(s.dims, layerSeed(s.seed, l), s.scale)) {
        if (c.part === "gateUp") writeAll(fd, bytesView(interleaveGateUp(c.values, i, h), s.dtype), fc1.offset + c.expert * 2 * i * h * wb);
        else writeAll(fd, bytesView(c.values, s.dtype), fc2.offset + c.expert * h * i * wb);
      }
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** The model files for `spec`, generating the weights file if the cache lacks it. */
export function prepareModel(spec: PeerModelSpec, root = cacheRoot()): PreparedModel {
  if (os.endianness() !== "LE") throw new Error("the onnxruntime peer writes little-endian tensor data and needs a little-endian host");
  const dir = join(root, folderName(spec));
  mkdirSync(dir, { recursive: true });
  const tensors = weightTensors({ dims: spec.dims, dtype: spec.dtype, layers: spec.layers, dataFile: DATA_FILE });
  const last = tensors[tensors.length - 1]!;
  const dataPath = join(dir, DATA_FILE);
  const t0 = performance.now();
  let generatedMs = 0;
  if (!existsSync(dataPath) || statSync(dataPath).size !== last.offset + last.length) {
    writeData(dataPath, spec, tensors);
    generatedMs = performance.now() - t0;
  }
  const modelPath = join(dir, `model-${spec.placement}.onnx`);
  const model = moeModel({ dims: spec.dims, dtype: spec.dtype, layers: spec.layers, placement: spec.placement, dataFile: DATA_FILE });
  writeFileSync(modelPath, encodeModel(model));
  return { modelPath, dataPath, tensors, weightBytes: tensors.reduce((a, t) => a + t.length, 0), generatedMs };
}

/** The weight tensors' values read back from the data file (for the `inputs` placement). */
export function readWeights(m: PreparedModel): Map<string, Float32Array | Uint16Array> {
  const out = new Map<string, Float32Array | Uint16Array>();
  const fd = openSync(m.dataPath, "r");
  try {
    for (const t of m.tensors) {
      const buf = new ArrayBuffer(t.length);
      const bytes = new Uint8Array(buf);
      let done = 0;
      while (done < t.length) {
        const n = readSync(fd, bytes, done, Math.min(t.length - done, 1 << 30), t.offset + done);
        if (n === 0) throw new Error(`${m.dataPath}: ends before ${t.name} (offset ${t.offset}, length ${t.length})`);
        done += n;
      }
      out.set(t.name, t.dtype === "float32" ? new Float32Array(buf) : new Uint16Array(buf));
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
