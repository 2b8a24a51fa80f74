import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeModel, type OnnxModel } from "../../bench/peers/onnxruntime/onnx-model.js";
import { DATA_ALIGNMENT, moeModel, QWEN15_MOE_EXPERTS, type MoeModelSpec } from "../../bench/peers/onnxruntime/moe-model.js";
import { encodeVarint, ProtoWriter } from "../../bench/peers/onnxruntime/protobuf.js";
import { interleaveGateUp } from "../../bench/peers/onnxruntime/weights.js";

// ---- a tiny protobuf decoder, independent of the writer ----------------------------------------

type Field = { wire: 0; value: number } | { wire: 2; value: Uint8Array } | { wire: 5; value: number };

function readVarint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[at++]!;
    v += (byte & 0x7f) * mul;
    mul *= 128;
    if (byte < 0x80) return [v, at];
  }
}

function decode(b: Uint8Array): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let at = 0;
  while (at < b.length) {
    let key;
    [key, at] = readVarint(b, at);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let f: Field;
    if (wire === 0) {
      let v;
      [v, at] = readVarint(b, at);
      f = { wire, value: v };
    } else if (wire === 2) {
      let n;
      [n, at] = readVarint(b, at);
      f = { wire, value: b.subarray(at, at + n) };
      at += n;
    } else if (wire === 5) {
      f = { wire, value: new DataView(b.buffer, b.byteOffset + at, 4).getFloat32(0, true) };
      at += 4;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
    if (!out.has(field)) out.set(field, []);
    out.get(field)!.push(f);
  }
  assert.equal(at, b.length, "fields end exactly at the end of the message");
  return out;
}

const text = (f: Field) => new TextDecoder().decode(f.value as Uint8Array);
const all = (m: Map<number, Field[]>, field: number) => m.get(field) ?? [];
const one = (m: Map<number, Field[]>, field: number) => {
  const fs = all(m, field);
  assert.equal(fs.length, 1, `field ${field} once`);
  return fs[0]!;
};
const num = (m: Map<number, Field[]>, field: number) => one(m, field).value as number;
const str = (m: Map<number, Field[]>, field: number) => text(one(m, field));
const msgs = (m: Map<number, Field[]>, field: number) => all(m, field).map((f) => decode(f.value as Uint8Array));

function decodeModel(spec: MoeModelSpec) {
  const model = decode(encodeModel(moeModel(spec)));
  const graph = decode(one(model, 7).value as Uint8Array);
  return { model, graph };
}

/** ValueInfoProto → name and shape (numbers for dim_value, strings for dim_param) and elem_type. */
function valueInfo(v: Map<number, Field[]>) {
  const tensorType = msgs(msgs(v, 2)[0]!, 1)[0]!;
  const dims = msgs(msgs(tensorType, 2)[0]!, 1).map((d) => (d.has(1) ? num(d, 1) : str(d, 2)));
  return { name: str(v, 1), elemType: num(tensorType, 1), dims };
}

const QWEN: MoeModelSpec = { dims: QWEN15_MOE_EXPERTS, dtype: "float32", layers: 2, placement: "initializers", dataFile: "weights.bin" };

describe("protobuf writer", () => {
  it("encodes varints base-128, low group first", () => {
    assert.deepEqual([...encodeVarint(0)], [0]);
    assert.deepEqual([...encodeVarint(127)], [0x7f]);
    assert.deepEqual([...encodeVarint(128)], [0x80, 0x01]);
    assert.deepEqual([...encodeVarint(300)], [0xac, 0x02]);
    const big = 60 * 2816 * 2048 * 4 * 3; // beyond 32 bits
    assert.equal(readVarint(encodeVarint(big), 0)[0], big);
    assert.throws(() => encodeVarint(-1), /non-negative safe integer/);
    assert.throws(() => encodeVarint(1.5), /non-negative safe integer/);
  });

  it("writes keys, varints, fixed32 floats and nested messages", () => {
    const bytes = new ProtoWriter().varint(1, 150).string(2, "MoE").float(3, 0.5).message(4, new ProtoWriter().varint(1, 7)).finish();
    assert.deepEqual([...bytes.subarray(0, 3)], [0x08, 0x96, 0x01]); // field 1 varint 150: the protobuf docs' example
    const m = decode(bytes);
    assert.equal(num(m, 1), 150);
    assert.equal(str(m, 2), "MoE");
    assert.equal(num(m, 3), 0.5);
    assert.equal(num(msgs(m, 4)[0]!, 1), 7);
    assert.throws(() => new ProtoWriter().varint(0, 1), /invalid field number 0/);
  });
});

describe("the com.microsoft.MoE model", () => {
  it("declares IR 10, the default opset 21 and com.microsoft 1", () => {
    const { model } = decodeModel(QWEN);
    assert.equal(num(model, 1), 10);
    assert.equal(str(model, 2), "moekit-bench");
    assert.deepEqual(
      msgs(model, 8).map((o) => [o.has(1) ? str(o, 1) : "", num(o, 2)]),
      [["", 21], ["com.microsoft", 1]],
    );
  });

  it("has one MoE node per layer with the gated-SiLU attributes", () => {
    const { graph } = decodeModel(QWEN);
    const nodes = msgs(graph, 1);
    assert.equal(nodes.length, 2);
    nodes.forEach((n, l) => {
      assert.equal(str(n, 4), "MoE");
      assert.equal(str(n, 7), "com.microsoft");
      assert.equal(str(n, 3), `moe_${l}`);
      assert.deepEqual(all(n, 1).map(text), ["input", `router_probs_${l}`, `fc1_experts_weights_${l}`, "", `fc2_experts_weights_${l}`]);
      assert.deepEqual(all(n, 2).map(text), [`output_${l}`]);
      const attrs = new Map(msgs(n, 5).map((a) => [str(a, 1), a]));
      assert.deepEqual([...attrs.keys()].sort(), ["activation_alpha", "activation_beta", "activation_type", "k", "normalize_routing_weights", "swiglu_fusion"]);
      const int = (name: string) => (assert.equal(num(attrs.get(name)!, 20), 2, `${name} is INT`), num(attrs.get(name)!, 3));
      const float = (name: string) => (assert.equal(num(attrs.get(name)!, 20), 1, `${name} is FLOAT`), num(attrs.get(name)!, 2));
      assert.equal(int("k"), 4);
      assert.equal(int("swiglu_fusion"), 1);
      assert.equal(int("normalize_routing_weights"), 1);
      assert.equal(float("activation_alpha"), 1);
      assert.equal(float("activation_beta"), 0);
      assert.equal(num(attrs.get("activation_type")!, 20), 3);
      assert.equal(str(attrs.get("activation_type")!, 4), "swiglu");
    });
  });

  it("types the graph inputs and outputs with a symbolic token count", () => {
    const { graph } = decodeModel(QWEN);
    assert.deepEqual(msgs(graph, 11).map(valueInfo), [
      { name: "input", elemType: 1, dims: ["tokens", 2048] },
      { name: "router_probs_0", elemType: 1, dims: ["tokens", 60] },
      { name: "router_probs_1", elemType: 1, dims: ["tokens", 60] },
    ]);
    assert.deepEqual(msgs(graph, 12).map(valueInfo), [
      { name: "output_0", elemType: 1, dims: ["tokens", 2048] },
      { name: "output_1", elemType: 1, dims: ["tokens", 2048] },
    ]);
  });

  it("stores the weights as external-data initializers, [E, 2I, H] and [E, H, I], page-aligned", () => {
    const { graph } = decodeModel(QWEN);
    const inits = msgs(graph, 5).map((t) => ({
      name: str(t, 8),
      dims: all(t, 1).map((f) => f.value as number),
      dataType: num(t, 2),
      location: num(t, 14),
      external: Object.fromEntries(msgs(t, 13).map((e) => [str(e, 1), str(e, 2)])),
      inline: t.has(9) || t.has(4),
    }));
    const fc1 = 60 * 2816 * 2048 * 4;
    const fc2 = 60 * 2048 * 1408 * 4;
    const aligned = (n: number) => Math.ceil(n / DATA_ALIGNMENT) * DATA_ALIGNMENT;
    assert.deepEqual(inits, [
      { name: "fc1_experts_weights_0", dims: [60, 2816, 2048], dataType: 1, location: 1, external: { location: "weights.bin", offset: "0", length: String(fc1) }, inline: false },
      { name: "fc2_experts_weights_0", dims: [60, 2048, 1408], dataType: 1, location: 1, external: { location: "weights.bin", offset: String(aligned(fc1)), length: String(fc2) }, inline: false },
      { name: "fc1_experts_weights_1", dims: [60, 2816, 2048], dataType: 1, location: 1, external: { location: "weights.bin", offset: String(aligned(fc1) + aligned(fc2)), length: String(fc1) }, inline: false },
      { name: "fc2_experts_weights_1", dims: [60, 2048, 1408], dataType: 1, location: 1, external: { location: "weights.bin", offset: String(2 * aligned(fc1) + aligned(fc2)), length: String(fc2) }, inline: false },
    ]);
    for (const i of inits) assert.equal(Number(i.external.offset) % DATA_ALIGNMENT, 0);
    assert.ok(encodeModel(moeModel(QWEN)).length < 4096, "the model file itself stays tiny");
  });

  it("writes float16 as data type 10 with half the bytes", () => {
    const { graph } = decodeModel({ ...QWEN, dtype: "float16", layers: 1 });
    const fc1 = msgs(graph, 5)[0]!;
    assert.equal(num(fc1, 2), 10);
    const length = msgs(fc1, 13).find((e) => str(e, 1) === "length")!;
    assert.equal(str(length, 2), String(60 * 2816 * 2048 * 2));
    assert.equal(valueInfo(msgs(graph, 11)[0]!).elemType, 10);
  });

  it("with placement inputs, declares the weights as graph inputs and has no initializers", () => {
    const { graph } = decodeModel({ ...QWEN, layers: 1, placement: "inputs" });
    assert.equal(all(graph, 5).length, 0);
    assert.deepEqual(msgs(graph, 11).map(valueInfo).slice(2), [
      { name: "fc1_experts_weights_0", elemType: 1, dims: [60, 2816, 2048] },
      { name: "fc2_experts_weights_0", elemType: 1, dims: [60, 2048, 1408] },
    ]);
  });

  it("rejects bad dims and initializers of the wrong size", () => {
    assert.throws(() => moeModel({ ...QWEN, dims: { hidden: 64, intermediate: 0, experts: 4, topK: 2 } }), /intermediate must be a positive integer, got 0/);
    assert.throws(() => moeModel({ ...QWEN, dims: { hidden: 64, intermediate: 32, experts: 4, topK: 5 } }), /topK 5 exceeds experts 4/);
    assert.throws(() => moeModel({ ...QWEN, layers: 0 }), /layers must be a positive integer/);
    const bad: OnnxModel = moeModel({ ...QWEN, layers: 1 });
    bad.graph.initializers[0] = { ...bad.graph.initializers[0]!, length: 12 };
    assert.throws(() => encodeModel(bad), /fc1_experts_weights_0: 12 bytes for dims \[60, 2816, 2048\] of float32/);
  });
});

describe("fc1 layout", () => {
  it("interleaves gate and up rows: [g0, u0, g1, u1, ...]", () => {
    // I = 2, H = 3: rows g0, g1, u0, u1
    const gateUp = Float32Array.from([1, 1, 1, 2, 2, 2, 10, 10, 10, 20, 20, 20]);
    assert.deepEqual([...interleaveGateUp(gateUp, 2, 3)], [1, 1, 1, 10, 10, 10, 2, 2, 2, 20, 20, 20]);
    assert.throws(() => interleaveGateUp(gateUp, 3, 3), /12 values, expected 2·3·3/);
  });
});
