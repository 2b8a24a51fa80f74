// N-API entries of the recurrent kernels. Each re-checks its sizes (checked products, every buffer long enough)
// and throws a TypeError / RangeError naming the field; the TypeScript side (src/backends/cpu/recurrent.ts)
// checks the tensors first with friendlier messages.
#include "addon_recurrent.h"

#include <vector>

#include "../common.h"
#include "../napi_args.h"
#include "recurrent.h"

namespace moekit {
namespace recurrent {
namespace {

// causalConv1d({ x, b, s, c, kw, weight [C·Kw], bias?, state [B·(Kw−1)·C] (in/out), tokenMask?, act, out })
Napi::Value CausalConv1d(const Napi::CallbackInfo& info) {
  OpArgs a(info, "causalConv1d");
  ConvArgs t;
  t.B = (int)a.integer("b", 0, kMaxDim);
  t.S = (int)a.integer("s", 0, kMaxDim);
  t.C = (int)a.integer("c", 0, kMaxDim);
  t.Kw = (int)a.integer("kw", 1, 4096);
  t.act = (int)a.integer("act", ACT_SILU, ACT_IDENTITY);
  t.x = a.f32("x", a.size({t.B, t.S, t.C}, "x")).data;
  const float* w = a.f32("weight", a.size({t.C, t.Kw}, "weight")).data;
  t.bias = a.f32_opt("bias", (size_t)t.C).data;
  t.state = a.f32("state", a.size({t.B, t.Kw - 1, t.C}, "state")).data;
  t.mask = a.i32_opt("tokenMask", a.size({t.B, t.S}, "tokenMask")).data;
  t.out = a.f32("out", a.size({t.B, t.S, t.C}, "out")).data;
  // Tap-major weight: each tap's coefficients contiguous over channels.
  std::vector<float> wt(a.size({t.Kw, t.C}, "weight"));
  for (int c = 0; c < t.C; c++)
    for (int j = 0; j < t.Kw; j++) wt[(size_t)j * t.C + c] = w[(size_t)c * t.Kw + j];
  t.wt = wt.data();
  causal_conv1d(t);
  return a.env().Undefined();
}

// gatedDeltaRule({ q, k, v, beta, b, s, h, dk, dv, perChannel, gateA, gateScale, gateBias, state (in/out), tokenMask?, out })
Napi::Value GatedDeltaRule(const Napi::CallbackInfo& info) {
  OpArgs a(info, "gatedDeltaRule");
  DeltaArgs t;
  t.B = (int)a.integer("b", 0, kMaxDim);
  t.S = (int)a.integer("s", 0, kMaxDim);
  t.H = (int)a.integer("h", 0, kMaxDim);
  t.Dk = (int)a.integer("dk", 0, 65536);
  t.Dv = (int)a.integer("dv", 0, 65536);
  t.perChannel = (int)a.integer("perChannel", 0, 1);
  t.q = a.f32("q", a.size({t.B, t.S, t.H, t.Dk}, "q")).data;
  t.k = a.f32("k", a.size({t.B, t.S, t.H, t.Dk}, "k")).data;
  t.v = a.f32("v", a.size({t.B, t.S, t.H, t.Dv}, "v")).data;
  t.beta = a.f32("beta", a.size({t.B, t.S, t.H}, "beta")).data;
  t.ga = a.f32("gateA", t.perChannel ? a.size({t.B, t.S, t.H, t.Dk}, "gateA") : a.size({t.B, t.S, t.H}, "gateA")).data;
  t.gscale = a.f32("gateScale", (size_t)t.H).data;
  t.gbias = a.f32("gateBias", t.perChannel ? a.size({t.H, t.Dk}, "gateBias") : (size_t)t.H).data;
  t.state = a.f32("state", a.size({t.B, t.H, t.Dk, t.Dv}, "state")).data;
  t.mask = a.i32_opt("tokenMask", a.size({t.B, t.S}, "tokenMask")).data;
  t.out = a.f32("out", a.size({t.B, t.S, t.H, t.Dv}, "out")).data;
  gated_delta_rule(t);
  return a.env().Undefined();
}

}  // namespace

void add_exports(Napi::Env env, Napi::Object exports) {
  exports.Set("causalConv1d", Napi::Function::New(env, CausalConv1d));
  exports.Set("gatedDeltaRule", Napi::Function::New(env, GatedDeltaRule));
}

}  // namespace recurrent
}  // namespace moekit
