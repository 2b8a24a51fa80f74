// Kernel set template: included by one translation unit per instruction set, each compiled with its
// own flags. MK_NS names the namespace; MK_AVX512 / MK_AVX2 select the intrinsics (none: portable C++).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

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
constexpr int KCE = 128;  // K block of the fused-epilogue kernels (A block and B panel both L1-resident)
constexpr int MC = MRMAX * 8;

// ---------------------------------------------------------------------------------------------
// B packing: weight rows [n, n + nr) (nr <= NR), columns [k0 + kb, k0 + ke) → Bp[k][NR], rows >= nr zero.
static inline size_t wrow(const int32_t* wmap, int n) { return wmap ? (size_t)wmap[n] : (size_t)n; }
// The weight row of a job's logical column n (every kernel reaches weights through this).
static inline const char* wp(const GemmJob& J, int n) { return wrow_ptr(J, wrow(J.wmap, n)); }
// 32-bit word i of a weight row (any alignment).
static inline uint32_t ld32(const char* p, size_t i) {
  uint32_t v;
  std::memcpy(&v, p + 4 * i, 4);
  return v;
}
static inline uint16_t ld16(const char* p, size_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return v;
}

static void pack_b_scalar(const GemmJob& J, int n, int nr, int k0, int kb, int ke, float* Bp) {
  const int dt = J.wdt;
  const size_t es = wbytes(dt);
  for (int j = 0; j < nr; j++) {
    const char* r = wp(J, n + j) + (size_t)k0 * es;
    if (dt == W_F32) {
      for (int k = kb; k < ke; k++) {
        float f;
        std::memcpy(&f, r + 4 * (size_t)k, 4);
        Bp[(size_t)k * NR + j] = f;
      }
    } else if (dt == W_BF16) {
      for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = bf16_to_f32(ld16(r, (size_t)k));
    } else {
      for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = f16_to_f32(ld16(r, (size_t)k));
    }
  }
  for (int j = nr; j < NR; j++)
    for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = 0.f;
}

#if MK_AVX512
// Weights streamed from memory are prefetched with the T1 hint: measured here (Zen 5), GEMV streams
// reach ~95% of the read bandwidth with it and ~80% with T0 (whose lines crowd L1 before their use).
static inline void pfw(const void* p) { _mm_prefetch((const char*)p, _MM_HINT_T1); }
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

// Sums of the 16 lanes of each of v0..v3, as [Σv0, Σv1, Σv2, Σv3] (13 shuffles and adds instead of 4 full reductions).
static inline __m128 reduce4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
  const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(u), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// pf > 0: also prefetch the same rows pf elements further (the next K block, streamed next).
static void pack_b(const GemmJob& J, int n, int nr, int k0, int kc, float* Bp, int pf = 0) {
  if (nr != NR) {
    pack_b_scalar(J, n, nr, k0, 0, kc, Bp);
    return;
  }
  const int dt = J.wdt;
  const size_t K = (size_t)J.K;
  const int kv = kc & ~15;
  const size_t es = wbytes(dt);
  const bool pfa = pf > 0 && (size_t)(k0 + kc + pf) <= K + (size_t)pf;
  for (int h = 0; h < 2; h++) {
    const char* rp[16];
    for (int i = 0; i < 16; i++) rp[i] = wp(J, n + h * 16 + i) + (size_t)k0 * es;
    for (int kk = 0; kk < kv; kk += 16) {
      __m512 r[16];
      if (pfa && (es == 4 || (kk & 31) == 0) && k0 + kk + pf < (int)K)
        for (int i = 0; i < 16; i++) pfw(rp[i] + (size_t)(kk + pf) * es);
      for (int i = 0; i < 16; i++) r[i] = load16_w(rp[i], dt, (size_t)kk);
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_store_ps(Bp + (size_t)(kk + t) * NR + h * 16, r[t]);
    }
  }
  if (kv < kc) pack_b_scalar(J, n, nr, k0, kv, kc, Bp);
}
#else
static void pack_b(const GemmJob& J, int n, int nr, int k0, int kc, float* Bp, int = 0) { pack_b_scalar(J, n, nr, k0, 0, kc, Bp); }
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
    for (int p = 0; p < npan; p++) pack_b(J, n0 + p * NR, std::min(NR, n1 - n0 - p * NR), k0, kc, blk + (size_t)p * NR * kc);
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
// GEMV: R weight rows × MM input rows, vectors along K, weights read in place. rp[r]: weight row r, np[r]:
// the row the next block reads in its place (prefetched past the end of rp[r]); yr[m][c + r] receives the
// sum (+ bv[r], the bias of weight row r, when bv is given).
#if MK_AVX512
template <int R, int MM>
static void gemv_block(const GemmJob& J, const char* const* rp, const char* const* np, int c, const float* const* xr, float* const* yr, const float* bv) {
  const size_t K = (size_t)J.K;
  __m512 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm512_setzero_ps();
  const size_t kv = K & ~(size_t)15;
  const size_t es = wbytes(J.wdt);
  // Weights stream from memory once: prefetch every cache line of every row 4 KiB ahead; past the
  // end of a row, the same distance into the row the next block reads (nb), so no row starts cold.
  const size_t pmask = es == 4 ? 15 : 31;
  const size_t dist = 4096 / es;
  for (size_t k = 0; k < kv; k += 16) {
    __m512 wv[R];
    if ((k & pmask) == 0) {
      if (k + dist < K)
        for (int r = 0; r < R; r++) pfw(rp[r] + (k + dist) * es);
      else
        for (int r = 0; r < R; r++) pfw(np[r] + (k + dist - K) * es);
    }
    for (int r = 0; r < R; r++) wv[r] = load16_w(rp[r], J.wdt, k);
    for (int m = 0; m < MM; m++) {
      const __m512 xv = _mm512_loadu_ps(xr[m] + k);
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  if (kv < K) {
    const __mmask16 mk = (__mmask16)((1u << (K - kv)) - 1);
    __m512 wv[R];
    for (int r = 0; r < R; r++) wv[r] = load16_w_mask(rp[r], J.wdt, kv, mk);
    for (int m = 0; m < MM; m++) {
      const __m512 xv = _mm512_maskz_loadu_ps(mk, xr[m] + kv);
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  if constexpr (R == 4) {
    const __m128 b = bv ? _mm_loadu_ps(bv) : _mm_setzero_ps();
    for (int m = 0; m < MM; m++) _mm_storeu_ps(yr[m] + c, _mm_add_ps(reduce4(acc[0][m], acc[1][m], acc[2][m], acc[3][m]), b));
    return;
  }
  for (int r = 0; r < R; r++) {
    const float b = bv ? bv[r] : 0.f;
    for (int m = 0; m < MM; m++) yr[m][c + r] = _mm512_reduce_add_ps(acc[r][m]) + b;
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
static void gemv_block(const GemmJob& J, const char* const* rp, const char* const*, int c, const float* const* xr, float* const* yr, const float* bv) {
  const size_t K = (size_t)J.K;
  __m256 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm256_setzero_ps();
  const size_t kv = K & ~(size_t)7;
  for (size_t k = 0; k < kv; k += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; r++) wv[r] = load8_w(rp[r], J.wdt, k);
    for (int m = 0; m < MM; m++) {
      const __m256 xv = _mm256_loadu_ps(xr[m] + k);
      for (int r = 0; r < R; r++) acc[r][m] = _mm256_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  for (int r = 0; r < R; r++) {
    const float b = bv ? bv[r] : 0.f;
    for (int m = 0; m < MM; m++) {
      float s = hsum8(acc[r][m]);
      for (size_t k = kv; k < K; k++) s += load_w(rp[r], J.wdt, k) * xr[m][k];
      yr[m][c + r] = s + b;
    }
  }
}
#else
template <int R, int MM>
static void gemv_block(const GemmJob& J, const char* const* rp, const char* const*, int c, const float* const* xr, float* const* yr, const float* bv) {
  const size_t K = (size_t)J.K;
  float acc[R][MM][4];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++)
      for (int l = 0; l < 4; l++) acc[r][m][l] = 0.f;
  const size_t kv = K & ~(size_t)3;
  for (size_t k = 0; k < kv; k += 4) {
    float wv[R][4];
    for (int r = 0; r < R; r++)
      for (int l = 0; l < 4; l++) wv[r][l] = load_w(rp[r], J.wdt, k + l);
    for (int m = 0; m < MM; m++)
      for (int r = 0; r < R; r++)
        for (int l = 0; l < 4; l++) acc[r][m][l] += wv[r][l] * xr[m][k + l];
  }
  for (int r = 0; r < R; r++) {
    const float b = bv ? bv[r] : 0.f;
    for (int m = 0; m < MM; m++) {
      float s = (acc[r][m][0] + acc[r][m][1]) + (acc[r][m][2] + acc[r][m][3]);
      for (size_t k = kv; k < K; k++) s += load_w(rp[r], J.wdt, k) * xr[m][k];
      yr[m][c + r] = s + b;
    }
  }
}
#endif

template <int R>
static void gemv_rows(const GemmJob& J, const char* const* rp, const char* const* np, int c, int mm, const float* const* xr, float* const* yr, const float* bv) {
  switch (mm) {
    case 1: return gemv_block<R, 1>(J, rp, np, c, xr, yr, bv);
    case 2: return gemv_block<R, 2>(J, rp, np, c, xr, yr, bv);
    case 3: return gemv_block<R, 3>(J, rp, np, c, xr, yr, bv);
#if MK_AVX512
    case 4: return gemv_block<R, 4>(J, rp, np, c, xr, yr, bv);
    case 5: return gemv_block<R, 5>(J, rp, np, c, xr, yr, bv);
    default: return gemv_block<R, 6>(J, rp, np, c, xr, yr, bv);
#else
    default: return gemv_block<R, 4>(J, rp, np, c, xr, yr, bv);
#endif
  }
}

#if MK_BF16
// bf16 compute with bf16 weights: R weight rows × MM bf16 input rows with vdpbf16ps, 32 k per step.
template <int R, int MM>
static void gemv_block_bf16(const GemmJob& J, const char* const* rp, const char* const* np, int c, const uint16_t* const* xr, float* const* yr) {
  const size_t K = (size_t)J.K;
  __m512 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm512_setzero_ps();
  const size_t kv = K & ~(size_t)31;
  constexpr size_t dist = 2048;  // elements: 4 KiB
  for (size_t k = 0; k < kv; k += 32) {
    if (k + dist < K)
      for (int r = 0; r < R; r++) pfw(rp[r] + 2 * (k + dist));
    else
      for (int r = 0; r < R; r++) pfw(np[r] + 2 * (k + dist - K));
    __m512bh wv[R];
    for (int r = 0; r < R; r++) wv[r] = (__m512bh)_mm512_loadu_si512((const void*)(rp[r] + 2 * k));
    for (int m = 0; m < MM; m++) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512((const void*)(xr[m] + k));
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_dpbf16_ps(acc[r][m], wv[r], xv);
    }
  }
  if (kv < K) {
    const __mmask32 mk = (__mmask32)((1ull << (K - kv)) - 1);
    __m512bh wv[R];
    for (int r = 0; r < R; r++) wv[r] = (__m512bh)_mm512_maskz_loadu_epi16(mk, rp[r] + 2 * kv);
    for (int m = 0; m < MM; m++) {
      const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mk, xr[m] + kv);
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_dpbf16_ps(acc[r][m], wv[r], xv);
    }
  }
  if constexpr (R == 4) {
    for (int m = 0; m < MM; m++) _mm_storeu_ps(yr[m] + c, reduce4(acc[0][m], acc[1][m], acc[2][m], acc[3][m]));
    return;
  }
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) yr[m][c + r] = _mm512_reduce_add_ps(acc[r][m]);
}
template <int R>
static void gemv_rows_bf16(const GemmJob& J, const char* const* rp, const char* const* np, int c, int mm, const uint16_t* const* xr, float* const* yr) {
  switch (mm) {
    case 1: return gemv_block_bf16<R, 1>(J, rp, np, c, xr, yr);
    case 2: return gemv_block_bf16<R, 2>(J, rp, np, c, xr, yr);
    case 3: return gemv_block_bf16<R, 3>(J, rp, np, c, xr, yr);
    case 4: return gemv_block_bf16<R, 4>(J, rp, np, c, xr, yr);
    case 5: return gemv_block_bf16<R, 5>(J, rp, np, c, xr, yr);
    default: return gemv_block_bf16<R, 6>(J, rp, np, c, xr, yr);
  }
}
#endif

#if MK_BF16
// float32 row → bfloat16 (round to nearest even), 16 lanes per instruction.
static inline void row_to_bf16(const float* x, size_t n, uint16_t* d) {
  size_t k = 0;
  for (; k + 16 <= n; k += 16) _mm256_storeu_si256((__m256i*)(d + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + k)));
  for (; k < n; k++) d[k] = f32_to_bf16(x[k]);
}
#endif

#if MK_AVX512
// ---- token-vectorized products (segments of 16+ rows): out^T = W · x^T with the tokens along the
// vector lanes. Each 32-bit word of a weight row — a (k, k+1) pair of bfloat16 values in bf16 compute
// (BF), a float otherwise — is broadcast straight from the row (weights read in place, no packing) and
// multiplied into 16 tokens' words of x^T (packed once per job): vdpbf16ps or a float32 FMA.

// 8 weight rows (w[r], read as 32-bit words) × NT·16 tokens of XT (row stride ld) over `steps` words → out[r][NT·16].
template <int NT, bool BF>
static void xt_block(const char* const* w, const uint32_t* XT, size_t ld, size_t steps, float* out) {
  __m512 acc[8][NT];
  for (int r = 0; r < 8; r++)
    for (int t = 0; t < NT; t++) acc[r][t] = _mm512_setzero_ps();
  for (size_t k = 0; k < steps; k++) {
    if ((k & 15) == 0)
      for (int r = 0; r < 8; r++) pfw(w[r] + 4 * (k + 256));  // 1 KiB ahead in each row (past its end: harmless)
    __m512i x[NT];
    for (int t = 0; t < NT; t++) x[t] = _mm512_load_si512((const void*)(XT + k * ld + 16 * t));
    for (int r = 0; r < 8; r++) {
      const __m512i b = _mm512_set1_epi32((int)ld32(w[r], k));
      for (int t = 0; t < NT; t++) {
#if MK_BF16
        if constexpr (BF) {
          acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)b, (__m512bh)x[t]);
          continue;
        }
#endif
        acc[r][t] = _mm512_fmadd_ps(_mm512_castsi512_ps(b), _mm512_castsi512_ps(x[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < 8; r++)
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + r * NT * 16 + 16 * t, acc[r][t]);
}

// job.xt (see GemmJob::xt) from the job's input rows: 32-bit words — (k, k+1) pairs of bfloat16 bits
// from job.xbf in bf16 compute, floats from job.x otherwise — in blocks of 16 tokens × 16 words
// transposed in registers; tokens past M are zero.
static void pack_xt(const GemmJob& J, uint32_t* XT) {
  const size_t K = (size_t)J.K, n = J.bf16dot ? K / 2 : K, ld = J.xt_ld;
  const uint32_t* rows[16];
  for (int m0 = 0; m0 < (int)ld; m0 += 16) {
    const int mm = std::max(0, std::min(16, J.M - m0));
    for (int i = 0; i < 16; i++) {
      rows[i] = nullptr;
      if (i >= mm) continue;
      const size_t row = J.xrows ? (size_t)J.xrows[m0 + i] : (size_t)(m0 + i);
      rows[i] = J.bf16dot ? (const uint32_t*)(J.xbf + row * K) : (const uint32_t*)(J.x + row * K);
    }
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = rows[i] ? _mm512_castsi512_ps(_mm512_loadu_si512((const void*)(rows[i] + k))) : _mm512_setzero_ps();
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_store_ps((float*)(XT + (k + t) * ld + m0), r[t]);
    }
    for (; k < n; k++)
      for (int i = 0; i < 16; i++) XT[k * ld + m0 + i] = rows[i] ? rows[i][k] : 0u;
  }
}
#endif

static void epilogue(const GemmJob& J, int row, int c0, int nc, const float* v);

// Rows [0, M) × logical columns [n0, n1) of a job, weights in place, weight-stationary: each block of 4
// weight rows is read from memory once and then serves every input row of the job (in groups of 6) from
// L1. With an epilogue the sums of at most 64 columns per row go through a row buffer first.
static void gemv_task(const GemmJob& J, int n0, int n1) {
  const bool epi = J.epi != EPI_NONE;
#if MK_AVX512
  constexpr int GMF = 6;
#else
  constexpr int GMF = 4;
#endif
  const int M = J.M;
  const size_t K = (size_t)J.K;
  thread_local std::vector<float> tmpv;
  thread_local std::vector<const float*> xrv;
  thread_local std::vector<float*> yrv;
  if (epi && tmpv.size() < (size_t)M * 64) tmpv.resize((size_t)M * 64);
  xrv.resize((size_t)M);
  yrv.resize((size_t)M);
  for (int m = 0; m < M; m++) {
    xrv[(size_t)m] = J.x + (J.xrows ? (size_t)J.xrows[m] : (size_t)m) * K;
    yrv[(size_t)m] = epi ? tmpv.data() + (size_t)m * 64 - n0 : J.y + (J.yrows ? (size_t)J.yrows[m] : (size_t)m) * J.ldy;
  }
#if MK_BF16
  const bool bfk = J.bf16dot && J.wdt == W_BF16 && epi;
  thread_local std::vector<uint16_t> xbuf;
  thread_local std::vector<const uint16_t*> xbv;
  if (bfk) {
    xbv.resize((size_t)M);
    if (J.xbf) {
      for (int m = 0; m < M; m++) xbv[(size_t)m] = J.xbf + (J.xrows ? (size_t)J.xrows[m] : (size_t)m) * K;
    } else {
      if (xbuf.size() < (size_t)M * (K + 32)) xbuf.resize((size_t)M * (K + 32));
      for (int m = 0; m < M; m++) {
        uint16_t* d = xbuf.data() + (size_t)m * (K + 32);
        row_to_bf16(xrv[(size_t)m], K, d);
        xbv[(size_t)m] = d;
      }
    }
  }
  const int gm = bfk ? 6 : GMF;
#else
  const int gm = GMF;
#endif
  const char* rp[4];
  const char* np[4];
  float bv[4];
  const bool bias = !epi && J.bias;  // (with an epilogue the bias is added there)
  auto next_rows = [&](int nn, int cnt) {
    for (int r = 0; r < cnt; r++) {
      int q = nn + r;
      if (q >= J.N) q = J.N - 1;
      np[r] = wp(J, q);
    }
  };
  auto block = [&](int n, int R, int ma) {
    for (int r = 0; r < R; r++) {
      rp[r] = wp(J, n + r);
      if (bias) bv[r] = load_w(J.bias, J.bdt, wrow(J.wmap, n + r));
    }
    next_rows(n + R, R);
    for (int m0 = ma; m0 < M; m0 += gm) {
      const int mm = std::min(gm, M - m0);
#if MK_BF16
      if (bfk) {
        if (R == 4) gemv_rows_bf16<4>(J, rp, np, n, mm, xbv.data() + m0, yrv.data() + m0);
        else gemv_rows_bf16<1>(J, rp, np, n, mm, xbv.data() + m0, yrv.data() + m0);
        continue;
      }
#endif
      if (R == 4) gemv_rows<4>(J, rp, np, n, mm, xrv.data() + m0, yrv.data() + m0, bias ? bv : nullptr);
      else gemv_rows<1>(J, rp, np, n, mm, xrv.data() + m0, yrv.data() + m0, bias ? bv : nullptr);
    }
  };
  int ma = 0;  // tokens [0, ma) done by the token-vectorized kernel
#if MK_AVX512
#if MK_BF16
  const bool xt_bf = J.bf16dot && J.wdt == W_BF16;
#else
  const bool xt_bf = false;  // (no bf16 dot products in this set: such jobs are never packed token-major)
#endif
  const bool xt_f32 = !J.bf16dot && J.wdt == W_F32;
  if (J.xt && M >= 16 && epi && (xt_bf || xt_f32)) {  // (bias: added by the epilogue)
    ma = M / 16 * 16;
    const size_t steps = xt_bf ? K / 2 : K;
    alignas(64) float out[8 * 32];
    int n = n0;
    for (; n + 8 <= n1; n += 8) {
      const char* w[8];
      for (int r = 0; r < 8; r++) w[r] = wp(J, n + r);
      for (int m0 = 0; m0 < ma;) {
        const int nt = ma - m0 >= 32 ? 2 : 1;
        auto block = nt == 2 ? (xt_bf ? xt_block<2, true> : xt_block<2, false>) : (xt_bf ? xt_block<1, true> : xt_block<1, false>);
        block(w, J.xt + m0, J.xt_ld, steps, out);
        for (int i = 0; i < 16 * nt; i++)
          for (int r = 0; r < 8; r++) yrv[(size_t)(m0 + i)][n + r] = out[r * 16 * nt + i];
        m0 += 16 * nt;
      }
    }
    // Columns left over (fewer than 8) for those tokens: the dot-product kernel.
    for (; n < n1; n++) {
      rp[0] = wp(J, n);
      next_rows(n + 1, 1);
      for (int m0 = 0; m0 < ma; m0 += gm) {
#if MK_BF16
        if (xt_bf) {
          gemv_rows_bf16<1>(J, rp, np, n, std::min(gm, ma - m0), xbv.data() + m0, yrv.data() + m0);
          continue;
        }
#endif
        gemv_rows<1>(J, rp, np, n, std::min(gm, ma - m0), xrv.data() + m0, yrv.data() + m0, nullptr);
      }
    }
  }
#endif
  if (ma < M) {
    int n = n0;
    for (; n + 4 <= n1; n += 4) block(n, 4, ma);
    for (; n < n1; n++) block(n, 1, ma);
  }
  if (epi)
    for (int m = 0; m < M; m++) epilogue(J, m, n0, n1 - n0, tmpv.data() + (size_t)m * 64);
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
// Each lane rounded to the nearest bfloat16 value (ties to even; NaN stays a quiet NaN), as f32_to_bf16.
static inline __m512 round16_bf16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  r = _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  r = _mm512_mask_mov_epi32(r, nan, _mm512_and_si512(_mm512_or_si512(u, _mm512_set1_epi32(0x00400000)), _mm512_set1_epi32((int)0xffff0000u)));
  return _mm512_castsi512_ps(r);
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

// ---------------------------------------------------------------------------------------------
// Epilogues of fused jobs: raw sums v[0, nc) of logical columns [c0, c0 + nc) of job row `row`
// (c0 a multiple of NR) become the job's output row.
static inline float bias_at(const GemmJob& J, int c) { return J.bias ? load_w(J.bias, J.bdt, wrow(J.wmap, c)) : 0.f; }

static void epilogue(const GemmJob& J, int row, int c0, int nc, const float* v) {
  float* y = J.y + (J.yrows ? (size_t)J.yrows[row] : (size_t)row) * J.ldy;
  const bool rnd = J.round_bf16 != 0;
  if (J.epi == EPI_SCALE || J.epi == EPI_STORE) {
    const float s = J.epi == EPI_SCALE ? J.rscale[row] : 1.f;
    int c = 0;
#if MK_AVX512
    if (!J.bias && !rnd && !J.wmap) {
      const __m512 sv = _mm512_set1_ps(s);
      for (; c + 16 <= nc; c += 16) _mm512_storeu_ps(y + c0 + c, _mm512_mul_ps(_mm512_loadu_ps(v + c), sv));
    }
#endif
    for (; c < nc; c++) {
      const float o = (v[c] + bias_at(J, c0 + c)) * s;
      y[c0 + c] = rnd ? round_bf16(o) : o;
    }
    return;
  }
  // EPI_GATE
  if (J.gkind == GATE_NONE) {
    uint16_t* ob = J.ybf ? J.ybf + (J.yrows ? (size_t)J.yrows[row] : (size_t)row) * J.ldy + c0 : nullptr;
    for (int c = 0; c < nc; c++) {
      const float o = act_scalar(J.gact, v[c] + bias_at(J, c0 + c));
      y[c0 + c] = rnd ? round_bf16(o) : o;
      if (ob) ob[c] = f32_to_bf16(y[c0 + c]);
    }
    return;
  }
  constexpr int HALF = NR / 2;
  for (int g0 = 0; g0 < nc; g0 += NR) {
    const int g = (c0 + g0) / NR;
    const int hg = std::min(HALF, J.ginter - g * HALF);
    alignas(64) float gt[HALF], up[HALF];
    float* o = y + (size_t)g * HALF;
    uint16_t* ob = J.ybf ? J.ybf + (J.yrows ? (size_t)J.yrows[row] : (size_t)row) * J.ldy + (size_t)g * HALF : nullptr;
    int i = 0;
#if MK_AVX512
    if (hg == 16 && (J.gclamp || J.gact == ACT_SILU)) {
      __m512 gv = _mm512_loadu_ps(v + g0), uv = _mm512_loadu_ps(v + g0 + 16);
      if (J.bias) {
        for (int j = 0; j < 16; j++) {
          gt[j] = bias_at(J, c0 + g0 + j);
          up[j] = bias_at(J, c0 + g0 + 16 + j);
        }
        gv = _mm512_add_ps(gv, _mm512_load_ps(gt));
        uv = _mm512_add_ps(uv, _mm512_load_ps(up));
      }
      __m512 r;
      if (J.gclamp) {
        const __m512 lim = _mm512_set1_ps(J.glimit);
        const __m512 gg = _mm512_min_ps(gv, lim);
        const __m512 uu = _mm512_min_ps(_mm512_max_ps(uv, _mm512_set1_ps(-J.glimit)), lim);
        r = _mm512_mul_ps(_mm512_mul_ps(_mm512_add_ps(uu, _mm512_set1_ps(1.f)), gg), sigmoid16(_mm512_mul_ps(_mm512_set1_ps(J.galpha), gg)));
      } else {
        r = _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid16(gv)), uv);
      }
      if (rnd) r = round16_bf16(r);
      _mm512_storeu_ps(o, r);
      if (ob) _mm256_storeu_si256((__m256i*)ob, _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(r), 16)));
      continue;
    }
#endif
    for (int j = 0; j < hg; j++) {
      gt[j] = v[g0 + j] + bias_at(J, c0 + g0 + j);
      up[j] = v[g0 + hg + j] + bias_at(J, c0 + g0 + hg + j);
    }
    for (; i < hg; i++) {
      float r;
      if (J.gclamp) {
        const float gg = std::min(gt[i], J.glimit);
        const float uu = std::min(std::max(up[i], -J.glimit), J.glimit);
        r = (uu + 1.f) * gg * sigmoidf_(J.galpha * gg);
      } else {
        r = act_scalar(J.gact, gt[i]) * up[i];
      }
      o[i] = rnd ? round_bf16(r) : r;
      if (ob) ob[i] = f32_to_bf16(o[i]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// bfloat16 dot-product kernels (AVX512_BF16): panels of (k, k+1) pairs, one 32-bit lane per pair.
#if MK_BF16
constexpr int KCB = 256;  // k elements per block (128 pairs)

static inline uint32_t pair_bf16(float lo, float hi) { return (uint32_t)f32_to_bf16(lo) | ((uint32_t)f32_to_bf16(hi) << 16); }

// A: rows [m0, m0 + mc) of the job, k in [k0, k0 + kc) → panels [kp][mr] of pairs (odd tail padded with 0).
static void pack_a_bf16(const GemmJob& J, int m0, int mc, int k0, int kc, uint32_t* Ap) {
  const int kp = (kc + 1) / 2;
  const float* src[MRMAX];
  for (int ip = 0; ip < mc; ip += MRMAX) {
    const int mr = std::min(MRMAX, mc - ip);
    uint32_t* dst = Ap + (size_t)ip * kp;
    for (int i = 0; i < mr; i++) {
      const int row = m0 + ip + i;
      const size_t xr = J.xrows ? (size_t)J.xrows[row] : (size_t)row;
      src[i] = J.x + xr * (size_t)J.K + k0;
    }
    const __mmask16 mk = (__mmask16)((1u << mr) - 1);
    int kb = 0;
    for (; kb + 32 <= kc; kb += 32) {
      __m512 r[16];
      for (int i = 0; i < 16; i++)
        r[i] = i < mr ? (__m512)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src[i] + kb + 16), _mm512_loadu_ps(src[i] + kb)) : _mm512_setzero_ps();
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_mask_storeu_ps((float*)(dst + (size_t)(kb / 2 + t) * mr), mk, r[t]);
    }
    for (int i = 0; i < mr; i++)
      for (int k = kb; k < kc; k += 2) dst[(size_t)(k / 2) * mr + i] = pair_bf16(src[i][k], k + 1 < kc ? src[i][k + 1] : 0.f);
  }
}

// B: logical columns [n, n + nr), k in [k0, k0 + kc) → [kp][NR] pairs, columns >= nr zero.
static void pack_b_bf16(const GemmJob& J, int n, int nr, int k0, int kc, uint32_t* Bp, int pf = 0) {
  const int kp = (kc + 1) / 2;
  int kb = 0;
  if (nr == NR && J.wdt == W_BF16) {
    for (int h = 0; h < 2; h++) {
      const char* rp[16];
      for (int i = 0; i < 16; i++) rp[i] = wp(J, n + h * 16 + i) + 2 * (size_t)k0;
      for (int kk = 0; kk + 32 <= kc; kk += 32) {
        __m512 r[16];
        if (pf > 0 && k0 + kk + pf < J.K)
          for (int i = 0; i < 16; i++) pfw(rp[i] + 2 * (size_t)(kk + pf));
        for (int i = 0; i < 16; i++) r[i] = _mm512_castsi512_ps(_mm512_loadu_si512((const void*)(rp[i] + 2 * (size_t)kk)));
        transpose16(r);
        for (int t = 0; t < 16; t++) _mm512_store_ps((float*)(Bp + (size_t)(kk / 2 + t) * NR + h * 16), r[t]);
      }
    }
    kb = kc & ~31;
  }
  for (int j = 0; j < NR; j++) {
    if (j >= nr) {
      for (int k = kb; k < kc; k += 2) Bp[(size_t)(k / 2) * NR + j] = 0u;
      continue;
    }
    const char* row = wp(J, n + j) + (size_t)k0 * wbytes(J.wdt);
    for (int k = kb; k < kc; k += 2) {
      const float lo = load_w(row, J.wdt, (size_t)k), hi = k + 1 < kc ? load_w(row, J.wdt, (size_t)k + 1) : 0.f;
      Bp[(size_t)(k / 2) * NR + j] = pair_bf16(lo, hi);
    }
  }
  (void)kp;
}

template <int MR>
static void ukernel_bf16(const uint32_t* __restrict A, const uint32_t* __restrict B, int kp, float* const* C, int nvalid, const float*, bool acc) {
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int k = 0; k < kp; k++) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512((const void*)(B + (size_t)k * NR));
    const __m512bh b1 = (__m512bh)_mm512_load_si512((const void*)(B + (size_t)k * NR + 16));
    for (int i = 0; i < MR; i++) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32((int)A[(size_t)k * MR + i]);
      c0[i] = _mm512_dpbf16_ps(c0[i], a, b0);
      c1[i] = _mm512_dpbf16_ps(c1[i], a, b1);
    }
  }
  const __mmask16 m0 = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
  const __mmask16 m1 = nvalid >= 32 ? (__mmask16)0xffff : nvalid <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nvalid - 16)) - 1);
  for (int i = 0; i < MR; i++) {
    float* c = C[i];
    if (acc) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, c0[i]);
    _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
  }
}
template <int MR>
static void ukernel_bf16_dispatch(int mr, const uint32_t* A, const uint32_t* B, int kp, float* const* C, int nvalid, const float* bias, bool acc) {
  if constexpr (MR > 0) {
    if (mr == MR) return ukernel_bf16<MR>(A, B, kp, C, nvalid, bias, acc);
    return ukernel_bf16_dispatch<MR - 1>(mr, A, B, kp, C, nvalid, bias, acc);
  }
}
#endif

// Packed product with an epilogue. Two schedules:
// - M <= MS (the usual expert segment): A is packed once for all of K (L2-resident), then each
//   NR-wide weight panel is packed block by block right before use (L1) and read from memory once;
//   the C tile (M × NR) stays in L1 until its epilogue.
// - larger M: the weight tile is packed once for all of K, rows run in blocks of MC (as gemm_task).
template <bool BF>
static void gemm_epi_impl(const GemmJob& J, int n0, int n1, Scratch& S) {
#if MK_BF16
  constexpr int KB = BF ? KCB : KCE;
  using AT = typename std::conditional<BF, uint32_t, float>::type;
#else
  static_assert(!BF, "bf16 kernels need MK_BF16");
  constexpr int KB = KCE;
  using AT = float;
#endif
  auto units = [](int kc) { return BF ? (kc + 1) / 2 : kc; };
  const int K = J.K, M = J.M;
  const size_t Ku = (size_t)units(K);  // A/B elements along all of K (k0 is a multiple of KB, even)
  auto packA = [&](int m0, int mc, int k0, int kc, AT* dst) {
#if MK_BF16
    if constexpr (BF) return pack_a_bf16(J, m0, mc, k0, kc, dst);
    else
#endif
      return pack_a(J, m0, mc, k0, kc, (float*)dst);
  };
  auto packB = [&](int n, int nr, int k0, int kc, AT* dst, int pf) {
#if MK_BF16
    if constexpr (BF) return pack_b_bf16(J, n, nr, k0, kc, dst, pf);
    else
#endif
      return pack_b(J, n, nr, k0, kc, (float*)dst, pf);
  };
  auto ukern = [&](int mr, const AT* A, const AT* B, int kc, float* const* C, int nvalid, bool acc) {
#if MK_BF16
    if constexpr (BF) return ukernel_bf16_dispatch<MRMAX>(mr, A, B, units(kc), C, nvalid, nullptr, acc);
    else
#endif
      return ukernel_dispatch_impl<MRMAX>(mr, (const float*)A, (const float*)B, kc, C, nvalid, nullptr, acc);
  };
  float* crow[MRMAX];
  const int ms = std::max(MRMAX, (int)std::min<size_t>(12 * MRMAX, (size_t)(640 * 1024 / 4) / std::max<size_t>(1, Ku)) / MRMAX * MRMAX);
  if (M <= ms) {
    AT* Ap = (AT*)S.need_a((size_t)M * Ku);
    for (int k0 = 0; k0 < K; k0 += KB) packA(0, M, k0, std::min(KB, K - k0), Ap + (size_t)units(k0) * M);
    AT* Bp = (AT*)S.need_b((size_t)NR * units(KB));
    float* P = S.need_p((size_t)M * NR);
    for (int p0 = n0; p0 < n1; p0 += NR) {
      const int nvalid = std::min(NR, n1 - p0);
      for (int k0 = 0; k0 < K; k0 += KB) {
        const int kc = std::min(KB, K - k0);
        packB(p0, nvalid, k0, kc, Bp, KB);
        const AT* ab = Ap + (size_t)units(k0) * M;
        for (int ip = 0; ip < M; ip += MRMAX) {
          const int mr = std::min(MRMAX, M - ip);
          for (int i = 0; i < mr; i++) crow[i] = P + (size_t)(ip + i) * NR;
          ukern(mr, ab + (size_t)ip * units(kc), Bp, kc, crow, nvalid, k0 > 0);
        }
      }
      for (int m = 0; m < M; m++) epilogue(J, m, p0, nvalid, P + (size_t)m * NR);
    }
    return;
  }
  const int npan = (n1 - n0 + NR - 1) / NR;
  const size_t ld = (size_t)npan * NR;
  AT* Bp = (AT*)S.need_b(ld * Ku);
  for (int k0 = 0; k0 < K; k0 += KB) {
    const int kc = std::min(KB, K - k0);
    AT* blk = Bp + (size_t)units(k0) * ld;
    for (int p = 0; p < npan; p++) packB(n0 + p * NR, std::min(NR, n1 - n0 - p * NR), k0, kc, blk + (size_t)p * NR * units(kc), 0);
  }
  AT* Ap = (AT*)S.need_a((size_t)MC * units(KB));
  float* P = S.need_p((size_t)MC * ld);
  for (int m0 = 0; m0 < M; m0 += MC) {
    const int mc = std::min(MC, M - m0);
    for (int k0 = 0; k0 < K; k0 += KB) {
      const int kc = std::min(KB, K - k0);
      const AT* blk = Bp + (size_t)units(k0) * ld;
      packA(m0, mc, k0, kc, Ap);
      for (int p = 0; p < npan; p++) {
        const int nvalid = std::min(NR, n1 - n0 - p * NR);
        for (int ip = 0; ip < mc; ip += MRMAX) {
          const int mr = std::min(MRMAX, mc - ip);
          for (int i = 0; i < mr; i++) crow[i] = P + (size_t)(ip + i) * ld + (size_t)p * NR;
          ukern(mr, Ap + (size_t)ip * units(kc), blk + (size_t)p * NR * units(kc), kc, crow, nvalid, k0 > 0);
        }
      }
    }
    for (int i = 0; i < mc; i++)
      for (int p = 0; p < npan; p++) epilogue(J, m0 + i, n0 + p * NR, std::min(NR, n1 - n0 - p * NR), P + (size_t)i * ld + (size_t)p * NR);
  }
}

static void gemm_epi_task(const GemmJob& J, int n0, int n1, Scratch& S) { gemm_epi_impl<false>(J, n0, n1, S); }
#if MK_BF16
static void gemm_epi_bf16_task(const GemmJob& J, int n0, int n1, Scratch& S) { gemm_epi_impl<true>(J, n0, n1, S); }
#endif

#include "layers_impl.h"

#if MK_BF16
static const KernelTable table = {MK_NAME, NR, gemm_task, gemv_task, gate_rows, gemm_epi_task, gemm_epi_bf16_task,
                                  attention_rows, rms_norm_rows, layer_norm_rows, softmax_rows, rope_rows, pack_xt};
#elif MK_AVX512
static const KernelTable table = {MK_NAME, NR, gemm_task, gemv_task, gate_rows, gemm_epi_task, nullptr,
                                  attention_rows, rms_norm_rows, layer_norm_rows, softmax_rows, rope_rows, pack_xt};
#else
static const KernelTable table = {MK_NAME, NR, gemm_task, gemv_task, gate_rows, gemm_epi_task, nullptr,
                                  attention_rows, rms_norm_rows, layer_norm_rows, softmax_rows, rope_rows, nullptr};
#endif

}  // namespace MK_NS

const KernelTable* MK_GETTER() { return &MK_NS::table; }

}  // namespace moekit
