// Quant kernel set template: included by one translation unit per instruction set, each compiled with
// its own flags (and -ffp-contract=off: the widening must round exactly like the host code, one float32
// operation at a time). QK_NS names the namespace, QK_NAME / QK_GETTER the set; QK_AVX512 (AVX-512
// F/BW/VL/DQ + VNNI) or QK_AVX2 (AVX2 + FMA + F16C) select the intrinsics (neither: portable C++).
//
// Dot products follow ggml's integer scheme: weight codes as unsigned bytes (the code offset folded in
// through the activation block sums) times int8 activations, summed exactly in int32 per block, then
// scaled in float32. The fragments: widen_impl.h, dot_scalar.h, dot_avx512.h, dot_avx2.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "quant.h"

#if QK_AVX512 || QK_AVX2
#include <immintrin.h>
#endif

namespace moekit {
namespace quant {
namespace QK_NS {

#include "widen_impl.h"

#if QK_AVX512 || QK_AVX2
static inline float fast_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// Q4_K's eight 6-bit scales and mins unpacked from their 12 bytes: bytes 0..7 the scales, 8..15 the mins.
static inline __m128i q4k_scales_mins(const uint8_t* s) {
  uint32_t a, b, c;
  std::memcpy(&a, s, 4);
  std::memcpy(&b, s + 4, 4);
  std::memcpy(&c, s + 8, 4);
  const uint32_t sc_hi = (c & 0x0F0F0F0Fu) | ((a >> 6) & 0x03030303u) << 4;
  const uint32_t m_hi = ((c >> 4) & 0x0F0F0F0Fu) | ((b >> 6) & 0x03030303u) << 4;
  return _mm_setr_epi32((int)(a & 0x3F3F3F3Fu), (int)sc_hi, (int)(b & 0x3F3F3F3Fu), (int)m_hi);
}
#if QK_AVX512
// q4k_scales_mins with vector ops: dwords a, b, c of the 12 bytes → (a & 0x3F, (c & 0x0F) | (a >> 6 & 3) << 4,
// b & 0x3F, (c >> 4 & 0x0F) | (b >> 6 & 3) << 4), bytewise (the 16-byte load reads 4 bytes past the 12: Q4_K's
// codes follow them in the block).
static inline __m128i q4k_scales_mins_v(const uint8_t* s) {
  const __m128i v = _mm_loadu_si128((const __m128i*)s);
  const __m128i acbc = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0));
  const __m128i aabb = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
  const __m128i lo = _mm_and_si128(_mm_srlv_epi32(acbc, _mm_setr_epi32(0, 0, 0, 4)), _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
  const __m128i hi = _mm_and_si128(_mm_srli_epi32(aabb, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
  return _mm_or_si128(lo, hi);
}
#endif

// Σ of the 32-bit products u·s of 32 unsigned bytes u and int8 s, in 8 lanes (pairs of products must fit
// int16: the callers' |u| ≤ 128 with s in −127..127, or u < 32).
static inline __m256i dot_u8s8(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)); }
static inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
}
// 32 bytes holding 16 where bit j of qh is set (byte j), else 0.
static inline __m256i fifth_bits(uint32_t qh) {
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
  const __m256i t = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf), bit);
  return _mm256_and_si256(_mm256_cmpeq_epi8(t, bit), _mm256_set1_epi8(16));
}
// Single blocks (those after a row's last whole group, which the SIMD kernels take in fours or eights), in
// vector registers: raw_dot32 / sdot_q8_0's exact integer sums, so the results do not change. Done one
// value at a time each cost as much as 20–45 blocks of the main loops (gpt-oss's rows of 90 blocks: 1.6× the
// time of rows of 88).
template <int FMT>
static inline int32_t block_dot32(const uint8_t* x, const int8_t* alo, const int8_t* ahi) {
  const __m128i t = _mm_loadu_si128((const __m128i*)(x + Offset32<FMT>::qs));
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256i u = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1), m4);  // first 16 codes, then the last
  if (FMT == Q5_0) {
    uint32_t qh;
    std::memcpy(&qh, x + 2, 4);
    u = _mm256_or_si256(u, fifth_bits(qh));
  }
  if (FMT == MXFP4) u = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kFp4Plus12)), u);
  const __m256i a = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)alo)), _mm_loadu_si128((const __m128i*)ahi), 1);
  return hsum_epi32(dot_u8s8(u, a));
}
static inline int32_t block_dot_q8_0(const uint8_t* x, const int8_t* a) {
  const __m256i w = _mm256_loadu_si256((const __m256i*)(x + 2)), s = _mm256_loadu_si256((const __m256i*)a);
  return hsum_epi32(dot_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(s, w)));  // |w| · (a · sign w)
}
#endif

#include "dot_scalar.h"
#if QK_AVX512
#include "dot_avx512.h"
#include "dot_mxfp4_vbmi.h"
#elif QK_AVX2
#include "dot_avx2.h"
#endif

template <float (*DOT)(const uint8_t*, const uint8_t*, int)>
static void rows(const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y) {
  for (int r = r0; r < r1; r++) y[r - r0] = DOT(w + (size_t)r * rb, act, K);
}

// VBMI: the AVX-512 set's "avx512vbmi" variant (mxfp4 on dot_mxfp4_vbmi.h's kernels).
template <bool VBMI = false>
static void dot_rows(int code, const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y) {
  switch (code) {
#if QK_AVX512  // rows four at a time, their final reductions side by side (finish4 in dot_avx512.h)
    case Q8_0: return dot_rows_q8_0(w, rb, r0, r1, K, act, y);
    case Q4_0: return dot_rows_offset32<Q4_0>(w, rb, r0, r1, K, act, y);
    case Q5_0: return dot_rows_offset32<Q5_0>(w, rb, r0, r1, K, act, y);
    case MXFP4: return VBMI ? dot_rows_mxfp4_vbmi(w, rb, r0, r1, K, act, y) : dot_rows_offset32<MXFP4>(w, rb, r0, r1, K, act, y);
#else
    case Q8_0: return rows<dot_q8_0>(w, rb, r0, r1, K, act, y);
    case Q4_0: return rows<dot_q4_0>(w, rb, r0, r1, K, act, y);
    case Q5_0: return rows<dot_q5_0>(w, rb, r0, r1, K, act, y);
    case MXFP4: return rows<dot_mxfp4>(w, rb, r0, r1, K, act, y);
#endif
    case Q4_K: return rows<dot_q4_k>(w, rb, r0, r1, K, act, y);
    case Q6_K: return rows<dot_q6_k>(w, rb, r0, r1, K, act, y);
    case FP8_B128: return rows<dot_fp8>(w, rb, r0, r1, K, act, y);
    default: return;
  }
}

// Rows [r0, r1) against M activation rows: ys[m][i] = row (r0 + i) · acts[m]. Where the set has a kernel
// for several rows (AVX-512: q8_0 and the Offset32 formats), each weight block is decoded once for up to
// four of them; otherwise (and for one row) dot_rows per activation row. The results are the same.
template <bool VBMI = false>
static void dot_rows_multi(int code, const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* const* acts, int M, float* const* ys) {
#if QK_AVX512
  using Multi = void (*)(const uint8_t*, const uint8_t* const*, int, float*);
  static const Multi q8[4] = {dot_q8_0_multi<1>, dot_q8_0_multi<2>, dot_q8_0_multi<3>, dot_q8_0_multi<4>};
  static const Multi q4[4] = {dot_offset32_multi<Q4_0, 1>, dot_offset32_multi<Q4_0, 2>, dot_offset32_multi<Q4_0, 3>, dot_offset32_multi<Q4_0, 4>};
  static const Multi q5[4] = {dot_offset32_multi<Q5_0, 1>, dot_offset32_multi<Q5_0, 2>, dot_offset32_multi<Q5_0, 3>, dot_offset32_multi<Q5_0, 4>};
  static const Multi fp4[4] = {dot_offset32_multi<MXFP4, 1>, dot_offset32_multi<MXFP4, 2>, dot_offset32_multi<MXFP4, 3>, dot_offset32_multi<MXFP4, 4>};
  static const Multi fp4v[4] = {dot_mxfp4_vbmi_multi<1>, dot_mxfp4_vbmi_multi<2>, dot_mxfp4_vbmi_multi<3>, dot_mxfp4_vbmi_multi<4>};
  const Multi* set = code == Q8_0 ? q8 : code == Q4_0 ? q4 : code == Q5_0 ? q5 : code == MXFP4 ? (VBMI ? fp4v : fp4) : nullptr;
  if (set && M > 1) {
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int mm = std::min(4, M - m0);
      float out[4];
      for (int r = r0; r < r1; r++) {
        set[mm - 1](w + (size_t)r * rb, acts + m0, K, out);
        for (int m = 0; m < mm; m++) ys[m0 + m][r - r0] = out[m];
      }
    }
    return;
  }
#endif
  for (int m = 0; m < M; m++) dot_rows<VBMI>(code, w, rb, r0, r1, K, acts[m], ys[m]);
}

}  // namespace QK_NS

const Kernels* QK_GETTER() {
  static const Kernels k = {QK_NAME, QK_NS::widen_f32, QK_NS::widen_bf16, QK_NS::dot_rows<>, QK_NS::dot_rows_multi<>};
  return &k;
}
#if QK_AVX512
const Kernels* QK_VBMI_GETTER() {
  static const Kernels k = {QK_VBMI_NAME, QK_NS::widen_f32, QK_NS::widen_bf16, QK_NS::dot_rows<true>, QK_NS::dot_rows_multi<true>};
  return &k;
}
#endif

}  // namespace quant
}  // namespace moekit
