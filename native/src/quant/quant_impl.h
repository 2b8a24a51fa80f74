// Quant kernel set template: included by one translation unit per instruction set, each compiled with
// its own flags (and -ffp-contract=off: the widening must round exactly like the host code, one float32
// operation at a time). QK_NS names the namespace, QK_GETTER the accessor; QK_AVX512 (AVX-512 F/BW/VL/DQ
// + VNNI) / QK_AVX2 (AVX2 + FMA + F16C) select the intrinsics (none: portable C++).
//
// Dot products follow ggml's integer scheme: weight codes as unsigned bytes (offset-free codes − offset,
// the offset folded in through the activation block sums) times int8 activations, summed exactly in
// int32 per block (vpdpbusd on AVX-512 VNNI, vpmaddubsw + vpmaddwd on AVX2), then scaled in float32.
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

// ---------------------------------------------------------------------------------------------
// Widening (portable code: each translation unit's flags let the compiler vectorize it). The float32
// operations and their order are gguf-py's (src/formats/quant/*.ts).

static void widen_q8_0(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q8_0_BYTES, out += 32) {
    const float d = load_half(b);
    for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)b[2 + j] * d;
  }
}

static void widen_q4_0(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q4_0_BYTES, out += 32) {
    const float d = load_half(b);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)((b[2 + j] & 15) - 8) * d;
      out[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
    }
  }
}

static void widen_q5_0(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q5_0_BYTES, out += 32) {
    const float d = load_half(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)((int)((b[6 + j] & 15) | ((qh >> j) & 1) << 4) - 16) * d;
      out[j + 16] = (float)((int)((b[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16) * d;
    }
  }
}

static void widen_mxfp4(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += MXFP4_BYTES, out += 32) {
    const float d = e8m0_half(b[0]);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)kFp4[b[1 + j] & 15] * d;
      out[j + 16] = (float)kFp4[b[1 + j] >> 4] * d;
    }
  }
}

static void widen_q4_k(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q4_K_BYTES) {
    const float d = load_half(b), dmin = load_half(b + 2);
    for (int c = 0; c < 4; c++, out += 64) {
      int sc0, m0, sc1, m1;
      scale_min_k4(2 * c, b + 4, sc0, m0);
      scale_min_k4(2 * c + 1, b + 4, sc1, m1);
      const float d0 = d * (float)sc0, dm0 = dmin * (float)m0, d1 = d * (float)sc1, dm1 = dmin * (float)m1;
      const uint8_t* q = b + 16 + 32 * c;
      for (int l = 0; l < 32; l++) {
        out[l] = d0 * (float)(q[l] & 15) - dm0;
        out[32 + l] = d1 * (float)(q[l] >> 4) - dm1;
      }
    }
  }
}

static void widen_q6_k(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q6_K_BYTES) {
    const float d = load_half(b + 208);
    float ds[16];
    for (int s = 0; s < 16; s++) ds[s] = d * (float)(int8_t)b[192 + s];
    for (int h = 0; h < 2; h++, out += 128) {
      const uint8_t* ql = b + 64 * h;
      const uint8_t* qh = b + 128 + 32 * h;
      for (int l = 0; l < 32; l++) {
        const int s = 8 * h + l / 16;
        out[l] = ds[s] * (float)(((ql[l] & 15) | (qh[l] & 3) << 4) - 32);
        out[32 + l] = ds[s + 2] * (float)(((ql[32 + l] & 15) | ((qh[l] >> 2) & 3) << 4) - 32);
        out[64 + l] = ds[s + 4] * (float)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
        out[96 + l] = ds[s + 6] * (float)(((ql[32 + l] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
      }
    }
  }
}

struct E4m3Table {
  float v[256];
  E4m3Table() {
    for (int c = 0; c < 256; c++) v[c] = (c & 0x7f) == 0x7f ? NAN : e4m3_to_float((uint8_t)c);
  }
};

static void widen_fp8(const uint8_t* b, int nb, float* out) {
  static const E4m3Table t;
  for (int i = 0; i < nb; i++, b += FP8_BYTES, out += 128) {
    float s;
    std::memcpy(&s, b, 4);
    for (int j = 0; j < 128; j++) out[j] = t.v[b[4 + j]] * s;
  }
}

static void widen_f32(int code, const uint8_t* row, int k0, int n, float* out) {
  const FormatInfo* f = format_info(code);
  if (!f || n <= 0) return;
  const uint8_t* b = row + (size_t)(k0 / f->block_elems) * f->block_bytes;
  const int nb = n / f->block_elems;
  switch (code) {
    case Q8_0: return widen_q8_0(b, nb, out);
    case Q4_0: return widen_q4_0(b, nb, out);
    case Q5_0: return widen_q5_0(b, nb, out);
    case MXFP4: return widen_mxfp4(b, nb, out);
    case Q4_K: return widen_q4_k(b, nb, out);
    case Q6_K: return widen_q6_k(b, nb, out);
    case FP8_B128: return widen_fp8(b, nb, out);
    default: return;
  }
}

static void widen_bf16(int code, const uint8_t* row, int k0, int n, uint16_t* out) {
  const FormatInfo* f = format_info(code);
  if (!f) return;
  float tmp[512];
  const int step = (512 / f->block_elems) * f->block_elems;
  for (int k = 0; k < n; k += step) {
    const int m = std::min(step, n - k);
    widen_f32(code, row, k0 + k, m, tmp);
    for (int j = 0; j < m; j++) out[k + j] = to_bf16(tmp[j]);
  }
}

// ---------------------------------------------------------------------------------------------
// Activation rows (see ActKind in quant.h).
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

// ---------------------------------------------------------------------------------------------
// Scalar block dots: the integer sum of one block (codes × activation codes, offsets removed).

static inline int32_t sdot_q8_0(const uint8_t* b, const int8_t* a) {
  // Read the codes through an int8_t pointer: GCC 12 vectorizes Σ (int8_t)u8 · s8 into vpdpbusd as
  // if the codes were unsigned (wrong results with -mavx512vnni at -O2).
  const int8_t* q = (const int8_t*)(b + 2);
  int32_t s = 0;
  for (int j = 0; j < 32; j++) s += q[j] * a[j];
  return s;
}
static inline int32_t sdot_q4_0(const uint8_t* b, const int8_t* a, int32_t asum) {
  int32_t s = 0;
  for (int j = 0; j < 16; j++) s += (b[2 + j] & 15) * a[j] + (b[2 + j] >> 4) * a[j + 16];
  return s - 8 * asum;
}
static inline int32_t sdot_q5_0(const uint8_t* b, const int8_t* a, int32_t asum) {
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  int32_t s = 0;
  for (int j = 0; j < 16; j++) {
    s += ((b[6 + j] & 15) | ((qh >> j) & 1) << 4) * a[j];
    s += ((b[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) * a[j + 16];
  }
  return s - 16 * asum;
}
static inline int32_t sdot_mxfp4(const uint8_t* b, const int8_t* a) {
  int32_t s = 0;
  for (int j = 0; j < 16; j++) s += kFp4[b[1 + j] & 15] * a[j] + kFp4[b[1 + j] >> 4] * a[j + 16];
  return s;
}

#if !QK_AVX512 && !QK_AVX2
static float dot_q8_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  float acc = 0.f;
  for (int b = 0; b < K / 32; b++) acc += load_half(w + (size_t)b * Q8_0_BYTES) * A.d[b] * (float)sdot_q8_0(w + (size_t)b * Q8_0_BYTES, A.q + 32 * b);
  return acc;
}
static float dot_q4_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  float acc = 0.f;
  for (int b = 0; b < K / 32; b++) {
    const uint8_t* x = w + (size_t)b * Q4_0_BYTES;
    acc += load_half(x) * A.d[b] * (float)sdot_q4_0(x, A.q + 32 * b, A.s[b]);
  }
  return acc;
}
static float dot_q5_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  float acc = 0.f;
  for (int b = 0; b < K / 32; b++) {
    const uint8_t* x = w + (size_t)b * Q5_0_BYTES;
    acc += load_half(x) * A.d[b] * (float)sdot_q5_0(x, A.q + 32 * b, A.s[b]);
  }
  return acc;
}
static float dot_mxfp4(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  float acc = 0.f;
  for (int b = 0; b < K / 32; b++) {
    const uint8_t* x = w + (size_t)b * MXFP4_BYTES;
    acc += e8m0_half(x[0]) * A.d[b] * (float)sdot_mxfp4(x, A.q + 32 * b);
  }
  return acc;
}
static float dot_q4_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  float acc = 0.f;
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q4_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    int32_t sumi = 0, summ = 0;
    for (int j = 0; j < 8; j++) {
      int sc, m;
      scale_min_k4(j, x + 4, sc, m);
      const uint8_t* q = x + 16 + 32 * (j / 2);
      const int shift = 4 * (j & 1);
      int32_t s = 0;
      for (int l = 0; l < 32; l++) s += ((q[l] >> shift) & 15) * a[32 * j + l];
      sumi += sc * s;
      summ += m * (A.bsum[16 * sb + 2 * j] + A.bsum[16 * sb + 2 * j + 1]);
    }
    acc += A.d[sb] * (load_half(x) * (float)sumi - load_half(x + 2) * (float)summ);
  }
  return acc;
}
static float dot_q6_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  float acc = 0.f;
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q6_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    int32_t part[16] = {0};
    for (int h = 0; h < 2; h++) {
      const uint8_t* ql = x + 64 * h;
      const uint8_t* qh = x + 128 + 32 * h;
      const int8_t* ah = a + 128 * h;
      for (int l = 0; l < 32; l++) {
        const int s = 8 * h + l / 16;
        part[s] += ((ql[l] & 15) | (qh[l] & 3) << 4) * ah[l];
        part[s + 2] += ((ql[32 + l] & 15) | ((qh[l] >> 2) & 3) << 4) * ah[32 + l];
        part[s + 4] += ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) * ah[64 + l];
        part[s + 6] += ((ql[32 + l] >> 4) | ((qh[l] >> 6) & 3) << 4) * ah[96 + l];
      }
    }
    int32_t sumi = 0;
    for (int s = 0; s < 16; s++) sumi += (int8_t)x[192 + s] * (part[s] - 32 * A.bsum[16 * sb + s]);
    acc += load_half(x + 208) * A.d[sb] * (float)sumi;
  }
  return acc;
}
static float dot_fp8(const uint8_t* w, const uint8_t* act, int K) {
  const float* xf = (const float*)act;
  float acc = 0.f;
  for (int b = 0; b < K / 128; b++) {
    const uint8_t* x = w + (size_t)b * FP8_BYTES;
    float s;
    std::memcpy(&s, x, 4);
    float part = 0.f;
    for (int j = 0; j < 128; j++) part += e4m3_to_float(x[4 + j]) * xf[128 * b + j];
    acc += s * part;
  }
  return acc;
}
#endif

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
#endif

#if QK_AVX512
// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI: two blocks of 32 per 512-bit register, vpdpbusd (u8 × s8 → s32, 4 products per lane).

static inline __m512i nibbles2(const uint8_t* b0, const uint8_t* b1) {
  // 16 bytes of nibbles of each block → [b0 low | b0 high | b1 low | b1 high] (element order)
  const __m256i m4 = _mm256_set1_epi8(15);
  const __m256i t = _mm256_loadu2_m128i((const __m128i*)b1, (const __m128i*)b0);
  const __m256i lo = _mm256_and_si256(t, m4);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), m4);
  const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  return _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
}
static inline __m512 pair_scale(float s0, float s1) { return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(s0), _mm512_set1_ps(s1)); }

static float dot_q8_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  const int nb = K / 32;
  __m512 acc = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512();
  int b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* x0 = w + (size_t)b * Q8_0_BYTES;
    const uint8_t* x1 = x0 + Q8_0_BYTES;
    const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)(x0 + 2))), _mm256_loadu_si256((const __m256i*)(x1 + 2)), 1);
    const __m512i av = _mm512_loadu_si512(A.q + 32 * b);
    const __m512i as = _mm512_mask_sub_epi8(av, _mm512_movepi8_mask(wv), zero, av);  // a · sign(w)
    const __m512i p = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(wv), as);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), pair_scale(fast_half(x0) * A.d[b], fast_half(x1) * A.d[b + 1]), acc);
  }
  float r = _mm512_reduce_add_ps(acc);
  for (; b < nb; b++) r += fast_half(w + (size_t)b * Q8_0_BYTES) * A.d[b] * (float)sdot_q8_0(w + (size_t)b * Q8_0_BYTES, A.q + 32 * b);
  return r;
}

// q4_0 / q5_0 / mxfp4: unsigned codes u with value (u − offset)·d; Σ u·a by vpdpbusd, − offset·Σa from the activation sums.
template <int FMT>
static float dot_offset32(const uint8_t* w, const uint8_t* act, int K) {
  constexpr int BYTES = FMT == Q4_0 ? Q4_0_BYTES : FMT == Q5_0 ? Q5_0_BYTES : MXFP4_BYTES;
  constexpr int QS = FMT == Q4_0 ? 2 : FMT == Q5_0 ? 6 : 1;
  constexpr int OFFSET = FMT == Q4_0 ? 8 : FMT == Q5_0 ? 16 : 12;
  const Act32 A(act, K);
  const int nb = K / 32;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)kFp4Plus12));
  const __m512i five = _mm512_set1_epi8(16);
  __m512 acc = _mm512_setzero_ps();
  float corr = 0.f;
  int b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* x0 = w + (size_t)b * BYTES;
    const uint8_t* x1 = x0 + BYTES;
    __m512i v = nibbles2(x0 + QS, x1 + QS);
    float s0, s1;
    if (FMT == MXFP4) {
      v = _mm512_shuffle_epi8(lut, v);
      s0 = e8m0_half(x0[0]) * A.d[b];
      s1 = e8m0_half(x1[0]) * A.d[b + 1];
    } else {
      if (FMT == Q5_0) {
        uint32_t h0, h1;
        std::memcpy(&h0, x0 + 2, 4);
        std::memcpy(&h1, x1 + 2, 4);
        v = _mm512_or_si512(v, _mm512_maskz_mov_epi8((__mmask64)h0 | (__mmask64)h1 << 32, five));
      }
      s0 = fast_half(x0) * A.d[b];
      s1 = fast_half(x1) * A.d[b + 1];
    }
    const __m512i p = _mm512_dpbusd_epi32(zero, v, _mm512_loadu_si512(A.q + 32 * b));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), pair_scale(s0, s1), acc);
    corr += s0 * (float)A.s[b] + s1 * (float)A.s[b + 1];
  }
  float r = _mm512_reduce_add_ps(acc) - (float)OFFSET * corr;
  for (; b < nb; b++) {
    const uint8_t* x = w + (size_t)b * BYTES;
    const int8_t* a = A.q + 32 * b;
    if (FMT == Q4_0) r += fast_half(x) * A.d[b] * (float)sdot_q4_0(x, a, A.s[b]);
    if (FMT == Q5_0) r += fast_half(x) * A.d[b] * (float)sdot_q5_0(x, a, A.s[b]);
    if (FMT == MXFP4) r += e8m0_half(x[0]) * A.d[b] * (float)sdot_mxfp4(x, a);
  }
  return r;
}
static float dot_q4_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q4_0>(w, act, K); }
static float dot_q5_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q5_0>(w, act, K); }
static float dot_mxfp4(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<MXFP4>(w, act, K); }

static float dot_q4_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  const __m512i zero = _mm512_setzero_si512();
  const __m256i m4 = _mm256_set1_epi8(15);
  __m512 acc = _mm512_setzero_ps();
  float corr = 0.f;
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q4_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) scale_min_k4(j, x + 4, sc[j], m[j]);
    __m512i isum = zero;
    for (int c = 0; c < 4; c++) {
      const __m256i q = _mm256_loadu_si256((const __m256i*)(x + 16 + 32 * c));
      const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, m4)), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), 1);
      const __m512i p = _mm512_dpbusd_epi32(zero, v, _mm512_loadu_si512(a + 64 * c));
      const __m512i s = _mm512_mask_blend_epi32(0xFF00, _mm512_set1_epi32(sc[2 * c]), _mm512_set1_epi32(sc[2 * c + 1]));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p, s));
    }
    const int16_t* bs = A.bsum + 16 * sb;
    int32_t summ = 0;
    for (int j = 0; j < 8; j++) summ += m[j] * (bs[2 * j] + bs[2 * j + 1]);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(fast_half(x) * A.d[sb]), acc);
    corr += fast_half(x + 2) * A.d[sb] * (float)summ;
  }
  return _mm512_reduce_add_ps(acc) - corr;
}

static float dot_q6_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  const __m512i zero = _mm512_setzero_si512();
  const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3), m30 = _mm256_set1_epi8(0x30), m0c = _mm256_set1_epi8(0x0C);
  // scale index of each 32-bit lane of a 64-value dot: sub-blocks g .. g + 3, four lanes each
  const __m128i rep = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc = _mm512_setzero_ps();
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q6_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    const __m128i sc = _mm_loadu_si128((const __m128i*)(x + 192));
    __m512i isum = zero;
    for (int h = 0; h < 2; h++) {
      const __m256i l0 = _mm256_loadu_si256((const __m256i*)(x + 64 * h));
      const __m256i l1 = _mm256_loadu_si256((const __m256i*)(x + 64 * h + 32));
      const __m256i hh = _mm256_loadu_si256((const __m256i*)(x + 128 + 32 * h));
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m3), 4));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m0c), 2));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30));
      const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30));
      const __m512i v12 = _mm512_inserti64x4(_mm512_castsi256_si512(q1), q2, 1);
      const __m512i v34 = _mm512_inserti64x4(_mm512_castsi256_si512(q3), q4, 1);
      const __m512i p12 = _mm512_dpbusd_epi32(zero, v12, _mm512_loadu_si512(a + 128 * h));
      const __m512i p34 = _mm512_dpbusd_epi32(zero, v34, _mm512_loadu_si512(a + 128 * h + 64));
      const __m512i s12 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, _mm_add_epi8(rep, _mm_set1_epi8((char)(8 * h)))));
      const __m512i s34 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, _mm_add_epi8(rep, _mm_set1_epi8((char)(8 * h + 4)))));
      isum = _mm512_add_epi32(isum, _mm512_add_epi32(_mm512_mullo_epi32(p12, s12), _mm512_mullo_epi32(p34, s34)));
    }
    // − 32 · Σ sc_s · bsum_s (the code offset)
    const __m256i c = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), _mm256_loadu_si256((const __m256i*)(A.bsum + 16 * sb)));
    isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(_mm256_slli_epi32(c, 5)));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(fast_half(x + 208) * A.d[sb]), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

static float dot_fp8(const uint8_t* w, const uint8_t* act, int K) {
  const float* xf = (const float*)act;
  const __m256i mask = _mm256_set1_epi16((short)0xBF80);
  __m512 acc = _mm512_setzero_ps();
  for (int b = 0; b < K / 128; b++) {
    const uint8_t* x = w + (size_t)b * FP8_BYTES;
    float s;
    std::memcpy(&s, x, 4);
    __m512 p0 = _mm512_setzero_ps(), p1 = _mm512_setzero_ps();
    for (int c = 0; c < 8; c += 2) {
      // sign-extended code << 7 puts the sign in bit 15 and exponent|mantissa in bits 7..13: e4m3 · 2^-8 as a half
      const __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(x + 4 + 16 * c))), 7), mask);
      const __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(x + 20 + 16 * c))), 7), mask);
      p0 = _mm512_fmadd_ps(_mm512_cvtph_ps(h0), _mm512_loadu_ps(xf + 128 * b + 16 * c), p0);
      p1 = _mm512_fmadd_ps(_mm512_cvtph_ps(h1), _mm512_loadu_ps(xf + 128 * b + 16 * c + 16), p1);
    }
    acc = _mm512_fmadd_ps(_mm512_add_ps(p0, p1), _mm512_set1_ps(s * 256.f), acc);
  }
  return _mm512_reduce_add_ps(acc);
}
#endif  // QK_AVX512

#if QK_AVX2
// ---------------------------------------------------------------------------------------------
// AVX2: one block of 32 per register; vpmaddubsw (u8 × s8 → pairs of s16, no overflow for codes
// below 64, or |w| ≤ 128 with the sign moved onto a) then vpmaddwd with ones (or the sub-block scales).

static inline __m256i nibbles(const uint8_t* q) {
  const __m128i t = _mm_loadu_si128((const __m128i*)q);
  const __m128i m4 = _mm_set1_epi8(15);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(t, 4), m4), _mm_and_si128(t, m4));
}
static inline __m256i dot_u8s8(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)); }

static float dot_q8_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  __m256 acc = _mm256_setzero_ps();
  for (int b = 0; b < K / 32; b++) {
    const uint8_t* x = w + (size_t)b * Q8_0_BYTES;
    const __m256i wv = _mm256_loadu_si256((const __m256i*)(x + 2));
    const __m256i av = _mm256_loadu_si256((const __m256i*)(A.q + 32 * b));
    const __m256i p = dot_u8s8(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(fast_half(x) * A.d[b]), acc);
  }
  return hsum256(acc);
}

// 32 bytes holding a 1 where bit j of the 32-bit qh is set (byte j).
static inline __m256i bits_to_bytes(uint32_t qh) {
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
  const __m256i t = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf), bit);
  return _mm256_and_si256(_mm256_cmpeq_epi8(t, bit), _mm256_set1_epi8(1));
}

template <int FMT>
static float dot_offset32(const uint8_t* w, const uint8_t* act, int K) {
  constexpr int BYTES = FMT == Q4_0 ? Q4_0_BYTES : FMT == Q5_0 ? Q5_0_BYTES : MXFP4_BYTES;
  constexpr int QS = FMT == Q4_0 ? 2 : FMT == Q5_0 ? 6 : 1;
  constexpr int OFFSET = FMT == Q4_0 ? 8 : FMT == Q5_0 ? 16 : 12;
  const Act32 A(act, K);
  const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kFp4Plus12));
  __m256 acc = _mm256_setzero_ps();
  float corr = 0.f;
  for (int b = 0; b < K / 32; b++) {
    const uint8_t* x = w + (size_t)b * BYTES;
    __m256i v = nibbles(x + QS);
    float s;
    if (FMT == MXFP4) {
      v = _mm256_shuffle_epi8(lut, v);
      s = e8m0_half(x[0]) * A.d[b];
    } else {
      if (FMT == Q5_0) {
        uint32_t qh;
        std::memcpy(&qh, x + 2, 4);
        v = _mm256_or_si256(v, _mm256_slli_epi16(bits_to_bytes(qh), 4));
      }
      s = fast_half(x) * A.d[b];
    }
    const __m256i p = dot_u8s8(v, _mm256_loadu_si256((const __m256i*)(A.q + 32 * b)));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), acc);
    corr += s * (float)A.s[b];
  }
  return hsum256(acc) - (float)OFFSET * corr;
}
static float dot_q4_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q4_0>(w, act, K); }
static float dot_q5_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q5_0>(w, act, K); }
static float dot_mxfp4(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<MXFP4>(w, act, K); }

static float dot_q4_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256 acc = _mm256_setzero_ps();
  float corr = 0.f;
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q4_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) scale_min_k4(j, x + 4, sc[j], m[j]);
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
      const __m256i q = _mm256_loadu_si256((const __m256i*)(x + 16 + 32 * c));
      const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(q, m4), _mm256_loadu_si256((const __m256i*)(a + 64 * c)));
      const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_loadu_si256((const __m256i*)(a + 64 * c + 32)));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(lo, _mm256_set1_epi16((short)sc[2 * c])));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(hi, _mm256_set1_epi16((short)sc[2 * c + 1])));
    }
    const int16_t* bs = A.bsum + 16 * sb;
    int32_t summ = 0;
    for (int j = 0; j < 8; j++) summ += m[j] * (bs[2 * j] + bs[2 * j + 1]);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(fast_half(x) * A.d[sb]), acc);
    corr += fast_half(x + 2) * A.d[sb] * (float)summ;
  }
  return hsum256(acc) - corr;
}

static float dot_q6_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3), m30 = _mm256_set1_epi8(0x30), m0c = _mm256_set1_epi8(0x0C);
  __m256 acc = _mm256_setzero_ps();
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q6_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    const int8_t* sc = (const int8_t*)(x + 192);
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      const __m256i l0 = _mm256_loadu_si256((const __m256i*)(x + 64 * h));
      const __m256i l1 = _mm256_loadu_si256((const __m256i*)(x + 64 * h + 32));
      const __m256i hh = _mm256_loadu_si256((const __m256i*)(x + 128 + 32 * h));
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m3), 4)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m0c), 2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30)),
      };
      for (int g = 0; g < 4; g++) {
        const int s = 8 * h + 2 * g;  // the register's two sub-blocks of 16
        const __m256i p = _mm256_maddubs_epi16(q[g], _mm256_loadu_si256((const __m256i*)(a + 128 * h + 32 * g)));
        const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[s + 1]), _mm_set1_epi16(sc[s]));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scv));
      }
    }
    const __m256i c = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)sc)), _mm256_loadu_si256((const __m256i*)(A.bsum + 16 * sb)));
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(c, 5));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(fast_half(x + 208) * A.d[sb]), acc);
  }
  return hsum256(acc);
}

static float dot_fp8(const uint8_t* w, const uint8_t* act, int K) {
  const float* xf = (const float*)act;
  const __m128i mask = _mm_set1_epi16((short)0xBF80);
  __m256 acc = _mm256_setzero_ps();
  for (int b = 0; b < K / 128; b++) {
    const uint8_t* x = w + (size_t)b * FP8_BYTES;
    float s;
    std::memcpy(&s, x, 4);
    __m256 p0 = _mm256_setzero_ps(), p1 = _mm256_setzero_ps();
    for (int c = 0; c < 128; c += 16) {
      const __m128i t = _mm_loadu_si128((const __m128i*)(x + 4 + c));
      const __m128i h0 = _mm_and_si128(_mm_slli_epi16(_mm_cvtepi8_epi16(t), 7), mask);
      const __m128i h1 = _mm_and_si128(_mm_slli_epi16(_mm_cvtepi8_epi16(_mm_srli_si128(t, 8)), 7), mask);
      p0 = _mm256_fmadd_ps(_mm256_cvtph_ps(h0), _mm256_loadu_ps(xf + 128 * b + c), p0);
      p1 = _mm256_fmadd_ps(_mm256_cvtph_ps(h1), _mm256_loadu_ps(xf + 128 * b + c + 8), p1);
    }
    acc = _mm256_fmadd_ps(_mm256_add_ps(p0, p1), _mm256_set1_ps(s * 256.f), acc);
  }
  return hsum256(acc);
}
#endif  // QK_AVX2

// ---------------------------------------------------------------------------------------------
template <float (*DOT)(const uint8_t*, const uint8_t*, int)>
static void rows(const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y) {
  for (int r = r0; r < r1; r++) y[r - r0] = DOT(w + (size_t)r * rb, act, K);
}

static void dot_rows(int code, const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y) {
  switch (code) {
    case Q8_0: return rows<dot_q8_0>(w, rb, r0, r1, K, act, y);
    case Q4_0: return rows<dot_q4_0>(w, rb, r0, r1, K, act, y);
    case Q5_0: return rows<dot_q5_0>(w, rb, r0, r1, K, act, y);
    case MXFP4: return rows<dot_mxfp4>(w, rb, r0, r1, K, act, y);
    case Q4_K: return rows<dot_q4_k>(w, rb, r0, r1, K, act, y);
    case Q6_K: return rows<dot_q6_k>(w, rb, r0, r1, K, act, y);
    case FP8_B128: return rows<dot_fp8>(w, rb, r0, r1, K, act, y);
    default: return;
  }
}

}  // namespace QK_NS

const Kernels* QK_GETTER() {
  static const Kernels k = {QK_NAME, QK_NS::widen_f32, QK_NS::widen_bf16, QK_NS::dot_rows};
  return &k;
}

}  // namespace quant
}  // namespace moekit
