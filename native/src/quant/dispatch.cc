// Format table, activation preparation, kernel-set selection and the threaded GEMV / widening drivers.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../ops.h"
#include "blocks.h"
#include "gemm.h"
#include "quant.h"

namespace moekit {
namespace quant {

static const FormatInfo kFormats[] = {
    {Q8_0, 32, 34, A8_32, "q8_0"},    {Q4_0, 32, 18, A8_32X4, "q4_0"}, {Q5_0, 32, 22, A8_32X4, "q5_0"},
    {Q4_K, 256, 144, A8_256, "q4_k"}, {Q6_K, 256, 210, A8_256, "q6_k"}, {MXFP4, 32, 17, A8_32X4, "mxfp4"},
    {FP8_B128, 128, 132, F32, "fp8_e4m3_b128"},
};

const FormatInfo* format_info(int code) {
  for (const FormatInfo& f : kFormats)
    if (f.code == code) return &f;
  return nullptr;
}

size_t row_bytes(int code, int K) {
  const FormatInfo* f = format_info(code);
  return f ? (size_t)(K / f->block_elems) * f->block_bytes : 0;
}

size_t act_bytes(int code, int K) {
  const FormatInfo* f = format_info(code);
  if (!f) return 0;
  switch (f->act) {
    case A8_32:
    case A8_32X4: return (size_t)K + 8 * (size_t)(K / 32);
    case A8_256: return (size_t)K + 4 * (size_t)(K / 256) + 2 * (size_t)(K / 16);
    default: return 4 * (size_t)K;
  }
}

// Block of n values → int8 codes q with x ≈ d·q, d = amax / 127, rounded to nearest even; returns d
// (NaN when the block holds a non-finite value: its codes are then zero and every product NaN).
static float quantize_block(const float* x, int n, int8_t* q) {
  float amax = 0.f;
  bool finite = true;
  for (int i = 0; i < n; i++) {
    finite = finite && std::isfinite(x[i]);
    amax = std::max(amax, std::fabs(x[i]));
  }
  if (!finite) {
    std::memset(q, 0, (size_t)n);
    return NAN;
  }
  const float d = amax / 127.f;
  const float id = d > 0.f ? 1.f / d : 0.f;
  for (int i = 0; i < n; i++) q[i] = (int8_t)std::max(-127.f, std::min(127.f, std::nearbyint(x[i] * id)));
  return d;
}

void quantize_act(int code, const float* x, int K, uint8_t* act) {
  const FormatInfo* f = format_info(code);
  if (!f) return;
  int8_t* q = (int8_t*)act;
  if (f->act == A8_32 || f->act == A8_32X4) {
    float* d = (float*)(act + K);
    int32_t* s = (int32_t*)(act + K + 4 * (size_t)(K / 32));
    const int nb = K / 32;
    int8_t block[32];
    for (int b = 0; b < nb; b++) {
      d[b] = quantize_block(x + 32 * b, 32, block);
      int32_t sum = 0;
      for (int i = 0; i < 32; i++) sum += block[i];
      s[b] = sum;
      const bool x4 = f->act == A8_32X4;
      std::memcpy(q + (x4 ? x4_lo(nb, b) : 32 * b), block, 16);
      std::memcpy(q + (x4 ? x4_hi(nb, b) : 32 * b + 16), block + 16, 16);
    }
  } else if (f->act == A8_256) {
    float* d = (float*)(act + K);
    int16_t* bsum = (int16_t*)(act + K + 4 * (size_t)(K / 256));
    for (int b = 0; b < K / 256; b++) d[b] = quantize_block(x + 256 * b, 256, q + 256 * b);
    for (int g = 0; g < K / 16; g++) {
      int sum = 0;
      for (int i = 0; i < 16; i++) sum += q[16 * g + i];
      bsum[g] = (int16_t)sum;
    }
  } else {
    std::memcpy(act, x, 4 * (size_t)K);
  }
}

static bool cpu_has(const std::string& name) {
  if (name == "scalar") return true;
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (name == "avx2") return avx2;
  if (name == "avx512vnni")
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#endif
  return false;
}

std::vector<std::string> supported() {
  std::vector<std::string> out;
  for (const char* n : {"scalar", "avx2", "avx512vnni"})
    if (cpu_has(n)) out.push_back(n);
  return out;
}

const Kernels* by_name(const std::string& name) {
  if (!cpu_has(name)) return nullptr;
#if defined(__x86_64__) || defined(_M_X64)
  if (name == "avx512vnni") return kernels_avx512vnni();
  if (name == "avx2") return kernels_avx2();
#endif
  return name == "scalar" ? kernels_scalar() : nullptr;
}

const Kernels* best() {
  static const Kernels* chosen = [] {
    const char* force = std::getenv("MOEKIT_QUANT_ISA");
    if (force && by_name(force)) return by_name(force);
    return by_name(supported().back());
  }();
  return chosen;
}

void gemv(const Kernels* kt, int code, const uint8_t* w, int N, int K, const float* x, int M, float* y, size_t ldy) {
  const size_t ab = act_bytes(code, K);
  const size_t rb = row_bytes(code, K);
  if (ab == 0 || N <= 0 || M <= 0) return;
  std::vector<uint8_t> acts(ab * (size_t)M);
  for (int m = 0; m < M; m++) quantize_act(code, x + (size_t)m * K, K, acts.data() + ab * m);
  ThreadPool& pool = runtime().pool;
  // about 8 tasks per thread so uneven progress evens out, each a whole number of 8-row groups
  const int per = std::max(8, ((N + pool.threads() * 8 - 1) / (pool.threads() * 8) + 7) / 8 * 8);
  const int tasks = (N + per - 1) / per;
  auto task = [&](int t, int) {
    const int n0 = t * per, n1 = std::min(N, n0 + per);
    for (int m = 0; m < M; m++) kt->dot_rows(code, w, rb, n0, n1, K, acts.data() + ab * m, y + ldy * m + n0);
  };
  if (tasks == 1 || pool.threads() == 1) {
    for (int t = 0; t < tasks; t++) task(t, 0);
  } else {
    pool.run(tasks, task);
  }
}

const GemmKernels* gemm_for(const char* qk_name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (qk_name && std::strcmp(qk_name, "avx512vnni") == 0) return gemm_avx512vnni();
#endif
  return nullptr;
}

void widen_rows_f32(const Kernels* kt, int code, const uint8_t* w, int K, int r0, int r1, int k0, int n, float* out, size_t ld) {
  const size_t rb = row_bytes(code, K);
  for (int r = r0; r < r1; r++) kt->widen_f32(code, w + rb * r, k0, n, out + ld * (r - r0));
}

void widen_rows_bf16(const Kernels* kt, int code, const uint8_t* w, int K, int r0, int r1, int k0, int n, uint16_t* out, size_t ld) {
  const size_t rb = row_bytes(code, K);
  for (int r = r0; r < r1; r++) kt->widen_bf16(code, w + rb * r, k0, n, out + ld * (r - r0));
}

}  // namespace quant
}  // namespace moekit
