// Format table, activation preparation, kernel-set selection and the threaded GEMV / widening drivers.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

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

#if defined(__x86_64__) || defined(_M_X64)
// quantize_block for n values, n a multiple of 32, with AVX2: the same float32 operations (amax, d = amax /
// 127, id = 1 / d, x·id rounded to nearest even, clamped), so the same bytes, 5-10x faster (a decode step
// prepares every routed expert's input on the calling thread).
// sum (if not null): Σ q.
__attribute__((target("avx2"))) static float quantize_block_avx2(const float* x, int n, int8_t* q, int32_t* sum) {
  const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 inf = _mm256_set1_ps(INFINITY);
  __m256 mx = _mm256_setzero_ps(), fin = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (int i = 0; i < n; i += 8) {
    const __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), absm);
    mx = _mm256_max_ps(mx, a);
    fin = _mm256_and_ps(fin, _mm256_cmp_ps(a, inf, _CMP_LT_OQ));  // false for ±inf and NaN
  }
  if (_mm256_movemask_ps(fin) != 0xFF) {
    std::memset(q, 0, (size_t)n);
    if (sum) *sum = 0;
    return NAN;
  }
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const float d = _mm_cvtss_f32(m) / 127.f;
  const __m256 id = _mm256_set1_ps(d > 0.f ? 1.f / d : 0.f);
  const __m256 lo = _mm256_set1_ps(-127.f), hi = _mm256_set1_ps(127.f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i total = _mm256_setzero_si256();
  for (int i = 0; i < n; i += 32) {
    __m256i v[4];
    for (int j = 0; j < 4; j++) {
      const __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * j), id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v[j] = _mm256_cvttps_epi32(_mm256_max_ps(lo, _mm256_min_ps(hi, r)));
    }
    // packs interleave the 128-bit halves: dwords (0, 4, 1, 5, ...) restore the order
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    _mm256_storeu_si256((__m256i*)(q + i), _mm256_permutevar8x32_epi32(p, order));
    total = _mm256_add_epi32(total, _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3])));
  }
  if (sum) {
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    *sum = _mm_cvtsi128_si32(t);
  }
  return d;
}
static bool has_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

// quantize_block, and Σ q into sum when not null.
static float quantize_values(const float* x, int n, int8_t* q, int32_t* sum) {
#if defined(__x86_64__) || defined(_M_X64)
  if (n % 32 == 0 && has_avx2()) return quantize_block_avx2(x, n, q, sum);
#endif
  const float d = quantize_block(x, n, q);
  if (sum) {
    int32_t t = 0;
    for (int i = 0; i < n; i++) t += q[i];
    *sum = t;
  }
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
      d[b] = quantize_values(x + 32 * b, 32, block, s + b);
      const bool x4 = f->act == A8_32X4;
      std::memcpy(q + (x4 ? x4_lo(nb, b) : 32 * b), block, 16);
      std::memcpy(q + (x4 ? x4_hi(nb, b) : 32 * b + 16), block + 16, 16);
    }
  } else if (f->act == A8_256) {
    float* d = (float*)(act + K);
    int16_t* bsum = (int16_t*)(act + K + 4 * (size_t)(K / 256));
    for (int b = 0; b < K / 256; b++) d[b] = quantize_values(x + 256 * b, 256, q + 256 * b, nullptr);
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
  const bool vnni = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
  if (name == "avx512vnni") return vnni;
  if (name == "avx512vbmi") return vnni && __builtin_cpu_supports("avx512vbmi");
#endif
  return false;
}

std::vector<std::string> supported() {
  std::vector<std::string> out;
  for (const char* n : {"scalar", "avx2", "avx512vnni", "avx512vbmi"})
    if (cpu_has(n)) out.push_back(n);
  return out;
}

const Kernels* by_name(const std::string& name) {
  if (!cpu_has(name)) return nullptr;
#if defined(__x86_64__) || defined(_M_X64)
  if (name == "avx512vnni") return kernels_avx512vnni();
  if (name == "avx512vbmi") return kernels_avx512vbmi();
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
  if (qk_name && (std::strcmp(qk_name, "avx512vnni") == 0 || std::strcmp(qk_name, "avx512vbmi") == 0)) return gemm_avx512vnni();
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
