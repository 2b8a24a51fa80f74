// Kernel set template: included by one translation unit per instruction set, each compiled with its
// own flags. MK_NS names the namespace; MK_AVX512 / MK_AVX2 select the intrinsics (none: portable C++).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common.h"

#if MK_AVX512 || MK_AVX2
#include <immintrin.h>
#endif

namespace moekit {
namespace MK_NS {

#if MK_AVX512
constexpr int NR = 32;
constexpr int MRMAX = 14;
#elif MK_AVX2
constexpr int NR = 16;
constexpr int MRMAX = 6;
#else
constexpr int NR = 8;
constexpr int MRMAX = 4;
#endif
constexpr int KC = 256;
constexpr int MC = MRMAX * 8;

// ---------------------------------------------------------------------------------------------
// B packing: weight rows [n, n + nr) (nr <= NR), columns [k0 + kb, k0 + ke) → Bp[k][NR], rows >= nr zero.
static void pack_b_scalar(const void* w, int dt, size_t K, int n, int nr, int k0, int kb, int ke, float* Bp) {
  for (int j = 0; j < nr; j++) {
    const size_t base = (size_t)(n + j) * K + (size_t)k0;
    if (dt == W_F32) {
      const float* r = (const float*)w + base;
      for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = r[k];
    } else if (dt == W_BF16) {
      const uint16_t* r = (const uint16_t*)w + base;
      for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = bf16_to_f32(r[k]);
    } else {
      const uint16_t* r = (const uint16_t*)w + base;
      for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = f16_to_f32(r[k]);
    }
  }
  for (int j = nr; j < NR; j++)
    for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = 0.f;
}

#if MK_AVX512
static inline __m512 load16_w(const void* w, int dt, size_t i) {
  if (dt == W_F32) return _mm512_loadu_ps((const float*)w + i);
  __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)w + i));
  if (dt == W_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}
static inline __m512 load16_w_mask(const void* w, int dt, size_t i, __mmask16 m) {
  if (dt == W_F32) return _mm512_maskz_loadu_ps(m, (const float*)w + i);
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t*)w + i);
  if (dt == W_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];
  for (int g = 0; g < 4; g++) {
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; j++) {
    __m512 v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    __m512 w = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    __m512 v2 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
    __m512 w2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_f32x4(v, w, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(v, w, 0xdd);
    r[4 + j] = _mm512_shuffle_f32x4(v2, w2, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(v2, w2, 0xdd);
  }
}

static void pack_b(const void* w, int dt, size_t K, int n, int nr, int k0, int kc, float* Bp) {
  if (nr != NR) {
    pack_b_scalar(w, dt, K, n, nr, k0, 0, kc, Bp);
    return;
  }
  const int kv = kc & ~15;
  for (int h = 0; h < 2; h++) {
    for (int kk = 0; kk < kv; kk += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = load16_w(w, dt, (size_t)(n + h * 16 + i) * K + (size_t)(k0 + kk));
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_store_ps(Bp + (size_t)(kk + t) * NR + h * 16, r[t]);
    }
  }
  if (kv < kc) pack_b_scalar(w, dt, K, n, nr, k0, kv, kc, Bp);
}
#else
static void pack_b(const void* w, int dt, size_t K, int n, int nr, int k0, int kc, float* Bp) {
  pack_b_scalar(w, dt, K, n, nr, k0, 0, kc, Bp);
}
#endif

// A packing with the row gather fused: rows [m0, m0 + mc) of the job, columns [k0, k0 + kc), in
// panels of MRMAX rows laid out [k][mr] (the last panel has its exact row count).
static void pack_a(const GemmJob& J, int m0, int mc, int k0, int kc, float* Ap) {
  const float* src[MRMAX];
  for (int ip = 0; ip < mc; ip += MRMAX) {
    const int mr = std::min(MRMAX, mc - ip);
    float* dst = Ap + (size_t)ip * kc;
    for (int i = 0; i < mr; i++) {
      const int row = m0 + ip + i;
      const size_t xr = J.xrows ? (size_t)J.xrows[row] : (size_t)row;
      src[i] = J.x + xr * (size_t)J.K + k0;
    }
    int kb = 0;
#if MK_AVX512
    const __mmask16 mk = (__mmask16)((1u << mr) - 1);
    for (; kb + 16 <= kc; kb += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = i < mr ? _mm512_loadu_ps(src[i] + kb) : _mm512_setzero_ps();
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_mask_storeu_ps(dst + (size_t)(kb + t) * mr, mk, r[t]);
    }
#endif
    for (int i = 0; i < mr; i++)
      for (int k = kb; k < kc; k++) dst[(size_t)k * mr + i] = src[i][k];
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernels: C[MR][NR] (+)= A[kc][MR] · B[kc][NR]; C rows through pointers, nvalid columns stored.
#if MK_AVX512
template <int MR>
static void ukernel(const float* __restrict A, const float* __restrict B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(B + (size_t)k * NR);
    const __m512 b1 = _mm512_load_ps(B + (size_t)k * NR + 16);
    for (int i = 0; i < MR; i++) {
      const __m512 a = _mm512_set1_ps(A[(size_t)k * MR + i]);
      c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
    }
  }
  const __mmask16 m0 = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
  const __mmask16 m1 = nvalid >= 32 ? (__mmask16)0xffff : nvalid <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nvalid - 16)) - 1);
  __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
  if (!acc && bias) {
    bb0 = _mm512_load_ps(bias);
    bb1 = _mm512_load_ps(bias + 16);
  }
  for (int i = 0; i < MR; i++) {
    float* c = C[i];
    if (acc) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + 16));
    } else {
      c0[i] = _mm512_add_ps(c0[i], bb0);
      c1[i] = _mm512_add_ps(c1[i], bb1);
    }
    _mm512_mask_storeu_ps(c, m0, c0[i]);
    _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
  }
}
#elif MK_AVX2
template <int MR>
static void ukernel(const float* __restrict A, const float* __restrict B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  __m256 c0[MR], c1[MR];
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(B + (size_t)k * NR);
    const __m256 b1 = _mm256_load_ps(B + (size_t)k * NR + 8);
    for (int i = 0; i < MR; i++) {
      const __m256 a = _mm256_broadcast_ss(A + (size_t)k * MR + i);
      c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
    }
  }
  alignas(32) float tmp[NR];
  for (int i = 0; i < MR; i++) {
    float* c = C[i];
    if (nvalid == NR) {
      if (acc) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(c));
        c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(c + 8));
      } else if (bias) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_load_ps(bias));
        c1[i] = _mm256_add_ps(c1[i], _mm256_load_ps(bias + 8));
      }
      _mm256_storeu_ps(c, c0[i]);
      _mm256_storeu_ps(c + 8, c1[i]);
    } else {
      _mm256_store_ps(tmp, c0[i]);
      _mm256_store_ps(tmp + 8, c1[i]);
      for (int j = 0; j < nvalid; j++) c[j] = tmp[j] + (acc ? c[j] : bias ? bias[j] : 0.f);
    }
  }
}
#else
template <int MR>
static void ukernel(const float* __restrict A, const float* __restrict B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  float c[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i][j] = 0.f;
  for (int k = 0; k < kc; k++) {
    const float* b = B + (size_t)k * NR;
    for (int i = 0; i < MR; i++) {
      const float a = A[(size_t)k * MR + i];
      for (int j = 0; j < NR; j++) c[i][j] += a * b[j];
    }
  }
  for (int i = 0; i < MR; i++) {
    float* out = C[i];
    for (int j = 0; j < nvalid; j++) out[j] = c[i][j] + (acc ? out[j] : bias ? bias[j] : 0.f);
  }
}
#endif

template <int MR>
static void ukernel_dispatch_impl(int mr, const float* A, const float* B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  if constexpr (MR > 0) {
    if (mr == MR) return ukernel<MR>(A, B, kc, C, nvalid, bias, acc);
    return ukernel_dispatch_impl<MR - 1>(mr, A, B, kc, C, nvalid, bias, acc);
  }
}

// Columns [n0, n1) of a job: the whole weight tile is packed once (K × tile, L3-resident), then
// each block of MC rows runs over K with its C block kept in L2.
static void gemm_task(const GemmJob& J, int n0, int n1, Scratch& S) {
  const int K = J.K, M = J.M;
  const int npan = (n1 - n0 + NR - 1) / NR;
  float* biasp = nullptr;
  if (J.bias) {
    biasp = S.need_bias((size_t)npan * NR);
    for (int j = 0; j < npan * NR; j++) biasp[j] = n0 + j < n1 ? load_w(J.bias, J.bdt, (size_t)(n0 + j)) : 0.f;
  }
  float* Bp = S.need_b((size_t)npan * NR * (size_t)K);
  float* Ap = S.need_a((size_t)MC * KC);
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = std::min(KC, K - k0);
    float* blk = Bp + (size_t)k0 * npan * NR;
    for (int p = 0; p < npan; p++) pack_b(J.w, J.wdt, (size_t)K, n0 + p * NR, std::min(NR, n1 - n0 - p * NR), k0, kc, blk + (size_t)p * NR * kc);
  }
  float* crow[MRMAX];
  for (int m0 = 0; m0 < M; m0 += MC) {
    const int mc = std::min(MC, M - m0);
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      const float* blk = Bp + (size_t)k0 * npan * NR;
      pack_a(J, m0, mc, k0, kc, Ap);
      for (int p = 0; p < npan; p++) {
        const int nvalid = std::min(NR, n1 - n0 - p * NR);
        const float* bp = blk + (size_t)p * NR * kc;
        for (int ip = 0; ip < mc; ip += MRMAX) {
          const int mr = std::min(MRMAX, mc - ip);
          for (int i = 0; i < mr; i++) {
            const int row = m0 + ip + i;
            const size_t yr = J.yrows ? (size_t)J.yrows[row] : (size_t)row;
            crow[i] = J.y + yr * J.ldy + (size_t)(n0 + p * NR);
          }
          ukernel_dispatch_impl<MRMAX>(mr, Ap + (size_t)ip * kc, bp, kc, crow, nvalid, biasp ? biasp + p * NR : nullptr, k0 > 0);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GEMV: R weight rows × MM input rows, vectors along K, weights read in place.
#if MK_AVX512
template <int R, int MM>
static void gemv_block(const GemmJob& J, int n, const float* const* xr, float* const* yr) {
  const size_t K = (size_t)J.K;
  __m512 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm512_setzero_ps();
  const size_t kv = K & ~(size_t)15;
  const char* wb = (const char*)J.w;
  const size_t es = wbytes(J.wdt);
  for (size_t k = 0; k < kv; k += 16) {
    __m512 wv[R];
    // Weights stream from memory once: prefetch ~1 KiB ahead on every row.
    if ((k & 31) == 0)
      for (int r = 0; r < R; r++) _mm_prefetch(wb + ((size_t)(n + r) * K + k) * es + 4096, _MM_HINT_T0);
    for (int r = 0; r < R; r++) wv[r] = load16_w(J.w, J.wdt, (size_t)(n + r) * K + k);
    for (int m = 0; m < MM; m++) {
      const __m512 xv = _mm512_loadu_ps(xr[m] + k);
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  if (kv < K) {
    const __mmask16 mk = (__mmask16)((1u << (K - kv)) - 1);
    __m512 wv[R];
    for (int r = 0; r < R; r++) wv[r] = load16_w_mask(J.w, J.wdt, (size_t)(n + r) * K + kv, mk);
    for (int m = 0; m < MM; m++) {
      const __m512 xv = _mm512_maskz_loadu_ps(mk, xr[m] + kv);
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  for (int r = 0; r < R; r++) {
    const float b = J.bias ? load_w(J.bias, J.bdt, (size_t)(n + r)) : 0.f;
    for (int m = 0; m < MM; m++) yr[m][n + r] = _mm512_reduce_add_ps(acc[r][m]) + b;
  }
}
#elif MK_AVX2
static inline __m256 load8_w(const void* w, int dt, size_t i) {
  if (dt == W_F32) return _mm256_loadu_ps((const float*)w + i);
  __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)w + i));
  if (dt == W_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}
static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
template <int R, int MM>
static void gemv_block(const GemmJob& J, int n, const float* const* xr, float* const* yr) {
  const size_t K = (size_t)J.K;
  __m256 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm256_setzero_ps();
  const size_t kv = K & ~(size_t)7;
  for (size_t k = 0; k < kv; k += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; r++) wv[r] = load8_w(J.w, J.wdt, (size_t)(n + r) * K + k);
    for (int m = 0; m < MM; m++) {
      const __m256 xv = _mm256_loadu_ps(xr[m] + k);
      for (int r = 0; r < R; r++) acc[r][m] = _mm256_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  for (int r = 0; r < R; r++) {
    const float b = J.bias ? load_w(J.bias, J.bdt, (size_t)(n + r)) : 0.f;
    for (int m = 0; m < MM; m++) {
      float s = hsum8(acc[r][m]);
      for (size_t k = kv; k < K; k++) s += load_w(J.w, J.wdt, (size_t)(n + r) * K + k) * xr[m][k];
      yr[m][n + r] = s + b;
    }
  }
}
#else
template <int R, int MM>
static void gemv_block(const GemmJob& J, int n, const float* const* xr, float* const* yr) {
  const size_t K = (size_t)J.K;
  float acc[R][MM][4];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++)
      for (int l = 0; l < 4; l++) acc[r][m][l] = 0.f;
  const size_t kv = K & ~(size_t)3;
  for (size_t k = 0; k < kv; k += 4) {
    float wv[R][4];
    for (int r = 0; r < R; r++)
      for (int l = 0; l < 4; l++) wv[r][l] = load_w(J.w, J.wdt, (size_t)(n + r) * K + k + l);
    for (int m = 0; m < MM; m++)
      for (int r = 0; r < R; r++)
        for (int l = 0; l < 4; l++) acc[r][m][l] += wv[r][l] * xr[m][k + l];
  }
  for (int r = 0; r < R; r++) {
    const float b = J.bias ? load_w(J.bias, J.bdt, (size_t)(n + r)) : 0.f;
    for (int m = 0; m < MM; m++) {
      float s = (acc[r][m][0] + acc[r][m][1]) + (acc[r][m][2] + acc[r][m][3]);
      for (size_t k = kv; k < K; k++) s += load_w(J.w, J.wdt, (size_t)(n + r) * K + k) * xr[m][k];
      yr[m][n + r] = s + b;
    }
  }
}
#endif

template <int R>
static void gemv_rows(const GemmJob& J, int n, int mm, const float* const* xr, float* const* yr) {
  switch (mm) {
    case 1: return gemv_block<R, 1>(J, n, xr, yr);
    case 2: return gemv_block<R, 2>(J, n, xr, yr);
    case 3: return gemv_block<R, 3>(J, n, xr, yr);
    default: return gemv_block<R, 4>(J, n, xr, yr);
  }
}

static void gemv_task(const GemmJob& J, int n0, int n1) {
  const float* xr[4];
  float* yr[4];
  for (int m0 = 0; m0 < J.M; m0 += 4) {
    const int mm = std::min(4, J.M - m0);
    for (int m = 0; m < mm; m++) {
      const int row = m0 + m;
      xr[m] = J.x + (J.xrows ? (size_t)J.xrows[row] : (size_t)row) * (size_t)J.K;
      yr[m] = J.y + (J.yrows ? (size_t)J.yrows[row] : (size_t)row) * J.ldy;
    }
    int n = n0;
    for (; n + 4 <= n1; n += 4) gemv_rows<4>(J, n, mm, xr, yr);
    for (; n < n1; n++) gemv_rows<1>(J, n, mm, xr, yr);
  }
}

// ---------------------------------------------------------------------------------------------
// Gates.
static inline float sigmoidf_(float x) { return 1.f / (1.f + std::exp(-x)); }

#if MK_AVX512
// e^x, relative error ~2 ulp over the float range (Cody-Waite reduction, degree-6 polynomial).
static inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.7f)), _mm512_set1_ps(-103.9f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
  p = _mm512_add_ps(p, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}
static inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}
#endif

static void gate_rows(const GateArgs& g, int r0, int r1) {
  const int I = g.inter;
  for (int r = r0; r < r1; r++) {
    const float* p = g.p + (size_t)r * g.width;
    float* o = g.out + (size_t)r * I;
    int i = 0;
    if (g.kind == GATE_NONE) {
#if MK_AVX512
      if (g.act == ACT_SILU)
        for (; i + 16 <= I; i += 16) {
          const __m512 x = _mm512_loadu_ps(p + i);
          _mm512_storeu_ps(o + i, _mm512_mul_ps(x, sigmoid16(x)));
        }
#endif
      for (; i < I; i++) o[i] = act_scalar(g.act, p[i]);
    } else if (g.kind == GATE_CONCAT) {
#if MK_AVX512
      if (g.act == ACT_SILU)
        for (; i + 16 <= I; i += 16) {
          const __m512 x = _mm512_loadu_ps(p + i);
          const __m512 u = _mm512_loadu_ps(p + I + i);
          _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_mul_ps(x, sigmoid16(x)), u));
        }
#endif
      for (; i < I; i++) o[i] = act_scalar(g.act, p[i]) * p[I + i];
    } else if (g.clamp) {
#if MK_AVX512
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
      const __m512 lim = _mm512_set1_ps(g.limit), nlim = _mm512_set1_ps(-g.limit), alpha = _mm512_set1_ps(g.alpha), one = _mm512_set1_ps(1.f);
      for (; i + 16 <= I; i += 16) {
        const __m512 a = _mm512_loadu_ps(p + 2 * i), b = _mm512_loadu_ps(p + 2 * i + 16);
        __m512 gg = _mm512_permutex2var_ps(a, even, b);
        __m512 uu = _mm512_permutex2var_ps(a, odd, b);
        gg = _mm512_min_ps(gg, lim);
        uu = _mm512_min_ps(_mm512_max_ps(uu, nlim), lim);
        _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_add_ps(uu, one), gg), sigmoid16(_mm512_mul_ps(alpha, gg))));
      }
#endif
      for (; i < I; i++) {
        float gg = std::min(p[2 * i], g.limit);
        float uu = std::min(std::max(p[2 * i + 1], -g.limit), g.limit);
        o[i] = (uu + 1.f) * gg * sigmoidf_(g.alpha * gg);
      }
    } else {
      for (; i < I; i++) o[i] = act_scalar(g.act, p[2 * i]) * p[2 * i + 1];
    }
  }
}

static const KernelTable table = {MK_NAME, NR, gemm_task, gemv_task, gate_rows};

}  // namespace MK_NS

const KernelTable* MK_GETTER() { return &MK_NS::table; }

}  // namespace moekit
