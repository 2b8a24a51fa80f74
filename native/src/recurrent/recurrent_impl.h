// Recurrent kernel set template: included by one translation unit per instruction set, each compiled with
// its own flags (RK_NS names the namespace, RK_NAME the set). The loops are written for the compiler's
// vectorizer: unit-stride inner loops over channels / value columns on restrict pointers, float32 throughout.
#include <cmath>
#include <cstring>

#include "../common.h"
#include "recurrent.h"

namespace moekit {
namespace recurrent {
namespace RK_NS {

static inline float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }

static void conv(const ConvArgs& a, int b, int c0, int c1, float* scratch) {
  const int C = a.C, keep = a.Kw - 1, n = c1 - c0;
  float* __restrict win = scratch;  // [keep][n]
  float* __restrict acc = scratch + (size_t)keep * n;
  float* st = a.state + (size_t)b * keep * C + c0;
  for (int j = 0; j < keep; j++) std::memcpy(win + (size_t)j * n, st + (size_t)j * C, sizeof(float) * n);
  for (int t = 0; t < a.S; t++) {
    const size_t row = (size_t)b * a.S + t;
    if (a.mask && a.mask[row] == 0) continue;
    const float* __restrict xt = a.x + row * C + c0;
    const float* __restrict wl = a.wt + (size_t)keep * C + c0;
    if (a.bias) {
      const float* __restrict bs = a.bias + c0;
      for (int c = 0; c < n; c++) acc[c] = bs[c] + wl[c] * xt[c];
    } else {
      for (int c = 0; c < n; c++) acc[c] = wl[c] * xt[c];
    }
    for (int j = 0; j < keep; j++) {
      const float* __restrict wj = a.wt + (size_t)j * C + c0;
      const float* __restrict vj = win + (size_t)j * n;
      for (int c = 0; c < n; c++) acc[c] += wj[c] * vj[c];
    }
    if (keep > 0) {
      std::memmove(win, win + n, sizeof(float) * n * (keep - 1));
      std::memcpy(win + (size_t)(keep - 1) * n, xt, sizeof(float) * n);
    }
    float* __restrict o = a.out + row * C + c0;
    if (a.act == ACT_IDENTITY) {
      std::memcpy(o, acc, sizeof(float) * n);
    } else if (a.act == ACT_SILU) {
      for (int c = 0; c < n; c++) o[c] = acc[c] / (1.f + std::exp(-acc[c]));
    } else {
      for (int c = 0; c < n; c++) o[c] = act_scalar(a.act, acc[c]);
    }
  }
  for (int j = 0; j < keep; j++) std::memcpy(st + (size_t)j * C, win + (size_t)j * n, sizeof(float) * n);
}

// One token of one head: S ← diag(decay)·S; u = (v − Sᵀk)·β; S ← S + k uᵀ; o = Sᵀq. Two passes over S's
// rows (decay + read, then write + output); DV fixed at compile time (0: the runtime Dv).
template <int DV>
static inline void delta_token(float* __restrict S, const float* __restrict k, const float* __restrict q, const float* __restrict v,
                               const float* __restrict decay, float beta, int Dk, int dvRun, float* __restrict u, float* __restrict o) {
  const int Dv = DV > 0 ? DV : dvRun;
  for (int j = 0; j < Dv; j++) u[j] = 0.f;
  for (int i = 0; i < Dk; i++) {
    const float d = decay[i], ki = k[i];
    float* __restrict row = S + (size_t)i * Dv;
    for (int j = 0; j < Dv; j++) {
      const float x = row[j] * d;
      row[j] = x;
      u[j] += ki * x;
    }
  }
  for (int j = 0; j < Dv; j++) {
    u[j] = (v[j] - u[j]) * beta;
    o[j] = 0.f;
  }
  for (int i = 0; i < Dk; i++) {
    const float ki = k[i], qi = q[i];
    float* __restrict row = S + (size_t)i * Dv;
    for (int j = 0; j < Dv; j++) {
      const float x = row[j] + ki * u[j];
      row[j] = x;
      o[j] += qi * x;
    }
  }
}

template <int DV>
static void delta_head(const DeltaArgs& a, int b, int h, float* scratch) {
  const int H = a.H, Dk = a.Dk, Dv = a.Dv;
  float* decay = scratch;
  float* u = scratch + Dk;
  float* S = a.state + ((size_t)b * H + h) * Dk * Dv;
  for (int t = 0; t < a.S; t++) {
    const size_t tok = (size_t)b * a.S + t;
    const size_t row = tok * H + h;
    float* o = a.out + row * Dv;
    if (a.mask && a.mask[tok] == 0) {
      std::memset(o, 0, sizeof(float) * Dv);
      continue;
    }
    const float sc = a.gscale[h];
    if (a.perChannel) {
      const float* ga = a.ga + row * Dk;
      const float* gb = a.gbias + (size_t)h * Dk;
      for (int i = 0; i < Dk; i++) decay[i] = std::exp(sc * softplus(ga[i] + gb[i]));
    } else {
      const float d = std::exp(sc * softplus(a.ga[row] + a.gbias[h]));
      for (int i = 0; i < Dk; i++) decay[i] = d;
    }
    delta_token<DV>(S, a.k + row * Dk, a.q + row * Dk, a.v + row * Dv, decay, a.beta[row], Dk, Dv, u, o);
  }
}

static void delta(const DeltaArgs& a, int b, int h, float* scratch) {
  if (a.Dv == 128) delta_head<128>(a, b, h, scratch);
  else if (a.Dv == 64) delta_head<64>(a, b, h, scratch);
  else delta_head<0>(a, b, h, scratch);
}

static const Kernels table = {RK_NAME, conv, delta};

}  // namespace RK_NS

const Kernels* RK_GETTER() { return &RK_NS::table; }

}  // namespace recurrent
}  // namespace moekit
