// Fragment of quant_impl.h (AVX-512 sets, after dot_avx512.h): mxfp4 dot products with AVX-512 VBMI byte
// permutes, for the "avx512vbmi" kernel set (the VNNI set's kernels but these). Eight 17-byte blocks (136
// bytes) are read by two 64-byte loads and one of 8 bytes; one two-source byte permute gathers each four
// blocks' nibbles into 128-bit lanes (the VNNI kernel: four 16-byte loads and three inserts per four), one
// more their e8m0 bytes under the float 2^23 (2^23 + e, less 2^23 + 128: e − 128, the scale's exponent,
// applied to the activation scales by vscalefps: the same single rounding as 2^(e − 128) · d); the e2m1 codes
// go through a 64-byte table (four copies of kFp4Plus12) by vpermb, which ignores the bits above the nibble
// (no masking). Results are bit-identical with dot_rows_offset32<MXFP4> / dot_offset32_multi<MXFP4, MM>.
#pragma once

#define QK_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,fma,f16c")))

struct Fp4Index {
  uint8_t lo[64], hi[64], e[64], lut[64];
};
// lo / hi: blocks 0..3 / 4..7 of a group of eight, nibble byte j of block r at lane byte 16r + j, from
// (bytes 0..63, 64..127) / (64..127, 128..135) of the group; e: dword r = block r's e8m0 byte, then the
// bytes 0, 0, 0x4B (kept where the permute's mask is clear), dwords 8..15 unused.
static constexpr Fp4Index fp4_index() {
  Fp4Index x{};
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < 16; j++) {
      x.lo[16 * r + j] = (uint8_t)(1 + 17 * r + j);
      x.hi[16 * r + j] = (uint8_t)(1 + 17 * (4 + r) + j - 64);
    }
  for (int r = 0; r < 8; r++) {
    x.e[4 * r] = (uint8_t)(17 * r);
    x.e[4 * r + 3] = 0x4B;
  }
  for (int i = 0; i < 64; i++) x.lut[i] = kFp4Plus12[i % 16];
  return x;
}

struct Fp4Group8 {
  __m512i ilo, ihi, ie, lut;
  __m256 bias;  // 2^23 + 128
  QK_VBMI Fp4Group8() {
    static constexpr Fp4Index ix = fp4_index();
    ilo = _mm512_loadu_si512(ix.lo);
    ihi = _mm512_loadu_si512(ix.hi);
    ie = _mm512_loadu_si512(ix.e);
    lut = _mm512_loadu_si512(ix.lut);
    bias = _mm256_set1_ps(8388736.f);
  }
  // The codes of the eight blocks at x (lo[h] / hi[h]: blocks 4h..4h+3's first / last 16, as Group4::decode)
  // and their scale exponents e − 128 as floats.
  QK_VBMI inline __m256 decode(const uint8_t* x, __m512i* lo, __m512i* hi) const {
    const __m512i a = _mm512_loadu_si512(x), b = _mm512_loadu_si512(x + 64);
    const __m512i c = _mm512_zextsi128_si512(_mm_loadl_epi64((const __m128i*)(x + 128)));
    const __m512i q0 = _mm512_permutex2var_epi8(a, ilo, b), q1 = _mm512_permutex2var_epi8(b, ihi, c);
    lo[0] = _mm512_permutexvar_epi8(q0, lut);
    hi[0] = _mm512_permutexvar_epi8(_mm512_srli_epi16(q0, 4), lut);
    lo[1] = _mm512_permutexvar_epi8(q1, lut);
    hi[1] = _mm512_permutexvar_epi8(_mm512_srli_epi16(q1, 4), lut);
    const __m512i e = _mm512_mask2_permutex2var_epi8(a, ie, (__mmask64)0x11111111, b);
    return _mm256_sub_ps(_mm512_castps512_ps256(_mm512_castsi512_ps(e)), bias);
  }
  // The same for the four blocks (68 bytes) at x: lo[0] / hi[0] and the exponents in four floats.
  QK_VBMI inline __m128 decode4(const uint8_t* x, __m512i* lo, __m512i* hi) const {
    uint32_t t;
    std::memcpy(&t, x + 64, 4);
    const __m512i a = _mm512_loadu_si512(x), b = _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)t));
    const __m512i q0 = _mm512_permutex2var_epi8(a, ilo, b);
    lo[0] = _mm512_permutexvar_epi8(q0, lut);
    hi[0] = _mm512_permutexvar_epi8(_mm512_srli_epi16(q0, 4), lut);
    const __m512i e = _mm512_mask2_permutex2var_epi8(a, ie, (__mmask64)0x1111, b);
    return _mm_sub_ps(_mm512_castps512_ps128(_mm512_castsi512_ps(e)), _mm256_castps256_ps128(bias));
  }
};

struct Fp4Consts {
  Fp4Group8 g8;
  Group4<MXFP4> g4;
  __m512i quad, quad4;
  QK_VBMI Fp4Consts() {
    quad = quad_lanes();
    quad4 = _mm512_add_epi32(quad, _mm512_set1_epi32(4));
  }
};

// The rest of a row from block b (fewer than eight left), as finish_rows32, its group of four decoded as above.
template <int MM>
QK_VBMI static inline __attribute__((always_inline)) void fp4_finish_rows(const uint8_t* w, int nb, int b, const Fp4Consts& k, Sums32* S, Row32* out) {
  if (b + 4 <= nb) {
    __m512i lo[1], hi[1];
    const __m128 ex = k.g8.decode4(w + (size_t)b * Offset32<MXFP4>::bytes, lo, hi);
    for (int m = 0; m < MM; m++) {
      const __m128 s4 = _mm_scalef_ps(_mm_loadu_ps(S[m].d + b), ex);
      S[m].corr = _mm_fmadd_ps(s4, _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i*)(S[m].s + b))), S[m].corr);
      S[m].acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(group4_dot(lo[0], hi[0], S[m].q + 32 * b)), _mm512_permutexvar_ps(k.quad, _mm512_castps128_ps512(s4)), S[m].acc);
    }
    b += 4;
  }
  finish_rows32<MXFP4, MM>(w, nb, b, k.g4, k.quad, S, out);
}

QK_VBMI static inline __attribute__((always_inline)) Row32 mxfp4_vbmi_row(const uint8_t* w, const uint8_t* act, int K, const Fp4Consts& k) {
  using F = Offset32<MXFP4>;
  const int nb = K / 32;
  Sums32 S;
  S.start(act, K);
  int b = 0;
  for (; b + 8 <= nb; b += 8) {
    __m512i lo[2], hi[2];
    const __m256 ex = k.g8.decode(w + (size_t)b * F::bytes, lo, hi);
    S.add8(b, lo, hi, _mm256_scalef_ps(_mm256_loadu_ps(S.d + b), ex), k.quad, k.quad4);
  }
  Row32 r;
  fp4_finish_rows<1>(w, nb, b, k, &S, &r);
  return r;
}

// Rows [r0, r1) (row r at w + r·rb), four at a time through finish4, the constants set up once.
QK_VBMI static void dot_rows_mxfp4_vbmi(const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y) {
  const Fp4Consts k;
  const float offset = (float)Offset32<MXFP4>::offset;
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    Row32 s[4];
    for (int i = 0; i < 4; i++) s[i] = mxfp4_vbmi_row(w + (size_t)(r + i) * rb, act, K, k);
    _mm_storeu_ps(y + (r - r0), finish4(s, offset));
  }
  for (; r < r1; r++) y[r - r0] = finish1(mxfp4_vbmi_row(w + (size_t)r * rb, act, K, k), offset);
}

template <int MM>
QK_VBMI static void dot_mxfp4_vbmi_multi(const uint8_t* w, const uint8_t* const* acts, int K, float* out) {
  using F = Offset32<MXFP4>;
  const int nb = K / 32;
  const Fp4Consts k;
  Sums32 S[MM];
  for (int m = 0; m < MM; m++) S[m].start(acts[m], K);
  int b = 0;
  for (; b + 8 <= nb; b += 8) {
    __m512i lo[2], hi[2];
    const __m256 ex = k.g8.decode(w + (size_t)b * F::bytes, lo, hi);
    for (int m = 0; m < MM; m++) S[m].add8(b, lo, hi, _mm256_scalef_ps(_mm256_loadu_ps(S[m].d + b), ex), k.quad, k.quad4);
  }
  Row32 r[MM];
  fp4_finish_rows<MM>(w, nb, b, k, S, r);
  for (int m = 0; m < MM; m++) out[m] = finish1(r[m], (float)F::offset);
}
