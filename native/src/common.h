// Shared declarations of the moekit native CPU backend.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moekit {

enum WDType : int { W_F32 = 0, W_BF16 = 1, W_F16 = 2 };
enum GateKind : int { GATE_CONCAT = 0, GATE_INTERLEAVED = 1, GATE_NONE = 2 };
enum Act : int { ACT_SILU = 0, ACT_GELU = 1, ACT_GELU_TANH = 2, ACT_GELU_FAST = 3, ACT_RELU = 4, ACT_SIGMOID = 5, ACT_TANH = 6, ACT_IDENTITY = 7 };

// One product y[rows] = x[rows] · w^T (+ bias) over a weight slice w[N][K] read in place.
// Row i of the product reads x + xrow(i)*K and writes y + yrow(i)*ldy, where xrow/yrow are the
// optional index lists (identity when null).
struct GemmJob {
  const void* w = nullptr;  // [N][K] slice, dtype wdt
  int wdt = W_F32;
  const void* bias = nullptr;  // [N] or null, dtype bdt
  int bdt = W_F32;
  int M = 0, N = 0, K = 0;
  const float* x = nullptr;
  const int32_t* xrows = nullptr;
  float* y = nullptr;
  size_t ldy = 0;
  const int32_t* yrows = nullptr;
};

// Per-thread scratch memory (grown on demand, 64-byte aligned).
struct Scratch {
  float* a = nullptr;
  size_t a_cap = 0;
  float* b = nullptr;
  size_t b_cap = 0;
  float* bias = nullptr;
  size_t bias_cap = 0;
  ~Scratch();
  float* need_a(size_t n);
  float* need_b(size_t n);
  float* need_bias(size_t n);
};

struct GateArgs {
  const float* p;
  float* out;
  int width;  // row width of p
  int inter;  // row width of out
  int kind, act, clamp;
  float alpha, limit;
};

// A kernel set compiled for one instruction set.
struct KernelTable {
  const char* name;
  int nr;  // B panel width (the N-tile granularity)
  // Rows [0, M) × columns [n0, n1) of a job with the packed-panel GEMM.
  void (*gemm_task)(const GemmJob& job, int n0, int n1, Scratch& s);
  // Rows [0, M) × columns [n0, n1) of a job reading weights in place (small M).
  void (*gemv_task)(const GemmJob& job, int n0, int n1);
  // Rows [r0, r1) of a gate.
  void (*gate_rows)(const GateArgs& g, int r0, int r1);
};

const KernelTable* kernels_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const KernelTable* kernels_avx2();
const KernelTable* kernels_avx512();
#endif

// Scalar helpers shared by all kernel sets.
static inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
float f16_to_f32(uint16_t h);
static inline float load_w(const void* w, int dt, size_t i) {
  if (dt == W_F32) return ((const float*)w)[i];
  if (dt == W_BF16) return bf16_to_f32(((const uint16_t*)w)[i]);
  return f16_to_f32(((const uint16_t*)w)[i]);
}
static inline size_t wbytes(int dt) { return dt == W_F32 ? 4 : 2; }

float act_scalar(int act, float x);

}  // namespace moekit
