// The K-quant weights (q4_k, q6_k) in the int8 GEMM's lanes (gemm.h, gemm_avx512vnni.cc): a group of 16
// 32-value blocks is two super-blocks of 256. Both formats keep the one-lane-per-32-block layout of the legacy
// formats; what differs is the scale work per lane:
// - q4_k: codes 0..15 with no offset; lane scale d·sc_j, and a second float per lane, dmin·m_j, for the min
//   term −dmin·m_j·(d_a·Σq_a) (the prepared input carries d_a·Σq_a per block as a float).
// - q6_k: codes 0..63, offset 32; 16-value sub-blocks with their own int8 scale, so a lane holds two scales
//   (values 0..15 are code vectors 0..3, values 16..31 vectors 4..7) and the input two offset corrections
//   (−32·Σq of each half). Its lanes are not in block order: lane L holds block L with bits 0 and 1 swapped
//   (how the nibbles of ql come out of the transpose); the input is prepared in the same order.
// Included by gemm_avx512vnni.cc only (compiled with the VNNI kernel set's flags).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "blocks.h"

namespace moekit {
namespace quant {
namespace kq {

// A q6_k group's lane of block b (and the block of lane L: the swap is its own inverse).
constexpr int q6_lane(int b) { return (b & ~3) | (b & 1) << 1 | (b >> 1 & 1); }

// A 4 × 4 transpose of dwords within each 128-bit lane: dword k of a_m's lane i → lane 4i + m of T[k].
static inline void transpose_dwords4(__m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i T[4]) {
  const __m512i l01 = _mm512_unpacklo_epi32(a0, a1), h01 = _mm512_unpackhi_epi32(a0, a1);
  const __m512i l23 = _mm512_unpacklo_epi32(a2, a3), h23 = _mm512_unpackhi_epi32(a2, a3);
  T[0] = _mm512_unpacklo_epi64(l01, l23);
  T[1] = _mm512_unpackhi_epi64(l01, l23);
  T[2] = _mm512_unpacklo_epi64(h01, h23);
  T[3] = _mm512_unpackhi_epi64(h01, h23);
}

// 128 bytes at p0 and 128 at p1 as 16 sources of 16 bytes (source i: bytes 16·(i mod 8) of p0 for i < 8, of p1
// after) → T[k] lane i = dword k of source i: a 4 × 4 transpose of 128-bit lanes, then of dwords within them.
static inline void transpose_halves(const uint8_t* p0, const uint8_t* p1, __m512i T[4]) {
  const __m512i z0 = _mm512_loadu_si512(p0), z1 = _mm512_loadu_si512(p0 + 64);
  const __m512i z2 = _mm512_loadu_si512(p1), z3 = _mm512_loadu_si512(p1 + 64);
  const __m512i t0 = _mm512_shuffle_i32x4(z0, z1, 0x44), t1 = _mm512_shuffle_i32x4(z0, z1, 0xEE);
  const __m512i t2 = _mm512_shuffle_i32x4(z2, z3, 0x44), t3 = _mm512_shuffle_i32x4(z2, z3, 0xEE);
  // a_m: 128-bit lane q holds source 4q + m
  const __m512i a0 = _mm512_shuffle_i32x4(t0, t2, 0x88), a1 = _mm512_shuffle_i32x4(t0, t2, 0xDD);
  const __m512i a2 = _mm512_shuffle_i32x4(t1, t3, 0x88), a3 = _mm512_shuffle_i32x4(t1, t3, 0xDD);
  transpose_dwords4(a0, a1, a2, a3, T);
}

// Eight 32-byte chunks of nibbles (four at p0, four at p1) → W[k] (k < 8), lane 2c + h: nibble h (0 low, 1 high)
// of bytes 4k .. 4k + 3 of chunk c. Lanes 2c and 2c + 1 hold dwords 0..3 and 4..7 of chunk c after the
// transpose; one swap of neighbouring lanes gives each lane all eight, then a shift of 0 or 4 per lane.
static inline void nibbles16(const uint8_t* p0, const uint8_t* p1, __m512i W[8]) {
  __m512i T[4];
  transpose_halves(p0, p1, T);
  const __m512i m4 = _mm512_set1_epi8(15);
  const __m512i sh = _mm512_set_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0);
#pragma GCC unroll 4
  for (int k = 0; k < 4; k++) {
    const __m512i s = _mm512_shuffle_epi32(T[k], _MM_PERM_CDAB);
    const __m512i lo = _mm512_mask_blend_epi32(0xAAAA, T[k], s);  // dword k of the chunk in both lanes
    const __m512i hi = _mm512_mask_blend_epi32(0xAAAA, s, T[k]);  // dword 4 + k
    W[k] = _mm512_and_si512(_mm512_srlv_epi32(lo, sh), m4);
    W[4 + k] = _mm512_and_si512(_mm512_srlv_epi32(hi, sh), m4);
  }
}

// q4_k super-blocks b0, b1 → codes W (lane = block of the group), s0 = d·sc, s1 = dmin·m per lane.
static inline void decode_q4_k(const uint8_t* b0, const uint8_t* b1, __m512i W[8], __m512& s0, __m512& s1) {
  nibbles16(b0 + 16, b1 + 16, W);
  // the 12 scale bytes (blocks.h scale_min_k4) as three words: sc[0..3] = u0 & 63, m[0..3] = u1 & 63, sc[4..7] and
  // m[4..7] the nibbles of u2 with the top two bits of u0 / u1 above them; both super-blocks in one register
  // (through memory, 64-bit pieces would stall the store forwarding)
  const __m128i x0 = _mm_loadu_si128((const __m128i*)(b0 + 4)), x1 = _mm_loadu_si128((const __m128i*)(b1 + 4));
  const __m128i u01 = _mm_unpacklo_epi64(x0, x1);                                                   // u0, u1 of b0; u0, u1 of b1
  const __m128i u2 = _mm_srlv_epi32(_mm_shuffle_epi32(_mm_unpackhi_epi64(x0, x1), 0xA0), _mm_set_epi32(4, 0, 4, 0));  // u2, u2 >> 4 (each)
  const __m128i lo = _mm_and_si128(u01, _mm_set1_epi8(0x3f));                                        // sc[0..3], m[0..3] (each)
  const __m128i hi = _mm_or_si128(_mm_and_si128(u2, _mm_set1_epi8(0x0f)), _mm_and_si128(_mm_srli_epi32(u01, 2), _mm_set1_epi8(0x30)));
  const __m128i l = _mm_unpacklo_epi32(lo, hi), h = _mm_unpackhi_epi32(lo, hi);  // per super-block: sc[0..7], m[0..7]
  const __m512 scf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi64(l, h)));
  const __m512 mnf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi64(l, h)));
  // d, dmin of both: halves 0..3 → floats; lanes 0..7 take b0's, 8..15 b1's
  const __m512 f = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_unpacklo_epi32(_mm_loadu_si32(b0), _mm_loadu_si32(b1))));
  s0 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0), f), scf);
  s1 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), f), mnf);
}

// q6_k super-blocks b0, b1 → codes W (lane L: block q6_lane(L)), s0 / s1 = d·sc of the lane's values 0..15 / 16..31.
static inline void decode_q6_k(const uint8_t* b0, const uint8_t* b1, __m512i W[8], __m512& s0, __m512& s1) {
  // ql: chunk c = 4s + 2n + a (32 bytes at 64n + 32a of super-block s); its low nibbles are block 4n + a of
  // the super-block, its high nibbles block 4n + 2 + a: lane 2c + h holds block 8s + 4n + 2h + a.
  nibbles16(b0, b1, W);
  // qh: lane L's block j = 2h + a of half n takes bits 2j, 2j + 1 of qh[32n + l] (super-block s = L / 8,
  // n = L / 4 mod 2): dword k of qh chunk L / 4, shifted right by 4h + 2a.
  const __m512i q0 = _mm512_loadu_si512(b0 + 128), q1 = _mm512_loadu_si512(b1 + 128);
  const __m512i base = _mm512_set_epi32(24, 24, 24, 24, 16, 16, 16, 16, 8, 8, 8, 8, 0, 0, 0, 0);
  const __m512i sh = _mm512_set_epi32(6, 2, 4, 0, 6, 2, 4, 0, 6, 2, 4, 0, 6, 2, 4, 0);
  const __m512i m2 = _mm512_set1_epi8(0x30);
#pragma GCC unroll 8
  for (int k = 0; k < 8; k++) {
    const __m512i qh = _mm512_permutex2var_epi32(q0, _mm512_add_epi32(base, _mm512_set1_epi32(k)), q1);
    W[k] = _mm512_ternarylogic_epi32(W[k], _mm512_slli_epi32(_mm512_srlv_epi32(qh, sh), 4), m2, 0xF8);  // W | (x & m2)
  }
  // scales: block b of super-block s has sc[2·(b mod 8)] (values 0..15) and sc[2·(b mod 8) + 1]
  const __m512i e0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b0 + 192)));
  const __m512i e1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b1 + 192)));
  // lane L: 16 · (L / 8) + 2 · (q6_lane(L) mod 8)
  const __m512i ilo = _mm512_set_epi32(30, 26, 28, 24, 22, 18, 20, 16, 14, 10, 12, 8, 6, 2, 4, 0);
  const __m512i lo = _mm512_permutex2var_epi32(e0, ilo, e1);
  const __m512i hi = _mm512_permutex2var_epi32(e0, _mm512_add_epi32(ilo, _mm512_set1_epi32(1)), e1);
  const __m512 f = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_unpacklo_epi16(_mm_loadu_si16(b0 + 208), _mm_loadu_si16(b1 + 208))));
  const __m512 d = _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), f);
  s0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo));
  s1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi));
}

}  // namespace kq
}  // namespace quant
}  // namespace moekit
