/**
 * The reference backend: plain TypeScript, float64 accumulation, every argument checked. It is the
 * oracle every other backend is tested against, and the base class of host-memory backends (the cpu
 * backend overrides the hot ops and inherits the rest).
 */
import type { Activation, AttentionSpec, Backend, GateSpec, RopeSpec, Routing, RoutingSpec, SortedSlots } from "../backend.js";
import type { DType, HostStorage } from "../../dtype.js";
import { narrowFromF32 } from "../../dtype.js";
import { numel, shapeString, Tensor } from "../../tensor.js";
import { activationFn } from "./activations.js";
import * as ew from "./elementwise.js";
import { floatsOf, hostTensor } from "./host.js";
import * as args from "../op-args/index.js";
import * as products from "./products.js";
import * as routing from "./routing.js";
import { attention } from "./attention.js";
import * as layers from "./layers.js";
import * as shapeOps from "./shape-ops.js";

export class ReferenceBackend implements Backend {
  readonly name: string = "reference";
  readonly isHost = true;

  protected make(values: HostStorage, shape: readonly number[], dtype: DType = "float32"): Tensor {
    return hostTensor(this, values, shape, dtype);
  }

  fromHost(storage: HostStorage, shape: readonly number[], dtype: DType): Tensor {
    if (storage.length !== numel(shape)) throw new Error(`fromHost: ${storage.length} values for shape ${shapeString(shape)}`);
    return this.make(storage, shape, dtype);
  }

  adopt(t: Tensor): Tensor {
    if (t.backend === this) return t;
    if (t.isHost) return this.make(t.storage as HostStorage, t.shape, t.dtype);
    throw new Error(`${this.name}: cannot adopt a tensor of backend '${t.backend!.name}' synchronously; read it first`);
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    return t.data();
  }

  zeros(shape: readonly number[], dtype: DType = "float32"): Tensor {
    const n = numel(shape);
    const storage = dtype === "int32" ? new Int32Array(n) : dtype === "float32" ? new Float32Array(n) : new Uint16Array(n);
    return this.make(storage, shape, dtype);
  }

  linear(x: Tensor, w: Tensor, opts: { bias?: Tensor; expert?: number } = {}): Tensor {
    const a = args.linearArgs(x, w, opts);
    return this.make(products.linear(x, w, opts.bias, a), a.outShape);
  }

  groupedLinear(x: Tensor, w: Tensor, offsets: Tensor, opts: { bias?: Tensor; rowIndex?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const a = args.groupedLinearArgs(x, w, offsets, opts);
    return this.make(products.groupedLinear(x, w, offsets, opts.bias, opts.rowIndex, a), [a.s, a.n]);
  }

  gatheredLinear(x: Tensor, w: Tensor, ids: Tensor, opts: { bias?: Tensor; rowsPerInput?: number } = {}): Tensor {
    const a = args.gatheredLinearArgs(x, w, ids, opts);
    return this.make(products.gatheredLinear(x, w, ids, opts.bias, a), [a.s, a.n]);
  }

  gate(p: Tensor, spec: GateSpec): Tensor {
    const { values, shape } = ew.gate(p, spec);
    return this.make(values, shape);
  }

  route(logits: Tensor, spec: RoutingSpec): Routing {
    const r = routing.route(logits, spec);
    return { index: this.make(r.index, [r.t, spec.k], "int32"), weights: this.make(r.weights, [r.t, spec.k]) };
  }

  sortByExpert(ids: Tensor, numExperts: number): SortedSlots {
    const r = routing.sortByExpert(ids, numExperts);
    return {
      order: this.make(r.order, [r.order.length], "int32"),
      position: this.make(r.position, [r.position.length], "int32"),
      offsets: this.make(r.offsets, [numExperts + 1], "int32"),
    };
  }

  combineSlots(y: Tensor, weights: Tensor, slotRow?: Tensor): Tensor {
    const { values, shape } = ew.combineSlots(y, weights, slotRow);
    return this.make(values, shape);
  }

  gatherRows(x: Tensor, rows: Tensor): Tensor {
    const { values, shape } = ew.gatherRows(x, rows);
    return this.make(values, shape);
  }

  accumulateRows(out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
    ew.accumulateRows(out, y, rows, weights);
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.make(ew.binary("add", a, b), a.shape);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.make(ew.binary("mul", a, b), a.shape);
  }

  scale(x: Tensor, factor: number): Tensor {
    args.scaleArgs(x, factor);
    const xs = floatsOf(x, "scale", "x");
    return this.make(xs.map((v) => v * factor), x.shape);
  }

  activate(x: Tensor, act: Activation): Tensor {
    args.activateArgs(x, act);
    const f = activationFn(act);
    return this.make(Float32Array.from(floatsOf(x, "activate", "x"), f), x.shape);
  }

  softmax(x: Tensor): Tensor {
    const { rows, n } = args.softmaxArgs(x);
    return this.make(ew.softmaxLastDim(x, rows, n), x.shape);
  }

  cast(x: Tensor, dtype: DType): Tensor {
    args.castArgs(x, dtype);
    const values = floatsOf(x, "cast", "x");
    return this.make(narrowFromF32(values, dtype), x.shape, dtype);
  }

  // ---- model layers ----------------------------------------------------------------------------

  embedding(table: Tensor, ids: Tensor): Tensor {
    const a = args.embeddingArgs(table, ids);
    return this.make(layers.embedding(table, ids, a.h), a.outShape);
  }

  rmsNorm(x: Tensor, weight: Tensor | undefined, eps: number): Tensor {
    const { d } = args.normArgs("rmsNorm", x, weight, undefined, eps);
    return this.make(layers.rmsNorm(x, weight, eps, d), x.shape);
  }

  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | undefined, eps: number): Tensor {
    const { d } = args.normArgs("layerNorm", x, weight, bias, eps);
    return this.make(layers.layerNorm(x, weight, bias, eps, d), x.shape);
  }

  rope(x: Tensor, cos: Tensor, sin: Tensor, spec: RopeSpec): Tensor {
    return this.make(layers.rope(x, cos, sin, args.ropeArgs(x, cos, sin, spec)), x.shape);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec): Tensor {
    const { values, shape } = attention(q, k, v, spec);
    return this.make(values, shape);
  }

  slice(x: Tensor, axis: number, start: number, length: number): Tensor {
    const { values, shape } = shapeOps.slice(x, axis, start, length);
    return this.make(values, shape, x.dtype);
  }

  concat(parts: readonly Tensor[], axis: number): Tensor {
    const { values, shape, dtype } = shapeOps.concat(parts, axis);
    return this.make(values, shape, dtype);
  }

  repeat(x: Tensor, axis: number, times: number): Tensor {
    const { values, shape } = shapeOps.repeat(x, axis, times);
    return this.make(values, shape, x.dtype);
  }

  clamp(x: Tensor, min: number, max: number): Tensor {
    return this.make(shapeOps.clamp(x, min, max), x.shape);
  }

  argmax(x: Tensor): Tensor {
    const { values, shape } = shapeOps.argmax(x);
    return this.make(values, shape, "int32");
  }
}

export const referenceBackend = new ReferenceBackend();
