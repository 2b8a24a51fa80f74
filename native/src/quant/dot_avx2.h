// Fragment of quant_impl.h (inside its kernel-set namespace): AVX2 block dot products. vpmaddubsw
// multiplies unsigned codes by int8 activations into pairs of int16 (no overflow: codes below 64, or
// |w| ≤ 128 with the sign moved onto the activation), vpmaddwd sums the pairs (with ones, or with the
// sub-block scales) into int32 lanes, converted and scaled in float32.
#pragma once

static inline __m256i loadu256(const void* p) { return _mm256_loadu_si256((const __m256i*)p); }

static inline uint64_t load_u16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// weight scale · activation scale of the four consecutive blocks at x (BYTES apart), converted together.
template <int FMT, int BYTES>
static inline __m128 scales4(const uint8_t* x, const float* ad) {
  __m128 d;
  if (FMT == MXFP4) {
    d = _mm_setr_ps(e8m0_half(x[0]), e8m0_half(x[BYTES]), e8m0_half(x[2 * BYTES]), e8m0_half(x[3 * BYTES]));
  } else {
    const uint64_t h = load_u16(x) | load_u16(x + BYTES) << 16 | load_u16(x + 2 * BYTES) << 32 | load_u16(x + 3 * BYTES) << 48;
    d = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)h));
  }
  return _mm_mul_ps(d, _mm_loadu_ps(ad));
}

static float dot_q8_0(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  const int nb = K / 32;
  __m256 acc = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    const __m256 s4 = _mm256_castps128_ps256(scales4<Q8_0, Q8_0_BYTES>(w + (size_t)b * Q8_0_BYTES, A.d + b));
    for (int r = 0; r < 4; r++) {
      const uint8_t* x = w + (size_t)(b + r) * Q8_0_BYTES;
      const __m256i wv = loadu256(x + 2);
      const __m256i av = loadu256(A.q + 32 * (b + r));
      const __m256i p = dot_u8s8(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));
      __m256& dst = (r & 1) ? acc1 : acc;
      dst = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_permutevar8x32_ps(s4, _mm256_set1_epi32(r)), dst);
    }
  }
  float tail = 0.f;
  for (; b < nb; b++) tail += fast_half(w + (size_t)b * Q8_0_BYTES) * A.d[b] * (float)block_dot_q8_0(w + (size_t)b * Q8_0_BYTES, A.q + 32 * b);
  return hsum256(_mm256_add_ps(acc, acc1)) + tail;
}

// q4_0 / q5_0 / mxfp4 on A8_32X4 activations: two blocks per register, first 16 codes of both against
// 32 consecutive activations of the group's first half, last 16 against the second half.
template <int FMT>
static float dot_offset32(const uint8_t* w, const uint8_t* act, int K) {
  using F = Offset32<FMT>;
  const Act32 A(act, K);
  const int nb = K / 32;
  const __m256i m4 = _mm256_set1_epi8(15);
  const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kFp4Plus12));
  const __m256i spread[2] = {_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3)};
  __m256 acc = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m128 corr = _mm_setzero_ps();
  float tail = 0.f, tcorr = 0.f;
  const int whole = nb & ~3;
  for (int b = 0; b < whole; b += 4) {
    const __m128 s4 = scales4<FMT, F::bytes>(w + (size_t)b * F::bytes, A.d + b);
    corr = _mm_fmadd_ps(s4, _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i*)(A.s + b))), corr);
    for (int r = 0; r < 4; r += 2) {
      const uint8_t* x0 = w + (size_t)(b + r) * F::bytes;
      const uint8_t* x1 = x0 + F::bytes;
      const __m256i t = _mm256_loadu2_m128i((const __m128i*)(x1 + F::qs), (const __m128i*)(x0 + F::qs));
      __m256i lo = _mm256_and_si256(t, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), m4);
      if (FMT == MXFP4) {
        lo = _mm256_shuffle_epi8(lut, lo);
        hi = _mm256_shuffle_epi8(lut, hi);
      }
      if (FMT == Q5_0) {
        uint32_t h0, h1;
        std::memcpy(&h0, x0 + 2, 4);
        std::memcpy(&h1, x1 + 2, 4);
        lo = _mm256_or_si256(lo, fifth_bits((h0 & 0xFFFF) | h1 << 16));
        hi = _mm256_or_si256(hi, fifth_bits(h0 >> 16 | (h1 & 0xFFFF0000u)));
      }
      const int8_t* a = A.q + 32 * b + 16 * r;
      // codes < 32 (or 25): the two int16 products of each pair add without overflow
      const __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo, loadu256(a)), _mm256_maddubs_epi16(hi, loadu256(a + 64)));
      const __m256i p = _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
      __m256& dst = r ? acc1 : acc;
      dst = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s4), spread[r / 2]), dst);
    }
  }
  for (int b = whole; b < nb; b++) {
    const uint8_t* x = w + (size_t)b * F::bytes;
    const float s = block_scale32<FMT>(x) * A.d[b];
    tail += s * (float)block_dot32<FMT>(x, A.q + x4_lo(nb, b), A.q + x4_hi(nb, b));
    tcorr += s * (float)A.s[b];
  }
  corr = _mm_add_ps(corr, _mm_movehl_ps(corr, corr));
  corr = _mm_add_ss(corr, _mm_movehdup_ps(corr));
  return hsum256(_mm256_add_ps(acc, acc1)) + tail - (float)F::offset * (_mm_cvtss_f32(corr) + tcorr);
}
static float dot_q4_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q4_0>(w, act, K); }
static float dot_q5_0(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<Q5_0>(w, act, K); }
static float dot_mxfp4(const uint8_t* w, const uint8_t* act, int K) { return dot_offset32<MXFP4>(w, act, K); }

static float dot_q4_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  const __m256i m4 = _mm256_set1_epi8(15);
  const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m256 acc = _mm256_setzero_ps(), macc = _mm256_setzero_ps();
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q4_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    const __m128i scm = q4k_scales_mins(x + 4);
    alignas(16) uint8_t sc[16];
    _mm_store_si128((__m128i*)sc, scm);
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
      const __m256i q = loadu256(x + 16 + 32 * c);
      const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(q, m4), loadu256(a + 64 * c));
      const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), loadu256(a + 64 * c + 32));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(lo, _mm256_set1_epi16(sc[2 * c])));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(hi, _mm256_set1_epi16(sc[2 * c + 1])));
    }
    const __m256i mm = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_shuffle_epi8(scm, twice)), loadu256(A.bsum + 16 * sb));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(fast_half(x) * A.d[sb]), acc);
    macc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mm), _mm256_set1_ps(fast_half(x + 2) * A.d[sb]), macc);
  }
  return hsum256(acc) - hsum256(macc);
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
      const __m256i l0 = loadu256(x + 64 * h);
      const __m256i l1 = loadu256(x + 64 * h + 32);
      const __m256i hh = loadu256(x + 128 + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m3), 4)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m0c), 2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30)),
      };
      for (int g = 0; g < 4; g++) {
        const int s = 8 * h + 2 * g;  // the register's two sub-blocks of 16
        const __m256i p = _mm256_maddubs_epi16(q[g], loadu256(a + 128 * h + 32 * g));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, _mm256_set_m128i(_mm_set1_epi16(sc[s + 1]), _mm_set1_epi16(sc[s]))));
      }
    }
    const __m256i c = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)sc)), loadu256(A.bsum + 16 * sb));
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
