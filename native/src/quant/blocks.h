// Block layouts and scalar decoding helpers shared by every quant kernel set. Byte offsets follow
// ggml's structs: block_q8_0 {d, qs[32]}, block_q4_0 {d, qs[16]}, block_q5_0 {d, qh[4], qs[16]},
// block_q4_K {d, dmin, scales[12], qs[128]}, block_q6_K {ql[128], qh[64], scales[16], d},
// block_mxfp4 {e, qs[16]}; fp8_e4m3_b128 is {float scale, e4m3 qs[128]}.
#pragma once
#include <cstdint>
#include <cstring>

#include "quant.h"

namespace moekit {
namespace quant {

constexpr int Q8_0_BYTES = 34, Q4_0_BYTES = 18, Q5_0_BYTES = 22, MXFP4_BYTES = 17;
constexpr int Q4_K_BYTES = 144, Q6_K_BYTES = 210, FP8_BYTES = 132;

static inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// IEEE half → float32, exact (subnormals, infinities and NaN payloads kept).
static inline float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | mant << 13);
  if (exp != 0) return bits_to_float(sign | (exp + 112) << 23 | mant << 13);
  // zero or subnormal: mant · 2^-24, exact in float32
  const float m = (float)mant * 5.9604644775390625e-8f;
  return sign ? -m : m;
}
static inline float load_half(const uint8_t* p) { return half_to_float((uint16_t)(p[0] | p[1] << 8)); }

// ggml's e8m0 exponent → float32 with the FP4 halving folded in: 2^(e − 128) (e < 2: float32 subnormals).
static inline float e8m0_half(uint8_t e) { return bits_to_float(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23); }

// e2m1 codes as ggml's doubled integers, and the same plus 12 (unsigned, for u8 × s8 dot products).
static const int8_t kFp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
static const uint8_t kFp4Plus12[16] = {12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};

// Q4_K: the 6-bit scale and min of sub-block j from the 12 packed scale bytes.
static inline void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// e4m3 (float8_e4m3fn) → float32, exact: the code as half bits (<< 7 places exponent and mantissa; the
// bias differs by 8, so the half value is the e4m3 value · 2^-8, subnormals included), times 256.
// Code S.1111.111 (NaN) comes out as ±480: moekit's converters reject those codes.
static inline float e4m3_to_float(uint8_t c) {
  const uint16_t h = (uint16_t)(((c & 0x80) << 8) | ((c & 0x7f) << 7));
  return half_to_float(h) * 256.0f;
}

// Prepared activation rows (ActKind in quant.h).
struct Act32 {
  const int8_t* q;
  const float* d;
  const int32_t* s;
  Act32(const uint8_t* a, int K) : q((const int8_t*)a), d((const float*)(a + K)), s((const int32_t*)(a + K + 4 * (size_t)(K / 32))) {}
};
struct Act256 {
  const int8_t* q;
  const float* d;
  const int16_t* bsum;
  Act256(const uint8_t* a, int K) : q((const int8_t*)a), d((const float*)(a + K)), bsum((const int16_t*)(a + K + 4 * (size_t)(K / 256))) {}
};
// A8_32X4: positions in q of block b's first and second 16 values (nb blocks in the row).
static inline int x4_lo(int nb, int b) { return b < (nb & ~3) ? 128 * (b >> 2) + 16 * (b & 3) : 32 * b; }
static inline int x4_hi(int nb, int b) { return b < (nb & ~3) ? 128 * (b >> 2) + 64 + 16 * (b & 3) : 32 * b + 16; }

// The 32-value formats whose codes are unsigned u with value (u − offset)·scale: q4_0, q5_0, mxfp4
// (its codes mapped through kFp4Plus12).
template <int FMT>
struct Offset32 {
  static constexpr int bytes = FMT == Q4_0 ? 18 : FMT == Q5_0 ? 22 : 17;
  static constexpr int qs = FMT == Q4_0 ? 2 : FMT == Q5_0 ? 6 : 1;  // first byte of the nibbles
  static constexpr int offset = FMT == Q4_0 ? 8 : FMT == Q5_0 ? 16 : 12;
};

// float32 → bfloat16 bits, round to nearest even (NaN kept quiet).
static inline uint16_t to_bf16(float f) {
  const uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace quant
}  // namespace moekit
