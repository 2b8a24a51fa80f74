// N-API entries of the model layers: attention, rowNorm (rmsNorm / layerNorm / softmax), rope, embedding.
#include <string>
#include <vector>

#include "addon.h"
#include "napi_args.h"
#include "ops.h"

namespace moekit {

// Keys or values `key` of attention: a Float32Array [B·Skv, Hkv·D], or a weight descriptor of B·Skv rows of Hkv·D
// float32 / bfloat16 / float16 values whose segments (a KV cache's per-sequence buffers) are read in place.
static KvView kv_view(const Napi::CallbackInfo& info, OpArgs& a, const char* key, int64_t rows, int64_t cols, std::vector<KvRun>& runs) {
  KvView v;
  if (info[0].As<Napi::Object>().Get(key).IsTypedArray()) {
    const float* p = a.f32(key, a.size({rows, cols}, key)).data;
    v.row_bytes = (size_t)cols * 4;
    runs.push_back({(const char*)p, 0});
  } else {
    const WeightView w = a.weight(key, rows, cols);
    if (w.fmt != W_F32 && w.fmt != W_BF16 && w.fmt != W_F16) a.fail(std::string(key) + " must hold float32, bfloat16 or float16 values");
    if (!w.dense()) a.fail(std::string(key) + " must hold whole token rows one after another (no rowStride)");
    v.fmt = w.fmt;
    v.row_bytes = w.row_bytes;
    for (size_t i = 0; i < w.segs.size(); i++) runs.push_back({w.segs[i].base, w.starts[i]});
  }
  v.runs = runs.data();
  v.nruns = (int)runs.size();
  return v;
}

// attention({ q, k, v, b, sq, skv, hq, hkv, dk, dv, scale, causal, offset, window, keyMask?, sinks?, out }):
// k and v a Float32Array or a weight descriptor (see kv_view).
Napi::Value Attention(const Napi::CallbackInfo& info) {
  OpArgs a(info, "attention");
  AttnArgs t;
  t.B = (int)a.integer("b", 0, kMaxDim);
  t.Sq = (int)a.integer("sq", 0, kMaxDim);
  t.Skv = (int)a.integer("skv", 0, kMaxDim);
  t.Hq = (int)a.integer("hq", 1, kMaxDim);
  t.Hkv = (int)a.integer("hkv", 1, kMaxDim);
  t.Dk = (int)a.integer("dk", 0, kMaxDim);
  t.Dv = (int)a.integer("dv", 0, kMaxDim);
  t.scale = (float)a.number("scale");
  t.causal = (int)a.integer("causal", 0, 1);
  t.offset = (int)a.integer("offset", 0, kMaxDim);
  t.window = (int)a.integer("window", 0, kMaxDim);
  if (t.Hq % t.Hkv != 0) a.fail(std::to_string(t.Hq) + " query heads cannot share " + std::to_string(t.Hkv) + " key-value heads");
  if ((int64_t)t.offset + t.Sq > t.Skv) a.fail("queryOffset does not place the queries within the keys");
  t.q = a.f32("q", a.size({t.B, t.Sq, t.Hq, t.Dk}, "q")).data;
  std::vector<KvRun> kruns, vruns;
  const int64_t rows = (int64_t)a.size({t.B, t.Skv}, "k");
  t.k = kv_view(info, a, "k", rows, (int64_t)a.size({t.Hkv, t.Dk}, "k"), kruns);
  t.v = kv_view(info, a, "v", rows, (int64_t)a.size({t.Hkv, t.Dv}, "v"), vruns);
  t.mask = a.i32_opt("keyMask", a.size({t.B, t.Skv}, "keyMask")).data;
  t.sinks = a.f32_opt("sinks", (size_t)t.Hq).data;
  t.out = a.f32("out", a.size({t.B, t.Sq, t.Hq, t.Dv}, "out")).data;
  attention(t);
  return a.env().Undefined();
}

// rowNorm({ kind, x, rows, d, weight?, bias?, eps, out }): kind 0 rmsNorm, 1 layerNorm (weight required), 2 softmax.
Napi::Value RowNorm(const Napi::CallbackInfo& info) {
  OpArgs a(info, "rowNorm");
  const int kind = (int)a.integer("kind", 0, 2);
  a.rename(kind == ROW_RMS ? "rmsNorm" : kind == ROW_LAYER ? "layerNorm" : "softmax");
  const int64_t rows = a.integer("rows", 0, kMaxDim), D = a.integer("d", 0, kMaxDim);
  NormArgs n;
  n.D = (int)D;
  n.x = a.f32("x", a.size({rows, D}, "x")).data;
  if (kind != ROW_SOFTMAX) n.w = a.f32_opt("weight", (size_t)D).data;
  if (kind == ROW_LAYER && !n.w) a.fail("layerNorm needs a weight");
  if (kind == ROW_LAYER) n.b = a.f32_opt("bias", (size_t)D).data;
  n.eps = kind == ROW_SOFTMAX ? 0.0 : a.number("eps");
  n.out = a.f32("out", a.size({rows, D}, "out")).data;
  if (D > 0) norm_rows(kind, n, (int)rows);
  return a.env().Undefined();
}

// rope({ x, t, heads, d, cos, sin, half, interleaved, out })
Napi::Value Rope(const Napi::CallbackInfo& info) {
  OpArgs a(info, "rope");
  const int64_t T = a.integer("t", 0, kMaxDim);
  RopeArgs r;
  r.heads = (int)a.integer("heads", 0, kMaxDim);
  r.D = (int)a.integer("d", 0, kMaxDim);
  r.half = (int)a.integer("half", 0, kMaxDim);
  r.interleaved = (int)a.integer("interleaved", 0, 1);
  if (2 * (int64_t)r.half > r.D) a.fail("rotaryDim exceeds the head dim");
  const size_t rows = a.size({T, r.heads}, "x");
  if (rows > (size_t)kMaxDim) a.fail("too many rows");
  r.x = a.f32("x", a.size({T, r.heads, r.D}, "x")).data;
  r.out = a.f32("out", a.size({T, r.heads, r.D}, "out")).data;
  r.cos = a.f32("cos", a.size({T, r.half}, "cos")).data;
  r.sin = a.f32("sin", a.size({T, r.half}, "sin")).data;
  if (r.D > 0 && r.heads > 0) rope(r, (int)rows);
  return a.env().Undefined();
}

// embedding({ table, ids, out }): out[i] = table[ids[i]] widened to float32; table a weight descriptor [V, H].
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  OpArgs a(info, "embedding");
  const WeightView table = a.weight("table", -1, -1);
  if (table.rows > kMaxDim) a.fail("more than 2^31 - 1 table rows");
  const Span<int32_t> ids = a.i32("ids");
  if (ids.length > (size_t)kMaxDim) a.fail("too many ids");
  float* out = a.f32("out", a.size({(int64_t)ids.length, table.cols}, "out")).data;
  for (size_t i = 0; i < ids.length; i++)
    if (ids.data[i] < 0 || ids.data[i] >= table.rows)
      a.fail("token id " + std::to_string(ids.data[i]) + " at position " + std::to_string(i) + " outside [0, " + std::to_string(table.rows) + ")");
  embedding(table, ids.data, (int)ids.length, out);
  return a.env().Undefined();
}

}  // namespace moekit
