/**
 * An ONNX ModelProto from a plain description, serialized with the protobuf writer (field numbers of
 * onnx/onnx.proto). Only what the peer needs: one graph, nodes with int/float/string attributes, typed
 * inputs and outputs, and initializers whose bytes live in external data files next to the model.
 */
import { ProtoWriter } from "./protobuf.js";

/** TensorProto.DataType codes. */
export const ONNX_DTYPE = { float32: 1, int32: 6, int64: 7, float16: 10, bfloat16: 16 } as const;
export type OnnxDType = keyof typeof ONNX_DTYPE;
const BYTES: Record<OnnxDType, number> = { float32: 4, int32: 4, int64: 8, float16: 2, bfloat16: 2 };

/** AttributeProto.AttributeType codes. */
export const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3 } as const;
export type Attribute = { type: "int"; value: number } | { type: "float"; value: number } | { type: "string"; value: string };

export interface OnnxNode {
  opType: string;
  /** "" (or absent) for the default ONNX domain */
  domain?: string;
  name?: string;
  /** an empty string marks an absent optional input */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

export interface ValueInfo {
  name: string;
  dtype: OnnxDType;
  /** numbers are fixed sizes, strings symbolic ones */
  shape: (number | string)[];
}

/** An initializer stored as raw little-endian bytes at [offset, offset + length) of `location`. */
export interface ExternalTensor {
  name: string;
  dtype: OnnxDType;
  dims: number[];
  /** path of the data file relative to the model file's folder */
  location: string;
  offset: number;
  length: number;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: ExternalTensor[];
}

export interface OnnxModel {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
}

export function bytesOf(dtype: OnnxDType): number {
  return BYTES[dtype];
}

function attribute(name: string, a: Attribute): ProtoWriter {
  const w = new ProtoWriter().string(1, name).varint(20, ATTRIBUTE_TYPE[a.type]);
  if (a.type === "float") return w.float(2, a.value);
  if (a.type === "int") {
    if (!Number.isSafeInteger(a.value) || a.value < 0) throw new Error(`attribute ${name}: int attributes must be non-negative integers, got ${a.value}`);
    return w.varint(3, a.value);
  }
  return w.string(4, a.value);
}

function node(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes)) w.message(5, attribute(name, a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function valueInfo(v: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = typeof d === "number" ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().varint(1, ONNX_DTYPE[v.dtype]).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function externalTensor(t: ExternalTensor): ProtoWriter {
  const expected = t.dims.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
  if (t.length !== expected) throw new Error(`initializer ${t.name}: ${t.length} bytes for dims [${t.dims.join(", ")}] of ${t.dtype} (expected ${expected})`);
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, ONNX_DTYPE[t.dtype]).string(8, t.name);
  for (const [key, value] of [["location", t.location], ["offset", String(t.offset)], ["length", String(t.length)]]) {
    w.message(13, new ProtoWriter().string(1, key!).string(2, value!));
  }
  return w.varint(14, 1); // data_location = EXTERNAL
}

function graph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, node(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, externalTensor(t));
  for (const v of g.inputs) w.message(11, valueInfo(v));
  for (const v of g.outputs) w.message(12, valueInfo(v));
  return w;
}

/** The serialized ModelProto. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter().varint(1, m.irVersion).string(2, m.producerName).string(3, m.producerVersion);
  w.message(7, graph(m.graph));
  for (const o of m.opsets) w.message(8, new ProtoWriter().string(1, o.domain).varint(2, o.version));
  return w.finish();
}
