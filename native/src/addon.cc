// N-API surface of the moekit native CPU backend. Every entry point re-checks the sizes and indices
// it is given (the TypeScript layer checks them first, with friendlier messages): a bad argument
// throws a JS exception and never reads or writes outside a buffer.
#include <napi.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "ops.h"
#include "quant/addon_quant.h"

using namespace moekit;

namespace {

struct View {
  void* data = nullptr;
  size_t length = 0;  // elements
  napi_typedarray_type type = napi_uint8_array;
};

[[noreturn]] void fail(Napi::Env env, const std::string& op, const std::string& msg) {
  throw Napi::RangeError::New(env, "moekit native " + op + ": " + msg);
}

View view(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "moekit native " + op + ": " + what + " must be a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  View out;
  out.type = ta.TypedArrayType();
  out.length = ta.ElementLength();
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  out.data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
  return out;
}

View typed(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what, napi_typedarray_type t, const char* tname) {
  View out = view(env, v, op, what);
  if (out.type != t) throw Napi::TypeError::New(env, "moekit native " + op + ": " + what + " must be a " + tname);
  return out;
}
View f32(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what) {
  return typed(env, v, op, what, napi_float32_array, "Float32Array");
}
View i32(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what) {
  return typed(env, v, op, what, napi_int32_array, "Int32Array");
}

int64_t integer(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "moekit native " + op + ": " + what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
    fail(env, op, std::string(what) + " = " + std::to_string(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int64_t)d;
}
constexpr int64_t kMaxDim = 0x7fffffff;

// A weight (or bias) buffer: Float32Array for float32, Uint16Array for bfloat16 / float16.
const void* weights(Napi::Env env, const Napi::Value& v, int dt, size_t need, const std::string& op, const char* what) {
  View w = view(env, v, op, what);
  if (dt == W_F32 && w.type != napi_float32_array) throw Napi::TypeError::New(env, "moekit native " + op + ": float32 " + what + " must be a Float32Array");
  if (dt != W_F32 && w.type != napi_uint16_array) throw Napi::TypeError::New(env, "moekit native " + op + ": 16-bit " + what + " must be a Uint16Array");
  if (w.length < need) fail(env, op, std::string(what) + " has " + std::to_string(w.length) + " elements, needs " + std::to_string(need));
  return w.data;
}

void need(Napi::Env env, const View& v, size_t n, const std::string& op, const char* what) {
  if (v.length < n) fail(env, op, std::string(what) + " has " + std::to_string(v.length) + " elements, needs " + std::to_string(n));
}

// Optional trailing `compute` argument of the products: 0 float32 (default), 1 bfloat16 activations.
int compute_arg(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const std::string& op) {
  if (info.Length() <= i || info[i].IsUndefined()) return 0;
  return (int)integer(env, info[i], op, "compute", 0, 1);
}

// bf16 compute: the activations rounded to bfloat16 (a copy), products through the fused-epilogue kernels.
void bf16_jobs(std::vector<GemmJob>& jobs, const float* x, size_t n, std::vector<float>& xb) {
  xb.resize(n);
  round_to_bf16(x, n, xb.data());
  for (GemmJob& J : jobs) {
    J.x = xb.data() + (J.x - x);
    J.epi = EPI_STORE;
    J.bf16dot = 1;
  }
}

// linear(x, M, K, w, wdt, wOffset, N, bias|null, bdt, bOffset, y, compute?)
// An optional weight-like argument: info[i] a typed array of n elements (or null / undefined: absent),
// its dtype code in info[i + 1]; returns the data (null when absent) and sets dt.
const void* optional_weights(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const std::string& op, const std::string& what, size_t n, int& dt) {
  dt = W_F32;
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  dt = (int)integer(env, info[i + 1], op, (what + " dtype").c_str(), 0, 2);
  return weights(env, info[i], dt, n, op, what.c_str());
}

Napi::Value Linear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "linear";
  if (info.Length() < 11) fail(env, op, "expects 11 arguments");
  View x = f32(env, info[0], op, "x");
  const int64_t M = integer(env, info[1], op, "M", 0, kMaxDim);
  const int64_t K = integer(env, info[2], op, "K", 0, kMaxDim);
  const int dt = (int)integer(env, info[4], op, "weight dtype", 0, 2);
  const int64_t wOff = integer(env, info[5], op, "weight offset", 0, INT64_C(1) << 52);
  const int64_t N = integer(env, info[6], op, "N", 0, kMaxDim);
  const char* base = (const char*)weights(env, info[3], dt, (size_t)wOff + (size_t)N * (size_t)K, op, "weight");
  const void* bias = nullptr;
  int bdt = W_F32;
  if (!info[7].IsNull() && !info[7].IsUndefined()) {
    bdt = (int)integer(env, info[8], op, "bias dtype", 0, 2);
    const int64_t bOff = integer(env, info[9], op, "bias offset", 0, INT64_C(1) << 52);
    bias = (const char*)weights(env, info[7], bdt, (size_t)bOff + (size_t)N, op, "bias") + (size_t)bOff * wbytes(bdt);
  }
  View y = f32(env, info[10], op, "y");
  need(env, x, (size_t)M * (size_t)K, op, "x");
  need(env, y, (size_t)M * (size_t)N, op, "y");
  std::vector<GemmJob> jobs(1);
  GemmJob& J = jobs[0];
  J.w = base + (size_t)wOff * wbytes(dt);
  J.wdt = dt;
  J.bias = bias;
  J.bdt = bdt;
  J.M = (int)M;
  J.N = (int)N;
  J.K = (int)K;
  J.x = (const float*)x.data;
  J.y = (float*)y.data;
  J.ldy = (size_t)N;
  std::vector<float> xb;
  if (compute_arg(env, info, 11, op)) bf16_jobs(jobs, (const float*)x.data, (size_t)M * (size_t)K, xb);
  run_jobs(jobs);
  return env.Undefined();
}

// groupedLinear(x, R, K, w, wdt, E, N, offsets, rowIndex|null, rowsPerInput, bias|null, bdt, y, compute?)
Napi::Value GroupedLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "groupedLinear";
  if (info.Length() < 13) fail(env, op, "expects 13 arguments");
  View x = f32(env, info[0], op, "x");
  const int64_t R = integer(env, info[1], op, "R", 0, kMaxDim);
  const int64_t K = integer(env, info[2], op, "K", 0, kMaxDim);
  const int dt = (int)integer(env, info[4], op, "weight dtype", 0, 2);
  const int64_t E = integer(env, info[5], op, "E", 1, kMaxDim);
  const int64_t N = integer(env, info[6], op, "N", 0, kMaxDim);
  const char* w = (const char*)weights(env, info[3], dt, (size_t)E * (size_t)N * (size_t)K, op, "weight");
  View offs = i32(env, info[7], op, "offsets");
  need(env, offs, (size_t)E + 1, op, "offsets");
  const int32_t* off = (const int32_t*)offs.data;
  const int64_t rpi = integer(env, info[9], op, "rowsPerInput", 1, kMaxDim);
  const int32_t* rowIndex = nullptr;
  int64_t S = R;
  if (!info[8].IsNull() && !info[8].IsUndefined()) {
    View ri = i32(env, info[8], op, "rowIndex");
    rowIndex = (const int32_t*)ri.data;
    S = (int64_t)ri.length;
  }
  need(env, x, (size_t)R * (size_t)K, op, "x");
  if (off[0] != 0 || off[E] != S) fail(env, op, "offsets must run from 0 to " + std::to_string(S));
  for (int64_t e = 0; e < E; e++)
    if (off[e + 1] < off[e]) fail(env, op, "offsets must be non-decreasing");
  std::vector<int32_t> xrows;
  if (rowIndex) {
    xrows.resize((size_t)S);
    for (int64_t s = 0; s < S; s++) {
      const int64_t r = rowIndex[s];
      if (r < 0 || r >= R * rpi) fail(env, op, "rowIndex " + std::to_string(r) + " outside [0, " + std::to_string(R * rpi) + ")");
      xrows[(size_t)s] = (int32_t)(r / rpi);
    }
  }
  int bdt = W_F32;
  const void* bias = optional_weights(env, info, 10, op, "bias", (size_t)E * (size_t)N, bdt);
  View y = f32(env, info[12], op, "y");
  need(env, y, (size_t)S * (size_t)N, op, "y");
  std::vector<GemmJob> jobs;
  for (int64_t e = 0; e < E; e++) {
    const int32_t lo = off[e], hi = off[e + 1];
    if (lo == hi) continue;
    GemmJob J = expert_job(w, dt, bias, bdt, (int)e, (int)N, (int)K, hi - lo);
    if (rowIndex) {
      J.x = (const float*)x.data;
      J.xrows = xrows.data() + lo;
    } else {
      J.x = (const float*)x.data + (size_t)lo * (size_t)K;
    }
    J.y = (float*)y.data + (size_t)lo * (size_t)N;
    J.ldy = (size_t)N;
    jobs.push_back(J);
  }
  std::vector<float> xb;
  if (compute_arg(env, info, 13, op)) bf16_jobs(jobs, (const float*)x.data, (size_t)R * (size_t)K, xb);
  run_jobs(jobs);
  return env.Undefined();
}

// gatheredLinear(x, R, K, w, wdt, E, N, ids, rowsPerInput, bias|null, bdt, y, compute?)
Napi::Value GatheredLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "gatheredLinear";
  if (info.Length() < 12) fail(env, op, "expects 12 arguments");
  View x = f32(env, info[0], op, "x");
  const int64_t R = integer(env, info[1], op, "R", 0, kMaxDim);
  const int64_t K = integer(env, info[2], op, "K", 0, kMaxDim);
  const int dt = (int)integer(env, info[4], op, "weight dtype", 0, 2);
  const int64_t E = integer(env, info[5], op, "E", 1, kMaxDim);
  const int64_t N = integer(env, info[6], op, "N", 0, kMaxDim);
  const char* w = (const char*)weights(env, info[3], dt, (size_t)E * (size_t)N * (size_t)K, op, "weight");
  View idv = i32(env, info[7], op, "ids");
  const int32_t* ids = (const int32_t*)idv.data;
  const int64_t S = (int64_t)idv.length;
  const int64_t rpi = integer(env, info[8], op, "rowsPerInput", 1, kMaxDim);
  if (S != R * rpi) fail(env, op, std::to_string(S) + " ids for " + std::to_string(R) + " rows x " + std::to_string(rpi));
  need(env, x, (size_t)R * (size_t)K, op, "x");
  int bdt = W_F32;
  const void* bias = optional_weights(env, info, 9, op, "bias", (size_t)E * (size_t)N, bdt);
  View y = f32(env, info[11], op, "y");
  need(env, y, (size_t)S * (size_t)N, op, "y");
  for (int64_t s = 0; s < S; s++)
    if (ids[s] < 0 || ids[s] >= E) fail(env, op, "expert id " + std::to_string(ids[s]) + " at slot " + std::to_string(s) + " outside [0, " + std::to_string(E) + ")");
  // Slots grouped by expert: each expert's weights are read once for all of its slots.
  std::vector<int32_t> order((size_t)S), position((size_t)S), offsets((size_t)E + 1), xrows((size_t)S);
  sort_by_expert(ids, (int)S, (int)E, order.data(), position.data(), offsets.data());
  for (int64_t i = 0; i < S; i++) xrows[(size_t)i] = (int32_t)(order[(size_t)i] / rpi);
  std::vector<GemmJob> jobs;
  for (int64_t e = 0; e < E; e++) {
    const int32_t lo = offsets[(size_t)e], hi = offsets[(size_t)e + 1];
    if (lo == hi) continue;
    GemmJob J = expert_job(w, dt, bias, bdt, (int)e, (int)N, (int)K, hi - lo);
    J.x = (const float*)x.data;
    J.xrows = xrows.data() + lo;
    J.y = (float*)y.data;
    J.ldy = (size_t)N;
    J.yrows = order.data() + lo;
    jobs.push_back(J);
  }
  std::vector<float> xb;
  if (compute_arg(env, info, 12, op)) bf16_jobs(jobs, (const float*)x.data, (size_t)R * (size_t)K, xb);
  run_jobs(jobs);
  return env.Undefined();
}

// expertsForward(x, T, H, ids, rw, K, wg, gdt, E, W, wd, ddt, I, bg|null, bgdt, bd|null, bddt,
//                gateKind, act, clamp, alpha, limit, compute, out)
Napi::Value ExpertsForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "expertsForward";
  if (info.Length() < 24) fail(env, op, "expects 24 arguments");
  ExpertsArgs a;
  View x = f32(env, info[0], op, "x");
  const int64_t T = integer(env, info[1], op, "T", 0, kMaxDim);
  const int64_t H = integer(env, info[2], op, "H", 0, kMaxDim);
  View ids = i32(env, info[3], op, "ids");
  View rw = f32(env, info[4], op, "weights");
  const int64_t K = integer(env, info[5], op, "K", 0, 1 << 20);
  a.gdt = (int)integer(env, info[7], op, "gate_up dtype", 0, 2);
  const int64_t E = integer(env, info[8], op, "E", 1, kMaxDim);
  const int64_t W = integer(env, info[9], op, "W", 0, kMaxDim);
  a.ddt = (int)integer(env, info[11], op, "down dtype", 0, 2);
  const int64_t I = integer(env, info[12], op, "I", 0, kMaxDim);
  a.gkind = (int)integer(env, info[17], op, "gate kind", 0, 2);
  a.act = (int)integer(env, info[18], op, "act", 0, 7);
  a.clamp = (int)integer(env, info[19], op, "clamp", 0, 1);
  if (!info[20].IsNumber() || !info[21].IsNumber()) throw Napi::TypeError::New(env, "moekit native expertsForward: alpha and limit must be numbers");
  a.alpha = (float)info[20].As<Napi::Number>().DoubleValue();
  a.limit = (float)info[21].As<Napi::Number>().DoubleValue();
  a.compute = (int)integer(env, info[22], op, "compute", 0, 1);
  View out = f32(env, info[23], op, "out");
  if (W != (a.gkind == GATE_NONE ? I : 2 * I)) fail(env, op, "W = " + std::to_string(W) + " does not fit I = " + std::to_string(I) + " and the gate kind");
  if (a.clamp && a.gkind != GATE_INTERLEAVED) fail(env, op, "clamped swiglu needs an interleaved gate");
  const size_t S = (size_t)T * (size_t)K;
  if (T * K > kMaxDim) fail(env, op, "too many slots");
  need(env, x, (size_t)T * (size_t)H, op, "x");
  need(env, ids, S, op, "ids");
  need(env, rw, S, op, "weights");
  need(env, out, (size_t)T * (size_t)H, op, "out");
  a.wg = weights(env, info[6], a.gdt, (size_t)E * (size_t)W * (size_t)H, op, "gate_up weight");
  a.wd = weights(env, info[10], a.ddt, (size_t)E * (size_t)H * (size_t)I, op, "down weight");
  a.bg = optional_weights(env, info, 13, op, "gate_up bias", (size_t)E * (size_t)W, a.bgdt);
  a.bd = optional_weights(env, info, 15, op, "down bias", (size_t)E * (size_t)H, a.bddt);
  const int32_t* id = (const int32_t*)ids.data;
  for (size_t s = 0; s < S; s++)
    if (id[s] < 0 || id[s] >= E) fail(env, op, "expert id " + std::to_string(id[s]) + " at slot " + std::to_string(s) + " outside [0, " + std::to_string(E) + ")");
  a.x = (const float*)x.data;
  a.T = (int)T;
  a.H = (int)H;
  a.K = (int)K;
  a.E = (int)E;
  a.I = (int)I;
  a.ids = id;
  a.rw = (const float*)rw.data;
  a.out = (float*)out.data;
  experts_forward(a);
  return env.Undefined();
}

// gate(p, S, width, kind, act, clamp, alpha, limit, out)
Napi::Value Gate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "gate";
  if (info.Length() < 9) fail(env, op, "expects 9 arguments");
  View p = f32(env, info[0], op, "p");
  const int64_t S = integer(env, info[1], op, "S", 0, kMaxDim);
  const int64_t width = integer(env, info[2], op, "width", 0, kMaxDim);
  GateArgs g;
  g.kind = (int)integer(env, info[3], op, "kind", 0, 2);
  g.act = (int)integer(env, info[4], op, "act", 0, 7);
  g.clamp = (int)integer(env, info[5], op, "clamp", 0, 1);
  g.alpha = (float)info[6].As<Napi::Number>().DoubleValue();
  g.limit = (float)info[7].As<Napi::Number>().DoubleValue();
  View out = f32(env, info[8], op, "out");
  if (g.kind != GATE_NONE && width % 2 != 0) fail(env, op, "a gated projection needs an even width");
  g.width = (int)width;
  g.inter = g.kind == GATE_NONE ? (int)width : (int)(width / 2);
  need(env, p, (size_t)S * (size_t)width, op, "p");
  need(env, out, (size_t)S * (size_t)g.inter, op, "out");
  g.p = (const float*)p.data;
  g.out = (float*)out.data;
  if (g.inter > 0) gate(g, (int)S);
  return env.Undefined();
}

// combineSlots(y, R, H, weights, T, K, slotRow|null, out)
Napi::Value CombineSlots(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "combineSlots";
  if (info.Length() < 8) fail(env, op, "expects 8 arguments");
  View y = f32(env, info[0], op, "y");
  const int64_t R = integer(env, info[1], op, "R", 0, kMaxDim);
  const int64_t H = integer(env, info[2], op, "H", 0, kMaxDim);
  View w = f32(env, info[3], op, "weights");
  const int64_t T = integer(env, info[4], op, "T", 0, kMaxDim);
  const int64_t K = integer(env, info[5], op, "K", 0, kMaxDim);
  View out = f32(env, info[7], op, "out");
  need(env, y, (size_t)R * (size_t)H, op, "y");
  need(env, w, (size_t)T * (size_t)K, op, "weights");
  need(env, out, (size_t)T * (size_t)H, op, "out");
  const int32_t* map = nullptr;
  if (!info[6].IsNull() && !info[6].IsUndefined()) {
    View sr = i32(env, info[6], op, "slotRow");
    need(env, sr, (size_t)T * (size_t)K, op, "slotRow");
    map = (const int32_t*)sr.data;
    for (int64_t s = 0; s < T * K; s++)
      if (map[s] < 0 || map[s] >= R) fail(env, op, "slotRow " + std::to_string(map[s]) + " outside [0, " + std::to_string(R) + ")");
  } else if (R < T * K) {
    fail(env, op, "y has " + std::to_string(R) + " rows for " + std::to_string(T * K) + " slots");
  }
  combine_slots((const float*)y.data, (int)H, (const float*)w.data, (int)T, (int)K, map, (float*)out.data);
  return env.Undefined();
}

// sortByExpert(ids, E, order, position, offsets)
Napi::Value SortByExpert(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "sortByExpert";
  if (info.Length() < 5) fail(env, op, "expects 5 arguments");
  View ids = i32(env, info[0], op, "ids");
  const int64_t E = integer(env, info[1], op, "numExperts", 1, kMaxDim);
  View order = i32(env, info[2], op, "order"), position = i32(env, info[3], op, "position"), offsets = i32(env, info[4], op, "offsets");
  const size_t S = ids.length;
  need(env, order, S, op, "order");
  need(env, position, S, op, "position");
  need(env, offsets, (size_t)E + 1, op, "offsets");
  const int32_t* id = (const int32_t*)ids.data;
  for (size_t s = 0; s < S; s++)
    if (id[s] < 0 || id[s] >= E) fail(env, op, "expert id " + std::to_string(id[s]) + " at slot " + std::to_string(s) + " outside [0, " + std::to_string(E) + ")");
  sort_by_expert(id, (int)S, (int)E, (int32_t*)order.data, (int32_t*)position.data, (int32_t*)offsets.data);
  return env.Undefined();
}

// gatherRows(x, R, H, rows, out)
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "gatherRows";
  if (info.Length() < 5) fail(env, op, "expects 5 arguments");
  View x = f32(env, info[0], op, "x");
  const int64_t R = integer(env, info[1], op, "R", 0, kMaxDim);
  const int64_t H = integer(env, info[2], op, "H", 0, kMaxDim);
  View rows = i32(env, info[3], op, "rows");
  View out = f32(env, info[4], op, "out");
  need(env, x, (size_t)R * (size_t)H, op, "x");
  need(env, out, rows.length * (size_t)H, op, "out");
  const int32_t* r = (const int32_t*)rows.data;
  for (size_t i = 0; i < rows.length; i++)
    if (r[i] < 0 || r[i] >= R) fail(env, op, "row " + std::to_string(r[i]) + " outside [0, " + std::to_string(R) + ")");
  gather_rows((const float*)x.data, (int)H, r, (int)rows.length, (float*)out.data);
  return env.Undefined();
}

// accumulateRows(out, T, H, y, rows, weights)
Napi::Value AccumulateRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "accumulateRows";
  if (info.Length() < 6) fail(env, op, "expects 6 arguments");
  View out = f32(env, info[0], op, "out");
  const int64_t T = integer(env, info[1], op, "T", 0, kMaxDim);
  const int64_t H = integer(env, info[2], op, "H", 0, kMaxDim);
  View y = f32(env, info[3], op, "y");
  View rows = i32(env, info[4], op, "rows");
  View w = f32(env, info[5], op, "weights");
  const size_t n = rows.length;
  need(env, out, (size_t)T * (size_t)H, op, "out");
  need(env, y, n * (size_t)H, op, "y");
  need(env, w, n, op, "weights");
  const int32_t* r = (const int32_t*)rows.data;
  for (size_t i = 0; i < n; i++)
    if (r[i] < 0 || r[i] >= T) fail(env, op, "row " + std::to_string(r[i]) + " outside [0, " + std::to_string(T) + ")");
  accumulate_rows((float*)out.data, (int)H, (const float*)y.data, r, (const float*)w.data, (int)n);
  return env.Undefined();
}

// readProbe(typedArray): XOR of every 32-bit word, read by all threads (a memory read-bandwidth probe).
Napi::Value ReadProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View v = view(env, info[0], "readProbe", "buffer");
  const size_t bytes = v.length * (v.type == napi_float32_array || v.type == napi_int32_array || v.type == napi_uint32_array ? 4 : v.type == napi_uint16_array ? 2 : 1);
  return Napi::Number::New(env, read_probe((const uint32_t*)v.data, bytes / 4));
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = integer(env, info[0], "setThreads", "threads", 1, 255);
  set_threads((int)n);
  return Napi::Number::New(env, runtime().pool.threads());
}
Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), runtime().pool.threads()); }
Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), runtime().kt->name); }
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "moekit native setIsa: name must be a string");
  return Napi::Boolean::New(env, set_isa(info[0].As<Napi::String>().Utf8Value()));
}
Napi::Value HasBf16Dot(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), runtime().kt->gemm_epi_bf16_task != nullptr); }
Napi::Value SupportedIsas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* n : {"avx512bf16", "avx512", "avx2", "scalar"})
    if (isa_supported(n)) a.Set(i++, Napi::String::New(env, n));
  return a;
}
Napi::Value SetGemvMaxRows(const Napi::CallbackInfo& info) {
  // setGemvMaxRows(plain, fusedFloat32?, fusedBf16?): row counts up to which a job reads its weights in place.
  runtime().gemv_max_rows = (int)integer(info.Env(), info[0], "setGemvMaxRows", "rows", 0, 64);
  if (info.Length() > 1 && !info[1].IsUndefined()) runtime().gemv_max_rows_epi = (int)integer(info.Env(), info[1], "setGemvMaxRows", "fused rows", 0, 1 << 20);
  if (info.Length() > 2 && !info[2].IsUndefined()) runtime().gemv_max_rows_bf16 = (int)integer(info.Env(), info[2], "setGemvMaxRows", "bf16 rows", 0, 1 << 20);
  return info.Env().Undefined();
}

// ---- model layers ------------------------------------------------------------------------------
// a·b·… with an overflow check (element counts of the buffers an op reads or writes).
size_t count(Napi::Env env, const std::string& op, std::initializer_list<int64_t> dims) {
  size_t n = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(n, (size_t)d, &n)) fail(env, op, "shape too large");
  return n;
}

double number(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "moekit native " + op + ": " + what + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// attention(q, k, v, B, Sq, Skv, Hq, Hkv, Dk, Dv, scale, causal, offset, window, keyMask|null, sinks|null, out)
Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "attention";
  if (info.Length() < 17) fail(env, op, "expects 17 arguments");
  View q = f32(env, info[0], op, "q");
  View k = f32(env, info[1], op, "k");
  View v = f32(env, info[2], op, "v");
  AttnArgs a;
  a.B = (int)integer(env, info[3], op, "B", 0, kMaxDim);
  a.Sq = (int)integer(env, info[4], op, "Sq", 0, kMaxDim);
  a.Skv = (int)integer(env, info[5], op, "Skv", 0, kMaxDim);
  a.Hq = (int)integer(env, info[6], op, "Hq", 1, kMaxDim);
  a.Hkv = (int)integer(env, info[7], op, "Hkv", 1, kMaxDim);
  a.Dk = (int)integer(env, info[8], op, "Dk", 0, kMaxDim);
  a.Dv = (int)integer(env, info[9], op, "Dv", 0, kMaxDim);
  a.scale = (float)number(env, info[10], op, "scale");
  a.causal = (int)integer(env, info[11], op, "causal", 0, 1);
  a.offset = (int)integer(env, info[12], op, "queryOffset", 0, kMaxDim);
  a.window = (int)integer(env, info[13], op, "slidingWindow", 0, kMaxDim);
  if (a.Hq % a.Hkv != 0) fail(env, op, std::to_string(a.Hq) + " query heads cannot share " + std::to_string(a.Hkv) + " key-value heads");
  if ((int64_t)a.offset + a.Sq > a.Skv) fail(env, op, "queryOffset does not place the queries within the keys");
  need(env, q, count(env, op, {a.B, a.Sq, a.Hq, a.Dk}), op, "q");
  need(env, k, count(env, op, {a.B, a.Skv, a.Hkv, a.Dk}), op, "k");
  need(env, v, count(env, op, {a.B, a.Skv, a.Hkv, a.Dv}), op, "v");
  if (!info[14].IsNull() && !info[14].IsUndefined()) {
    View m = i32(env, info[14], op, "keyMask");
    need(env, m, count(env, op, {a.B, a.Skv}), op, "keyMask");
    a.mask = (const int32_t*)m.data;
  }
  if (!info[15].IsNull() && !info[15].IsUndefined()) {
    View sk = f32(env, info[15], op, "sinks");
    need(env, sk, (size_t)a.Hq, op, "sinks");
    a.sinks = (const float*)sk.data;
  }
  View out = f32(env, info[16], op, "out");
  need(env, out, count(env, op, {a.B, a.Sq, a.Hq, a.Dv}), op, "out");
  a.q = (const float*)q.data;
  a.k = (const float*)k.data;
  a.v = (const float*)v.data;
  a.out = (float*)out.data;
  attention(a);
  return env.Undefined();
}

// rowNorm(kind, x, rows, D, weight|null, bias|null, eps, out): kind 0 rmsNorm, 1 layerNorm (weight required), 2 softmax.
Napi::Value RowNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string op = "rowNorm";
  if (info.Length() < 8) fail(env, op, "expects 8 arguments");
  const int kind = (int)integer(env, info[0], op, "kind", 0, 2);
  op = kind == ROW_RMS ? "rmsNorm" : kind == ROW_LAYER ? "layerNorm" : "softmax";
  View x = f32(env, info[1], op, "x");
  const int64_t rows = integer(env, info[2], op, "rows", 0, kMaxDim);
  const int64_t D = integer(env, info[3], op, "D", 0, kMaxDim);
  NormArgs a;
  a.D = (int)D;
  need(env, x, count(env, op, {rows, D}), op, "x");
  if (kind != ROW_SOFTMAX && !info[4].IsNull() && !info[4].IsUndefined()) {
    View w = f32(env, info[4], op, "weight");
    need(env, w, (size_t)D, op, "weight");
    a.w = (const float*)w.data;
  }
  if (kind == ROW_LAYER && !a.w) fail(env, op, "layerNorm needs a weight");
  if (kind == ROW_LAYER && !info[5].IsNull() && !info[5].IsUndefined()) {
    View b = f32(env, info[5], op, "bias");
    need(env, b, (size_t)D, op, "bias");
    a.b = (const float*)b.data;
  }
  a.eps = number(env, info[6], op, "eps");
  View out = f32(env, info[7], op, "out");
  need(env, out, count(env, op, {rows, D}), op, "out");
  a.x = (const float*)x.data;
  a.out = (float*)out.data;
  if (D > 0) norm_rows(kind, a, (int)rows);
  return env.Undefined();
}

// rope(x, T, heads, D, cos, sin, half, interleaved, out)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "rope";
  if (info.Length() < 9) fail(env, op, "expects 9 arguments");
  View x = f32(env, info[0], op, "x");
  const int64_t T = integer(env, info[1], op, "T", 0, kMaxDim);
  RopeArgs a;
  a.heads = (int)integer(env, info[2], op, "heads", 0, kMaxDim);
  a.D = (int)integer(env, info[3], op, "D", 0, kMaxDim);
  View c = f32(env, info[4], op, "cos");
  View s = f32(env, info[5], op, "sin");
  a.half = (int)integer(env, info[6], op, "half", 0, kMaxDim);
  a.interleaved = (int)integer(env, info[7], op, "interleaved", 0, 1);
  View out = f32(env, info[8], op, "out");
  if (2 * (int64_t)a.half > a.D) fail(env, op, "rotaryDim exceeds the head dim");
  const size_t rows = count(env, op, {T, a.heads});
  if (rows > (size_t)kMaxDim) fail(env, op, "too many rows");
  need(env, x, count(env, op, {T, a.heads, a.D}), op, "x");
  need(env, out, count(env, op, {T, a.heads, a.D}), op, "out");
  need(env, c, count(env, op, {T, a.half}), op, "cos");
  need(env, s, count(env, op, {T, a.half}), op, "sin");
  a.x = (const float*)x.data;
  a.cos = (const float*)c.data;
  a.sin = (const float*)s.data;
  a.out = (float*)out.data;
  if (a.D > 0 && a.heads > 0) rope(a, (int)rows);
  return env.Undefined();
}

// embedding(table, dt, V, H, ids, out)
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "embedding";
  if (info.Length() < 6) fail(env, op, "expects 6 arguments");
  const int dt = (int)integer(env, info[1], op, "dtype", 0, 2);
  const int64_t V = integer(env, info[2], op, "V", 0, kMaxDim);
  const int64_t H = integer(env, info[3], op, "H", 0, kMaxDim);
  const void* table = weights(env, info[0], dt, count(env, op, {V, H}), op, "table");
  View ids = i32(env, info[4], op, "ids");
  View out = f32(env, info[5], op, "out");
  if (ids.length > (size_t)kMaxDim) fail(env, op, "too many ids");
  need(env, out, count(env, op, {(int64_t)ids.length, H}), op, "out");
  const int32_t* id = (const int32_t*)ids.data;
  for (size_t i = 0; i < ids.length; i++)
    if (id[i] < 0 || id[i] >= V) fail(env, op, "token id " + std::to_string(id[i]) + " at position " + std::to_string(i) + " outside [0, " + std::to_string(V) + ")");
  embedding(table, dt, (int)H, id, (int)ids.length, (float*)out.data);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("linear", Napi::Function::New(env, Linear));
  exports.Set("groupedLinear", Napi::Function::New(env, GroupedLinear));
  exports.Set("gatheredLinear", Napi::Function::New(env, GatheredLinear));
  exports.Set("gate", Napi::Function::New(env, Gate));
  exports.Set("expertsForward", Napi::Function::New(env, ExpertsForward));
  exports.Set("hasBf16Dot", Napi::Function::New(env, HasBf16Dot));
  exports.Set("combineSlots", Napi::Function::New(env, CombineSlots));
  exports.Set("sortByExpert", Napi::Function::New(env, SortByExpert));
  exports.Set("gatherRows", Napi::Function::New(env, GatherRows));
  exports.Set("accumulateRows", Napi::Function::New(env, AccumulateRows));
  exports.Set("readProbe", Napi::Function::New(env, ReadProbe));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("isa", Napi::Function::New(env, GetIsa));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa));
  exports.Set("supportedIsas", Napi::Function::New(env, SupportedIsas));
  exports.Set("setGemvMaxRows", Napi::Function::New(env, SetGemvMaxRows));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("rowNorm", Napi::Function::New(env, RowNorm));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("embedding", Napi::Function::New(env, Embedding));
  exports.Set("quant", moekit::quant::addon_exports(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(moekit_native, Init)
