// Fragment of quant_impl.h (inside its kernel-set namespace): block dot products in portable C++, the whole
// kernel set without SIMD (the SIMD sets sum a row's odd blocks with quant_impl.h's block_dot32 /
// block_dot_q8_0, to the same integers).
#pragma once

// Σ q·a over a Q8_0 block. The codes are read through an int8_t pointer: GCC 12 vectorizes
// Σ (int8_t)u8 · s8 into vpdpbusd as if the codes were unsigned (wrong results with -mavx512vnni at -O2).
static inline int32_t sdot_q8_0(const uint8_t* b, const int8_t* a) {
  const int8_t* q = (const int8_t*)(b + 2);
  int32_t s = 0;
  for (int j = 0; j < 32; j++) s += q[j] * a[j];
  return s;
}

// Σ u·a over one block of an Offset32 format (unsigned codes, offset not removed); alo / ahi: the
// activations of the block's first and second 16 values.
template <int FMT>
static inline int32_t raw_dot32(const uint8_t* x, const int8_t* alo, const int8_t* ahi) {
  const uint8_t* q = x + Offset32<FMT>::qs;
  uint32_t qh = 0;
  if (FMT == Q5_0) std::memcpy(&qh, x + 2, 4);
  int32_t s = 0;
  for (int j = 0; j < 16; j++) {
    int lo = q[j] & 15, hi = q[j] >> 4;
    if (FMT == Q5_0) {
      lo |= (int)((qh >> j) & 1) << 4;
      hi |= (int)((qh >> (j + 16)) & 1) << 4;
    }
    if (FMT == MXFP4) {
      lo = kFp4Plus12[lo];
      hi = kFp4Plus12[hi];
    }
    s += lo * alo[j] + hi * ahi[j];
  }
  return s;
}

template <int FMT>
static inline float block_scale32(const uint8_t* x) {
  return FMT == MXFP4 ? e8m0_half(x[0]) : load_half(x);
}

#if !QK_AVX512 && !QK_AVX2
static float dot_q8_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  float acc = 0.f;
  for (int b = 0; b < K / 32; b++) {
    const uint8_t* x = w + (size_t)b * Q8_0_BYTES;
    acc += load_half(x) * A.d[b] * (float)sdot_q8_0(x, A.q + 32 * b);
  }
  return acc;
}

template <int FMT>
static float dot_offset32(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  const int nb = K / 32;
  float acc = 0.f;
  for (int b = 0; b < nb; b++) {
    const uint8_t* x = w + (size_t)b * Offset32<FMT>::bytes;
    const int32_t s = raw_dot32<FMT>(x, A.q + x4_lo(nb, b), A.q + x4_hi(nb, b)) - Offset32<FMT>::offset * A.s[b];
    acc += block_scale32<FMT>(x) * A.d[b] * (float)s;
  }
  return acc;
}
static float dot_q4_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q4_0>(w, act, K); }
static float dot_q5_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q5_0>(w, act, K); }
static float dot_mxfp4(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<MXFP4>(w, act, K); }

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
