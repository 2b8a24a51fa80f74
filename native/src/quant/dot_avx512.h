// Fragment of quant_impl.h (inside its kernel-set namespace): AVX-512 VNNI block dot products. Codes
// are unsigned bytes times int8 activations, summed exactly by vpdpbusd (4 products per 32-bit lane);
// the scales (weight · activation) of 16 blocks at a time come from one gather and a vector multiply
// and are spread over the lanes with vpermps, so no block needs scalar work.
#pragma once

static inline __m256i loadu256(const void* p) { return _mm256_loadu_si256((const __m256i*)p); }

// Byte offsets of 16 consecutive blocks of BYTES bytes.
template <int BYTES>
static inline __m512i block_offsets() {
  return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(BYTES));
}

// weight scale · activation scale of the blocks at wb (gm: the blocks present; other lanes zero).
template <int FMT, int BYTES>
static inline __m512 scales16(const uint8_t* wb, const float* ad, __mmask16 gm) {
  const __m512i raw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), gm, block_offsets<BYTES>(), wb, 1);
  __m512 dw;
  if (FMT == MXFP4) {  // e8m0_half: 2^(e − 128), the subnormals 2^-128 and 2^-127 for e < 2
    const __m512i e = _mm512_and_si512(raw, _mm512_set1_epi32(0xFF));
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const __m512i tiny = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    dw = _mm512_castsi512_ps(_mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(2)), normal, tiny));
  } else {
    dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(raw));
  }
  return _mm512_mul_ps(dw, _mm512_maskz_loadu_ps(gm, ad));
}

static inline __mmask16 first_lanes(int g) { return (__mmask16)(0xFFFFu >> (16 - g)); }

static float dot_q8_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  const int nb = K / 32;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i pair = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i two = _mm512_set1_epi32(2);
  __m512 acc = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  float tail = 0.f;
  for (int b0 = 0; b0 < nb; b0 += 16) {
    const int g = std::min(16, nb - b0);
    const uint8_t* wb = w + (size_t)b0 * Q8_0_BYTES;
    const __m512 s16 = scales16<Q8_0, Q8_0_BYTES>(wb, A.d + b0, first_lanes(g));
    __m512i idx = pair;
    int j = 0;
    for (; j + 2 <= g; j += 2, idx = _mm512_add_epi32(idx, two)) {
      const uint8_t* x = wb + (size_t)j * Q8_0_BYTES;
      const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(x + 2)), loadu256(x + Q8_0_BYTES + 2), 1);
      const __m512i av = _mm512_loadu_si512(A.q + 32 * (b0 + j));
      const __m512i as = _mm512_mask_sub_epi8(av, _mm512_movepi8_mask(wv), zero, av);  // a · sign(w)
      const __m512i p = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(wv), as);
      __m512& dst = (j & 2) ? acc1 : acc;
      dst = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(idx, s16), dst);
    }
    if (j < g) {
      float sc[16];
      _mm512_storeu_ps(sc, s16);
      tail += sc[j] * (float)sdot_q8_0(wb + (size_t)j * Q8_0_BYTES, A.q + 32 * (b0 + j));
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc, acc1)) + tail;
}

// q4_0 / q5_0 / mxfp4 on A8_32X4 activations: four blocks per register, their first 16 codes (low
// nibbles) against the group's first 64 activations and their last 16 (high nibbles) against the next 64.
template <int FMT>
static float dot_offset32(const uint8_t* w, const uint8_t* act, int K) {
  using F = Offset32<FMT>;
  const Act32 A(act, K);
  const int nb = K / 32;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i m4 = _mm512_set1_epi8(15);
  const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)kFp4Plus12));
  const __m512i sixteen = _mm512_set1_epi8(16);
  const __m512i quad = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i four = _mm512_set1_epi32(4);
  __m512 acc = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), corr = _mm512_setzero_ps();
  float tail = 0.f;
  for (int b0 = 0; b0 < nb; b0 += 16) {
    const int g = std::min(16, nb - b0);
    const __mmask16 gm = first_lanes(g);
    const uint8_t* wb = w + (size_t)b0 * F::bytes;
    const __m512 s16 = scales16<FMT, F::bytes>(wb, A.d + b0, gm);
    corr = _mm512_fmadd_ps(s16, _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(gm, A.s + b0)), corr);
    uint64_t hlo[4], hhi[4];  // q5_0: the fifth bits of each group of four blocks, first and last 16 values
    if (FMT == Q5_0) {
      const __m512i qh = _mm512_mask_i32gather_epi32(zero, gm, block_offsets<F::bytes>(), wb + 2, 1);
      _mm256_storeu_si256((__m256i*)hlo, _mm512_cvtepi32_epi16(qh));
      _mm256_storeu_si256((__m256i*)hhi, _mm512_cvtepi32_epi16(_mm512_srli_epi32(qh, 16)));
    }
    __m512i idx = quad;
    int j = 0;
    for (; j + 4 <= g; j += 4, idx = _mm512_add_epi32(idx, four)) {
      const uint8_t* x = wb + (size_t)j * F::bytes + F::qs;
      __m512i t = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i*)x));
      t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(x + F::bytes)), 1);
      t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(x + 2 * F::bytes)), 2);
      t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(x + 3 * F::bytes)), 3);
      __m512i lo = _mm512_and_si512(t, m4);
      __m512i hi = _mm512_and_si512(_mm512_srli_epi16(t, 4), m4);
      if (FMT == MXFP4) {
        lo = _mm512_shuffle_epi8(lut, lo);
        hi = _mm512_shuffle_epi8(lut, hi);
      }
      if (FMT == Q5_0) {
        lo = _mm512_mask_add_epi8(lo, (__mmask64)hlo[j / 4], lo, sixteen);
        hi = _mm512_mask_add_epi8(hi, (__mmask64)hhi[j / 4], hi, sixteen);
      }
      const int8_t* a = A.q + 32 * (b0 + j);
      const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, lo, _mm512_loadu_si512(a)), hi, _mm512_loadu_si512(a + 64));
      // two accumulators (alternate groups) halve the fmadd dependency chain
      __m512& dst = (j & 4) ? acc1 : acc;
      dst = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(idx, s16), dst);
    }
    if (j < g) {  // the last blocks of a row that are not a whole group of four
      float sc[16];
      _mm512_storeu_ps(sc, s16);
      for (; j < g; j++) tail += sc[j] * (float)raw_dot32<FMT>(wb + (size_t)j * F::bytes, A.q + x4_lo(nb, b0 + j), A.q + x4_hi(nb, b0 + j));
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc, acc1)) + tail - (float)F::offset * _mm512_reduce_add_ps(corr);
}
static float dot_q4_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q4_0>(w, act, K); }
static float dot_q5_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q5_0>(w, act, K); }
static float dot_mxfp4(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<MXFP4>(w, act, K); }

static float dot_q4_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  const __m512i zero = _mm512_setzero_si512();
  const __m256i m4 = _mm256_set1_epi8(15);
  const __m512i pair = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i two = _mm512_set1_epi32(2);
  const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m512 acc = _mm512_setzero_ps();
  __m256 macc = _mm256_setzero_ps();
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q4_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    const __m128i scm = q4k_scales_mins(x + 4);  // bytes 0..7 scales, 8..15 mins
    const __m512i sc = _mm512_cvtepu8_epi32(scm);
    __m512i isum = zero, idx = pair;
    for (int c = 0; c < 4; c++, idx = _mm512_add_epi32(idx, two)) {
      const __m256i q = loadu256(x + 16 + 32 * c);
      const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, m4)), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), 1);
      const __m512i p = _mm512_dpbusd_epi32(zero, v, _mm512_loadu_si512(a + 64 * c));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p, _mm512_permutexvar_epi32(idx, sc)));
    }
    // Σ_j min_j · (activation sum of sub-block j): the mins as int16 pairs against the sums per 16
    const __m256i mm = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_shuffle_epi8(scm, twice)), loadu256(A.bsum + 16 * sb));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(fast_half(x) * A.d[sb]), acc);
    macc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mm), _mm256_set1_ps(fast_half(x + 2) * A.d[sb]), macc);
  }
  return _mm512_reduce_add_ps(acc) - hsum256(macc);
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
      const __m256i l0 = loadu256(x + 64 * h);
      const __m256i l1 = loadu256(x + 64 * h + 32);
      const __m256i hh = loadu256(x + 128 + 32 * h);
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m3), 4));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m0c), 2));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30));
      const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30));
      const __m512i p12 = _mm512_dpbusd_epi32(zero, _mm512_inserti64x4(_mm512_castsi256_si512(q1), q2, 1), _mm512_loadu_si512(a + 128 * h));
      const __m512i p34 = _mm512_dpbusd_epi32(zero, _mm512_inserti64x4(_mm512_castsi256_si512(q3), q4, 1), _mm512_loadu_si512(a + 128 * h + 64));
      const __m512i s12 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, _mm_add_epi8(rep, _mm_set1_epi8((char)(8 * h)))));
      const __m512i s34 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, _mm_add_epi8(rep, _mm_set1_epi8((char)(8 * h + 4)))));
      isum = _mm512_add_epi32(isum, _mm512_add_epi32(_mm512_mullo_epi32(p12, s12), _mm512_mullo_epi32(p34, s34)));
    }
    // − 32 · Σ sc_s · bsum_s (the code offset)
    const __m256i c = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), loadu256(A.bsum + 16 * sb));
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
      // the sign-extended code << 7 puts the sign in bit 15 and exponent | mantissa in bits 7..13:
      // the e4m3 value · 2^-8 as a half (bit 14, a copy of the sign, masked off)
      const __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(x + 4 + 16 * c))), 7), mask);
      const __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(x + 20 + 16 * c))), 7), mask);
      p0 = _mm512_fmadd_ps(_mm512_cvtph_ps(h0), _mm512_loadu_ps(xf + 128 * b + 16 * c), p0);
      p1 = _mm512_fmadd_ps(_mm512_cvtph_ps(h1), _mm512_loadu_ps(xf + 128 * b + 16 * c + 16), p1);
    }
    acc = _mm512_fmadd_ps(_mm512_add_ps(p0, p1), _mm512_set1_ps(s * 256.f), acc);
  }
  return _mm512_reduce_add_ps(acc);
}
