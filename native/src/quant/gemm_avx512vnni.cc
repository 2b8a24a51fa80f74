// The int8 GEMM (gemm.h) on AVX-512 VNNI: a tile of RT weight rows × CT input rows keeps RT·CT float32
// accumulators in registers. Per group of four 32-blocks, each weight row is decoded once into two
// registers of unsigned codes (the blocks' first 16 values, then their last 16: the x4 order of the
// prepared inputs) and its four block scales, then for every input row: two vpdpbusd starting from the
// input's offset correction give the four exact block sums (four lanes each), one multiply makes the
// block scales (weight · input) and one FMA adds the scaled sums. Compiled with the VNNI kernel set's flags.
#include "gemm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "blocks.h"
#include "quant.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace moekit {
namespace quant {
namespace {

constexpr int RT = 2;  // weight rows per tile
constexpr int CT = 8;  // input rows per tile
constexpr int GROUP_BYTES = 256;
static_assert(RT == 2, "tile_fmt lists the micro-kernels of 1 and 2 weight rows");

// Block layout of the supported formats: bytes per block, first code byte, code offset.
template <int FMT>
struct Fmt {
  static constexpr int bytes = FMT == Q8_0 ? 34 : FMT == Q4_0 ? 18 : FMT == Q5_0 ? 22 : 17;
  static constexpr int qs = FMT == Q8_0 ? 2 : FMT == Q4_0 ? 2 : FMT == Q5_0 ? 6 : 1;
  static constexpr int offset = FMT == Q8_0 ? 128 : FMT == Q4_0 ? 8 : FMT == Q5_0 ? 16 : 12;
};

int offset_of(int code) {
  switch (code) {
    case Q8_0: return Fmt<Q8_0>::offset;
    case Q4_0: return Fmt<Q4_0>::offset;
    case Q5_0: return Fmt<Q5_0>::offset;
    case MXFP4: return Fmt<MXFP4>::offset;
    default: return -1;
  }
}

bool supports(int code) { return offset_of(code) >= 0; }

size_t act_bytes(int K) { return (size_t)((K / 32 + 3) / 4) * GROUP_BYTES; }

void prepare(int code, const float* x, int K, uint8_t* out) {
  const int nb = K / 32, ng = (nb + 3) / 4;
  const int off4 = offset_of(code) / 4;
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int g = 0; g < ng; g++) {
    uint8_t* o = out + (size_t)g * GROUP_BYTES;
    float* sc = (float*)(o + 128);
    int32_t* co = (int32_t*)(o + 192);
    for (int i = 0; i < 4; i++) {
      const int b = 4 * g + i;
      __m128i q0 = _mm_setzero_si128(), q1 = _mm_setzero_si128();
      float d = 0.f;
      int32_t sum = 0;
      if (b < nb) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        // non-finite (NaN or ±inf): d NaN, codes zero (quantize_act's rule)
        if (_mm512_fpclass_ps_mask(v0, 0x99) | _mm512_fpclass_ps_mask(v1, 0x99)) {
          d = NAN;
        } else {
          const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(v0, absmask), _mm512_and_ps(v1, absmask)));
          d = amax / 127.f;
          const __m512 id = _mm512_set1_ps(d > 0.f ? 1.f / d : 0.f);
          // nearest even (the default rounding mode), as nearbyint in quantize_act
          const __m512i i0 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_mul_ps(v0, id))));
          const __m512i i1 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_mul_ps(v1, id))));
          sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
          q0 = _mm512_cvtepi32_epi8(i0);
          q1 = _mm512_cvtepi32_epi8(i1);
        }
      }
      _mm_storeu_si128((__m128i*)(o + 16 * i), q0);
      _mm_storeu_si128((__m128i*)(o + 64 + 16 * i), q1);
      for (int l = 0; l < 4; l++) {
        sc[4 * i + l] = d;
        co[4 * i + l] = -off4 * sum;
      }
    }
  }
}

// 16 bytes at p, p + stride, p + 2·stride, p + 3·stride in one register.
static inline __m512i load4x16(const uint8_t* p, int stride) {
  __m512i t = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i*)p));
  t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(p + stride)), 1);
  t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(p + 2 * stride)), 2);
  return _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(p + 3 * stride)), 3);
}

static inline uint64_t load_u16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// Four whole blocks at xb → unsigned codes (first / last 16 values of each block) and the block scales
// spread over four lanes each.
template <int FMT>
static inline void decode4(const uint8_t* xb, __m512i& lo, __m512i& hi, __m512& wd) {
  using F = Fmt<FMT>;
  const __m512i quad = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  if (FMT == Q8_0) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);  // int8 w → w + 128
    lo = _mm512_xor_si512(load4x16(xb + 2, F::bytes), flip);
    hi = _mm512_xor_si512(load4x16(xb + 18, F::bytes), flip);
  } else {
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i t = load4x16(xb + F::qs, F::bytes);
    lo = _mm512_and_si512(t, m4);
    hi = _mm512_and_si512(_mm512_srli_epi16(t, 4), m4);
    if (FMT == MXFP4) {
      const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)kFp4Plus12));
      lo = _mm512_shuffle_epi8(lut, lo);
      hi = _mm512_shuffle_epi8(lut, hi);
    }
    if (FMT == Q5_0) {  // fifth bits: bit j of qh for value j, bit j + 16 for value j + 16
      uint64_t mlo = 0, mhi = 0;
      for (int r = 0; r < 4; r++) {
        uint32_t qh;
        std::memcpy(&qh, xb + r * F::bytes + 2, 4);
        mlo |= (uint64_t)(qh & 0xFFFF) << (16 * r);
        mhi |= (uint64_t)(qh >> 16) << (16 * r);
      }
      const __m512i sixteen = _mm512_set1_epi8(16);
      lo = _mm512_mask_add_epi8(lo, (__mmask64)mlo, lo, sixteen);
      hi = _mm512_mask_add_epi8(hi, (__mmask64)mhi, hi, sixteen);
    }
  }
  __m128 d;
  if (FMT == MXFP4) {  // e8m0_half: 2^(e − 128); e < 2 the float32 subnormals
    const uint32_t e4 = (uint32_t)xb[0] | (uint32_t)xb[F::bytes] << 8 | (uint32_t)xb[2 * F::bytes] << 16 | (uint32_t)xb[3 * F::bytes] << 24;
    const __m128i e = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)e4));
    const __m128i normal = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
    const __m128i tiny = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);
    d = _mm_castsi128_ps(_mm_mask_blend_epi32(_mm_cmplt_epi32_mask(e, _mm_set1_epi32(2)), normal, tiny));
  } else {
    const uint64_t h = load_u16(xb) | load_u16(xb + F::bytes) << 16 | load_u16(xb + 2 * F::bytes) << 32 | load_u16(xb + 3 * F::bytes) << 48;
    d = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)h));
  }
  wd = _mm512_permutexvar_ps(quad, _mm512_castps128_ps512(d));
}

// Group g of a weight row of nb blocks; the last group, when the row has fewer blocks, reads its blocks from
// a zero-filled copy (codes and scales 0: they meet zero inputs, so they add nothing).
template <int FMT>
__attribute__((noinline)) static void decode_partial(const uint8_t* row, int g, int nb, __m512i& lo, __m512i& hi, __m512& wd) {
  using F = Fmt<FMT>;
  const uint8_t* xb = row + (size_t)4 * g * F::bytes;
  alignas(64) uint8_t tmp[4 * F::bytes + 16] = {};
  std::memcpy(tmp, xb, (size_t)(nb - 4 * g) * F::bytes);
  if (FMT == MXFP4)
    for (int i = nb - 4 * g; i < 4; i++) tmp[i * F::bytes] = 2;  // finite scale for the empty blocks
  decode4<FMT>(tmp, lo, hi, wd);
}
template <int FMT>
static inline void decode_group(const uint8_t* row, int g, int nb, __m512i& lo, __m512i& hi, __m512& wd) {
  if (__builtin_expect(4 * g + 4 <= nb, 1)) return decode4<FMT>(row + (size_t)4 * g * Fmt<FMT>::bytes, lo, hi, wd);
  decode_partial<FMT>(row, g, nb, lo, hi, wd);
}

template <int FMT, int R, int C>
static void micro(const uint8_t* const* w, const uint8_t* act, size_t ab, int K, float* y, size_t ldy) {
  const int nb = K / 32, ng = (nb + 3) / 4;
  __m512 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
  for (int g = 0; g < ng; g++) {
    __m512i lo[R], hi[R];
    __m512 wd[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) decode_group<FMT>(w[r], g, nb, lo[r], hi[r], wd[r]);
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) {
      const uint8_t* a = act + (size_t)c * ab + (size_t)g * GROUP_BYTES;
      const __m512i alo = _mm512_loadu_si512(a), ahi = _mm512_loadu_si512(a + 64);
      const __m512 as = _mm512_loadu_ps((const float*)(a + 128));
      const __m512i co = _mm512_loadu_si512(a + 192);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(co, lo[r], alo), hi[r], ahi);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(wd[r], as), acc[r][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; c++)
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) y[(size_t)c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
}

using MicroFn = void (*)(const uint8_t* const*, const uint8_t*, size_t, int, float*, size_t);

template <int FMT, int R, int... Cs>
static constexpr std::array<MicroFn, sizeof...(Cs)> row_of(std::integer_sequence<int, Cs...>) {
  return {&micro<FMT, R, Cs + 1>...};
}

template <int FMT>
static void tile_fmt(const uint8_t* const* w, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy) {
  static const std::array<MicroFn, CT> by_c[RT] = {row_of<FMT, 1>(std::make_integer_sequence<int, CT>{}),
                                                   row_of<FMT, 2>(std::make_integer_sequence<int, CT>{})};
  for (int m0 = 0; m0 < nm; m0 += CT) {
    const int cm = std::min(CT, nm - m0);
    for (int r0 = 0; r0 < nr; r0 += RT) {
      const int rr = std::min(RT, nr - r0);
      by_c[rr - 1][cm - 1](w + r0, act + (size_t)m0 * ab, ab, K, y + (size_t)m0 * ldy + r0, ldy);
    }
  }
}

void tile(int code, const uint8_t* const* w, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy) {
  switch (code) {
    case Q8_0: return tile_fmt<Q8_0>(w, nr, act, ab, nm, K, y, ldy);
    case Q4_0: return tile_fmt<Q4_0>(w, nr, act, ab, nm, K, y, ldy);
    case Q5_0: return tile_fmt<Q5_0>(w, nr, act, ab, nm, K, y, ldy);
    case MXFP4: return tile_fmt<MXFP4>(w, nr, act, ab, nm, K, y, ldy);
    default: return;
  }
}

}  // namespace

const GemmKernels* gemm_avx512vnni() {
  static const GemmKernels k = {"avx512vnni", supports, act_bytes, prepare, tile};
  return &k;
}

}  // namespace quant
}  // namespace moekit
#endif
