// N-API entries of the gate and the slot bookkeeping (combineSlots, sortByExpert, gatherRows, accumulateRows).
#include <string>

#include "addon.h"
#include "napi_args.h"
#include "ops.h"

namespace moekit {

// gate({ p, s, width, kind, act, clamp?, alpha?, limit?, out })
Napi::Value Gate(const Napi::CallbackInfo& info) {
  OpArgs a(info, "gate");
  const int64_t S = a.integer("s", 0, kMaxDim);
  const int64_t width = a.integer("width", 0, kMaxDim);
  GateArgs g;
  g.kind = (int)a.integer("kind", 0, 2);
  g.act = (int)a.integer("act", 0, 7);
  g.clamp = (int)a.integer_or("clamp", 0, 1, 0);
  g.alpha = g.clamp ? (float)a.number("alpha") : 0.f;
  g.limit = g.clamp ? (float)a.number("limit") : 0.f;
  if (g.clamp && g.kind == GATE_NONE) a.fail("clamped swiglu needs a gated projection");
  if (g.kind != GATE_NONE && width % 2 != 0) a.fail("a gated projection needs an even width");
  g.width = (int)width;
  g.inter = g.kind == GATE_NONE ? (int)width : (int)(width / 2);
  g.p = a.f32("p", a.size({S, width}, "p")).data;
  g.out = a.f32("out", a.size({S, g.inter}, "out")).data;
  if (g.inter > 0) gate(g, (int)S);
  return a.env().Undefined();
}

// combineSlots({ y, r, h, weights, t, k, slotRow?, out })
Napi::Value CombineSlots(const Napi::CallbackInfo& info) {
  OpArgs a(info, "combineSlots");
  const int64_t R = a.integer("r", 0, kMaxDim), H = a.integer("h", 0, kMaxDim);
  const int64_t T = a.integer("t", 0, kMaxDim), K = a.integer("k", 0, kMaxDim);
  const size_t slots = a.size({T, K}, "weights");
  const float* y = a.f32("y", a.size({R, H}, "y")).data;
  const float* w = a.f32("weights", slots).data;
  float* out = a.f32("out", a.size({T, H}, "out")).data;
  const int32_t* map = a.i32_opt("slotRow", slots).data;
  if (map) {
    for (size_t s = 0; s < slots; s++)
      if (map[s] < 0 || map[s] >= R) a.fail("slotRow " + std::to_string(map[s]) + " outside [0, " + std::to_string(R) + ")");
  } else if ((size_t)R < slots) {
    a.fail("y has " + std::to_string(R) + " rows for " + std::to_string(slots) + " slots");
  }
  combine_slots(y, (int)H, w, (int)T, (int)K, map, out);
  return a.env().Undefined();
}

// sortByExpert({ ids, experts, order, position, offsets })
Napi::Value SortByExpert(const Napi::CallbackInfo& info) {
  OpArgs a(info, "sortByExpert");
  const Span<int32_t> ids = a.i32("ids");
  const int64_t E = a.integer("experts", 1, kMaxDim);
  const size_t S = ids.length;
  if (S > (size_t)kMaxDim) a.fail("more than 2^31 - 1 ids");
  int32_t* order = a.i32("order", S).data;
  int32_t* position = a.i32("position", S).data;
  int32_t* offsets = a.i32("offsets", (size_t)E + 1).data;
  for (size_t s = 0; s < S; s++)
    if (ids.data[s] < 0 || ids.data[s] >= E) a.fail("expert id " + std::to_string(ids.data[s]) + " at slot " + std::to_string(s) + " outside [0, " + std::to_string(E) + ")");
  sort_by_expert(ids.data, (int)S, (int)E, order, position, offsets);
  return a.env().Undefined();
}

// gatherRows({ x, r, h, rows, out })
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  OpArgs a(info, "gatherRows");
  const int64_t R = a.integer("r", 0, kMaxDim), H = a.integer("h", 0, kMaxDim);
  const float* x = a.f32("x", a.size({R, H}, "x")).data;
  const Span<int32_t> rows = a.i32("rows");
  if (rows.length > (size_t)kMaxDim) a.fail("more than 2^31 - 1 rows");
  float* out = a.f32("out", a.size({(int64_t)rows.length, H}, "out")).data;
  for (size_t i = 0; i < rows.length; i++)
    if (rows.data[i] < 0 || rows.data[i] >= R) a.fail("row " + std::to_string(rows.data[i]) + " outside [0, " + std::to_string(R) + ")");
  gather_rows(x, (int)H, rows.data, (int)rows.length, out);
  return a.env().Undefined();
}

// accumulateRows({ out, t, h, y, rows, weights }): out[rows[i]] += y[i] · weights[i].
Napi::Value AccumulateRows(const Napi::CallbackInfo& info) {
  OpArgs a(info, "accumulateRows");
  const int64_t T = a.integer("t", 0, kMaxDim), H = a.integer("h", 0, kMaxDim);
  float* out = a.f32("out", a.size({T, H}, "out")).data;
  const Span<int32_t> rows = a.i32("rows");
  const size_t n = rows.length;
  if (n > (size_t)kMaxDim) a.fail("more than 2^31 - 1 rows");
  const float* y = a.f32("y", a.size({(int64_t)n, H}, "y")).data;
  const float* w = a.f32("weights", n).data;
  for (size_t i = 0; i < n; i++)
    if (rows.data[i] < 0 || rows.data[i] >= T) a.fail("row " + std::to_string(rows.data[i]) + " outside [0, " + std::to_string(T) + ")");
  accumulate_rows(out, (int)H, y, rows.data, w, (int)n);
  return a.env().Undefined();
}

}  // namespace moekit
