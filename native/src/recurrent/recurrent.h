// Recurrent-layer kernels of the native CPU backend: the depthwise causal convolution with a carried window
// (causalConv1d) and the gated delta rule, token by token (gatedDeltaRule); see CausalConvSpec / DeltaRuleSpec
// in src/backends/backend.ts. One kernel set per instruction set (recurrent_<isa>.cc, compiled with its own
// flags), chosen at run time from the products' instruction set (runtime().kt); dispatch.cc splits the work
// across the thread pool. Arguments are checked by the caller (addon_recurrent.cc).
#pragma once
#include <cstdint>

namespace moekit {
namespace recurrent {

// x [B, S, C], wt [Kw, C] (the weight transposed: tap-major, so taps vectorize over channels), bias [C] or null,
// state [B, Kw − 1, C] read and updated in place, out [B, S, C]; masked tokens (mask[b, s] = 0) leave out and
// the window untouched.
struct ConvArgs {
  const float* x = nullptr;
  const float* wt = nullptr;
  const float* bias = nullptr;
  const int32_t* mask = nullptr;
  float* state = nullptr;
  float* out = nullptr;
  int B = 0, S = 0, C = 0, Kw = 0, act = 0;
};

// q, k [B, S, H, Dk], v [B, S, H, Dv], beta [B, S, H]; the decay exp(scale[h] · softplus(a + bias)) with a
// [B, S, H] (bias [H]) or per key channel [B, S, H, Dk] (bias [H·Dk]); state [B, H, Dk, Dv] read and updated
// in place; out [B, S, H, Dv] (masked tokens write zeros).
struct DeltaArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* beta = nullptr;
  const float* ga = nullptr;
  const float* gscale = nullptr;
  const float* gbias = nullptr;
  const int32_t* mask = nullptr;
  float* state = nullptr;
  float* out = nullptr;
  int B = 0, S = 0, H = 0, Dk = 0, Dv = 0, perChannel = 0;
};

struct Kernels {
  const char* name;
  // Channels [c0, c1) of sequence b.
  void (*conv)(const ConvArgs& a, int b, int c0, int c1, float* scratch);
  // Head h of sequence b over all its tokens; scratch holds Dk + Dv floats.
  void (*delta)(const DeltaArgs& a, int b, int h, float* scratch);
};

const Kernels* kernels_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const Kernels* kernels_avx2();
const Kernels* kernels_avx512();
#endif

// Threaded drivers (dispatch.cc): the kernel set of the current instruction set over the pool.
void causal_conv1d(const ConvArgs& a);
void gated_delta_rule(const DeltaArgs& a);
// Channels per convolution task (the window of a task is Kw − 1 rows of this many floats).
constexpr int kConvBlock = 512;

}  // namespace recurrent
}  // namespace moekit
