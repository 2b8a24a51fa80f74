/**
 * The reference backend: plain TypeScript, float64 accumulation, the oracle every other backend is
 * tested against. Arguments are checked by op-args (shared by every backend); the host ops the cpu
 * backend also uses (routing, elementwise, shape ops) live in ../host/.
 */
import type { Activation, AttentionSpec, Backend, CausalConvSpec, DeltaRuleSpec, GateSpec, RopeSpec, Routing, RoutingSpec, SortedSlots, SsmScanSpec } from "../backend.js";
import type { DType, HostStorage } from "../../dtype.js";
import type { Tensor } from "../../tensor.js";
import * as args from "../op-args/index.js";
import * as hostEw from "../host/elementwise.js";
import { route } from "../host/routing.js";
import * as shapeOps from "../host/shape-ops.js";
import { adoptHost, hostTensor, zerosHost } from "../host/tensors.js";
import { attention } from "./attention.js";
import * as ew from "./elementwise.js";
import * as layers from "./layers.js";
import * as products from "./products.js";
import * as recurrent from "./recurrent.js";
import * as scan from "./ssm-scan.js";

export class ReferenceBackend implements Backend {
  readonly name: string = "reference";
  readonly isHost = true;

  private make(values: HostStorage, shape: readonly number[], dtype: DType = "float32"): Tensor {
    return hostTensor(this, values, shape, dtype);
  }

  fromHost(storage: HostStorage, shape: readonly number[], dtype: DType): Tensor {
    args.fromHostArgs(storage, shape, dtype);
    return this.make(storage, shape, dtype);
  }

  adopt(t: Tensor): Tensor {
    return adoptHost(this, t);
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    return t.data();
  }

  zeros(shape: readonly number[], dtype: DType = "float32"): Tensor {
    return zerosHost(this, shape, dtype);
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
    return route(this, logits, spec);
  }

  sortByExpert(ids: Tensor, numExperts: number): SortedSlots {
    const r = ew.sortByExpert(ids, numExperts);
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
    return hostEw.binary(this, "add", a, b);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return hostEw.binary(this, "mul", a, b);
  }

  scale(x: Tensor, factor: number): Tensor {
    return hostEw.scale(this, x, factor);
  }

  activate(x: Tensor, act: Activation): Tensor {
    return hostEw.activate(this, x, act);
  }

  softmax(x: Tensor): Tensor {
    const { rows, n } = args.softmaxArgs(x);
    return this.make(ew.softmaxLastDim(x, rows, n), x.shape);
  }

  cast(x: Tensor, dtype: DType): Tensor {
    return hostEw.cast(this, x, dtype);
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
    return shapeOps.slice(this, x, axis, start, length);
  }

  concat(parts: readonly Tensor[], axis: number): Tensor {
    return shapeOps.concat(this, parts, axis);
  }

  repeat(x: Tensor, axis: number, times: number): Tensor {
    return shapeOps.repeat(this, x, axis, times);
  }

  clamp(x: Tensor, min: number, max: number): Tensor {
    return hostEw.clamp(this, x, min, max);
  }

  argmax(x: Tensor): Tensor {
    return hostEw.argmax(this, x);
  }
  causalConv1d(x: Tensor, weight: Tensor, spec: CausalConvSpec = {}): { out: Tensor; state: Tensor } {
    const a = args.causalConv1dArgs(x, weight, spec);
    const r = recurrent.causalConv1d(x, weight, spec, a);
    return { out: this.make(r.out, [a.b, a.s, a.c]), state: this.make(r.state, [a.b, a.kw - 1, a.c]) };
  }

  gatedDeltaRule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, spec: DeltaRuleSpec): { out: Tensor; state: Tensor } {
    const a = args.gatedDeltaRuleArgs(q, k, v, beta, spec);
    const r = recurrent.gatedDeltaRule(q, k, v, beta, spec, a);
    return { out: this.make(r.out, [a.b, a.s, a.h, a.dv]), state: this.make(r.state, [a.b, a.h, a.dk, a.dv]) };
  }

  ssmScan(x: Tensor, dt: Tensor, a: Tensor, bIn: Tensor, c: Tensor, spec: SsmScanSpec = {}): { out: Tensor; state: Tensor } {
    const d = args.ssmScanArgs(x, dt, a, bIn, c, spec);
    const { out, state } = scan.ssmScan(x, dt, a, bIn, c, spec, d);
    return { out: this.make(out, [d.b, d.s, d.h, d.p]), state: this.make(state, [d.b, d.h, d.p, d.n]) };
  }
}

export const referenceBackend = new ReferenceBackend();
