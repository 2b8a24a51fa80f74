/// <reference types="@webgpu/types" />
/** Webgpu routing and slot bookkeeping: route, the counting sort of slots by expert (sized on the GPU, no readback), combineSlots, gatherRows, accumulateRows. */
import type { Routing, RoutingSpec, SortedSlots } from "../backend.js";
import * as args from "../op-args/index.js";
import type { Tensor } from "../../tensor.js";
import type { GpuContext } from "./context.js";
import { routeKey, routeWgsl, type RouteVariant } from "./kernels/route.wgsl.js";
import { ACCUMULATE_ROWS_WGSL, combineWgsl, GATHER_ROWS_WGSL } from "./kernels/slots.wgsl.js";
import { CHUNK_SCAN_WGSL, EXPERT_SCAN_WGSL, HISTOGRAM_WGSL, SCATTER_WGSL, SORT_CHUNK } from "./kernels/sort-by-expert.wgsl.js";
import { type GpuStorage, Params } from "./runtime.js";

const ceil = (a: number, b: number) => Math.ceil(a / b);

export function route(g: GpuContext, logits: Tensor, spec: RoutingSpec): Routing {
  const op = "route";
  const { t, e, k } = args.routeArgs(logits, spec);
  const groups = spec.groups;
  const sparse = spec.scoring === "gapMaskedSoftmax";
  const v: RouteVariant = {
    e,
    k,
    scoring: spec.scoring,
    bias: !sparse && !!spec.selectionBias,
    groups: !sparse && groups ? { count: groups.count, keep: groups.keep, score: groups.score, fillNegInf: groups.fill === -Infinity } : undefined,
    softmaxTopK: !sparse && spec.weights === "softmaxTopK",
    normalize: !sparse && !!spec.normalize,
    scale: !sparse && spec.scale !== undefined,
  };
  const indexBuf = g.runtime.buffer(g.label("route.index"), t * k * 4);
  const index = g.tensor(indexBuf, "i32", [t, k], "int32");
  const { t: weights, buf: weightsBuf } = g.output("route.weights", [t, k]);
  if (t === 0) return { index, weights };
  const lb = g.floats(logits, op, "logits");
  const bb = v.bias ? g.floats(spec.selectionBias!, op, "selectionBias") : lb;
  const fill = groups && groups.fill !== -Infinity ? groups.fill : 0;
  const params = new Params()
    .u32(t)
    .f32(fill)
    .f32(spec.normalize?.eps ?? 0)
    .f32(spec.normalize?.min ?? 0)
    .f32(spec.scale ?? 1)
    .f32(spec.jitterEps ?? 0.01);
  const kern = g.runtime.kernel(routeKey(v), ["r", "r", "rw", "rw"], () => routeWgsl(v));
  g.runtime.dispatch(g.label(op), kern, params, [lb, bb, indexBuf, weightsBuf], ceil(t, 64));
  return { index, weights };
}

export function sortByExpert(g: GpuContext, ids: Tensor, numExperts: number): SortedSlots {
  const op = "sortByExpert";
  const { s } = args.sortByExpertArgs(ids, numExperts);
  const e = numExperts;
  const chunks = ceil(s, SORT_CHUNK);
  const rt = g.runtime;
  const orderBuf = rt.buffer(g.label("sort.order"), s * 4);
  const positionBuf = rt.buffer(g.label("sort.position"), s * 4);
  const offsetsBuf = rt.buffer(g.label("sort.offsets"), (e + 1) * 4);
  const result: SortedSlots = {
    order: g.tensor(orderBuf, "i32", [s], "int32"),
    position: g.tensor(positionBuf, "i32", [s], "int32"),
    offsets: g.tensor(offsetsBuf, "i32", [e + 1], "int32"),
  };
  if (s === 0) return result;
  const ib = g.ints(ids, op, "ids");
  const counts = rt.buffer(g.label("sort.counts"), chunks * e * 4);
  const base = rt.buffer(g.label("sort.base"), chunks * e * 4);
  const totals = rt.buffer(g.label("sort.totals"), e * 4);
  const params = () => new Params().u32(s).u32(e).u32(chunks);
  rt.dispatch(g.label("sort.histogram"), rt.kernel("sort.histogram", ["r", "rw"], () => HISTOGRAM_WGSL), params(), [ib, counts], chunks);
  rt.dispatch(g.label("sort.chunkScan"), rt.kernel("sort.chunkScan", ["r", "rw", "rw"], () => CHUNK_SCAN_WGSL), params(), [counts, base, totals], ceil(e, 64));
  rt.dispatch(g.label("sort.expertScan"), rt.kernel("sort.expertScan", ["r", "rw"], () => EXPERT_SCAN_WGSL), params(), [totals, offsetsBuf], 1);
  rt.dispatch(
    g.label("sort.scatter"),
    rt.kernel("sort.scatter", ["r", "r", "r", "rw", "rw"], () => SCATTER_WGSL),
    params(),
    [ib, base, offsetsBuf, orderBuf, positionBuf],
    chunks,
  );
  rt.release(counts);
  rt.release(base);
  rt.release(totals);
  return result;
}

export function combineSlots(g: GpuContext, y: Tensor, weights: Tensor, slotRow?: Tensor): Tensor {
  const op = "combineSlots";
  const { rows, h, t, k } = args.combineSlotsArgs(y, weights, slotRow);
  const { t: out, buf } = g.output(op, [t, h]);
  if (t * h === 0) return out;
  const yb = g.floats(y, op, "y");
  const wb = g.floats(weights, op, "weights");
  const mb = slotRow ? g.ints(slotRow, op, "slotRow") : yb;
  const kern = g.runtime.kernel(`combine${slotRow ? ".mapped" : ""}`, ["r", "r", "r", "rw"], () => combineWgsl(!!slotRow));
  g.runtime.dispatch(g.label(op), kern, new Params().u32(t).u32(h).u32(k).u32(rows), [yb, wb, mb, buf], ceil(t * h, 256));
  return out;
}

export function gatherRows(g: GpuContext, x: Tensor, rows: Tensor): Tensor {
  const op = "gatherRows";
  const { r, h, n } = args.gatherRowsArgs(x, rows);
  const { t, buf } = g.output(op, [n, h]);
  if (n * h === 0) return t;
  const xb = g.floats(x, op, "x");
  const rb = g.ints(rows, op, "rows");
  const kern = g.runtime.kernel("gatherRows", ["r", "r", "rw"], () => GATHER_ROWS_WGSL);
  g.runtime.dispatch(g.label(op), kern, new Params().u32(n).u32(h).u32(r), [xb, rb, buf], ceil(n * h, 256));
  return t;
}

export function accumulateRows(g: GpuContext, out: Tensor, y: Tensor, rows: Tensor, weights: Tensor): void {
  const op = "accumulateRows";
  const { t, h, n } = args.accumulateRowsArgs(out, y, rows, weights);
  if (out.backend !== g.owner) throw new Error(`${op}: out must be a tensor of this webgpu backend (it is updated in place)`);
  if (n * h === 0) return;
  const ob = (out.storage as GpuStorage).buffer;
  const yb = g.floats(y, op, "y");
  const rb = g.ints(rows, op, "rows");
  const wb = g.floats(weights, op, "weights");
  const kern = g.runtime.kernel("accumulateRows", ["r", "r", "r", "rw"], () => ACCUMULATE_ROWS_WGSL);
  g.runtime.dispatch(g.label(op), kern, new Params().u32(n).u32(h).u32(t), [yb, rb, wb, ob], ceil(h, 256));
}
