// Fragment of quant_impl.h (inside its kernel-set namespace): widening, portable code that each
// translation unit's flags let the compiler vectorize. The float32 operations and their order are
// gguf-py's (src/formats/quant/*.ts), so the results are bit-exact with the host widening.
#pragma once

static void widen_q8_0(const uint8_t* __restrict b, int nb, float* __restrict out) {
  for (int i = 0; i < nb; i++, b += Q8_0_BYTES, out += 32) {
    const float d = load_half(b);
    for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)b[2 + j] * d;
  }
}

static void widen_q4_0(const uint8_t* __restrict b, int nb, float* __restrict out) {
  for (int i = 0; i < nb; i++, b += Q4_0_BYTES, out += 32) {
    const float d = load_half(b);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)((b[2 + j] & 15) - 8) * d;
      out[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
    }
  }
}

// AVX-512 versions where the compiler does not vectorize the bit fields and table lookups; each value is
// still one float32 product of the same operands, so the results are identical.
#if QK_AVX512
static void widen_q5_0(const uint8_t* __restrict b, int nb, float* __restrict out) {
  const __m128i m4 = _mm_set1_epi8(15), sixteen = _mm_set1_epi8(16);
  for (int i = 0; i < nb; i++, b += Q5_0_BYTES, out += 32) {
    const __m512 d = _mm512_set1_ps(load_half(b));
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const __m128i q = _mm_loadu_si128((const __m128i*)(b + 6));
    const __m128i lo = _mm_mask_add_epi8(_mm_and_si128(q, m4), (__mmask16)(qh & 0xFFFF), _mm_and_si128(q, m4), sixteen);
    const __m128i h4 = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
    const __m128i hi = _mm_mask_add_epi8(h4, (__mmask16)(qh >> 16), h4, sixteen);
    _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_sub_epi8(lo, sixteen))), d));
    _mm512_storeu_ps(out + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_sub_epi8(hi, sixteen))), d));
  }
}
#else
static void widen_q5_0(const uint8_t* __restrict b, int nb, float* __restrict out) {
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
#endif

#if QK_AVX512
static void widen_mxfp4(const uint8_t* __restrict b, int nb, float* __restrict out) {
  const __m128i lut = _mm_loadu_si128((const __m128i*)kFp4);
  const __m128i m4 = _mm_set1_epi8(15);
  for (int i = 0; i < nb; i++, b += MXFP4_BYTES, out += 32) {
    const __m512 d = _mm512_set1_ps(e8m0_half(b[0]));
    const __m128i q = _mm_loadu_si128((const __m128i*)(b + 1));
    const __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(q, m4));
    const __m128i hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(q, 4), m4));
    _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), d));
    _mm512_storeu_ps(out + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), d));
  }
}
#else
static void widen_mxfp4(const uint8_t* __restrict b, int nb, float* __restrict out) {
  for (int i = 0; i < nb; i++, b += MXFP4_BYTES, out += 32) {
    const float d = e8m0_half(b[0]);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)kFp4[b[1 + j] & 15] * d;
      out[j + 16] = (float)kFp4[b[1 + j] >> 4] * d;
    }
  }
}
#endif

static void widen_q4_k(const uint8_t* __restrict b, int nb, float* __restrict out) {
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

#if QK_AVX512
static void widen_q6_k(const uint8_t* __restrict b, int nb, float* __restrict out) {
  const __m128i m4 = _mm_set1_epi8(15), m3 = _mm_set1_epi8(3), off = _mm_set1_epi8(32);
  for (int i = 0; i < nb; i++, b += Q6_K_BYTES) {
    const float d = load_half(b + 208);
    for (int h = 0; h < 2; h++, out += 128) {
      for (int half = 0; half < 2; half++) {  // l in [16·half, 16·half + 16)
        const int l = 16 * half;
        const __m128i a = _mm_loadu_si128((const __m128i*)(b + 64 * h + l));
        const __m128i c = _mm_loadu_si128((const __m128i*)(b + 64 * h + 32 + l));
        const __m128i hh = _mm_loadu_si128((const __m128i*)(b + 128 + 32 * h + l));
        const __m128i q[4] = {
            _mm_or_si128(_mm_and_si128(a, m4), _mm_slli_epi16(_mm_and_si128(hh, m3), 4)),
            _mm_or_si128(_mm_and_si128(c, m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hh, 2), m3), 4)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hh, 4), m3), 4)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16(c, 4), m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hh, 6), m3), 4)),
        };
        for (int g = 0; g < 4; g++) {  // values 32·g + l .. + 16: sub-block 8h + 2g + half
          const float ds = d * (float)(int8_t)b[192 + 8 * h + 2 * g + half];
          const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_sub_epi8(q[g], off)));
          _mm512_storeu_ps(out + 32 * g + l, _mm512_mul_ps(_mm512_set1_ps(ds), v));
        }
      }
    }
  }
}
#else
static void widen_q6_k(const uint8_t* __restrict b, int nb, float* __restrict out) {
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
#endif

struct E4m3Table {
  float v[256];
  E4m3Table() {
    for (int c = 0; c < 256; c++) v[c] = (c & 0x7f) == 0x7f ? NAN : e4m3_to_float((uint8_t)c);
  }
};

#if QK_AVX512
static void widen_fp8(const uint8_t* __restrict b, int nb, float* __restrict out) {
  const __m256i mask = _mm256_set1_epi16((short)0xBF80);
  const __m128i m7f = _mm_set1_epi8(0x7f);
  for (int i = 0; i < nb; i++, b += FP8_BYTES, out += 128) {
    float s;
    std::memcpy(&s, b, 4);
    const __m512 sv = _mm512_set1_ps(s);
    for (int c = 0; c < 128; c += 16) {
      // e4m3 · 2^-8 as a half (see dot_fp8), times 256 (exact), then the one rounding product with the scale
      const __m128i t = _mm_loadu_si128((const __m128i*)(b + 4 + c));
      const __m256i h = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(t), 7), mask);
      __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.f)), sv);
      const __mmask16 nan = _mm_cmpeq_epi8_mask(_mm_and_si128(t, m7f), m7f);
      v = _mm512_mask_mov_ps(v, nan, _mm512_set1_ps(NAN));
      _mm512_storeu_ps(out + c, v);
    }
  }
}
#else
static void widen_fp8(const uint8_t* __restrict b, int nb, float* __restrict out) {
  static const E4m3Table t;
  for (int i = 0; i < nb; i++, b += FP8_BYTES, out += 128) {
    float s;
    std::memcpy(&s, b, 4);
    for (int j = 0; j < 128; j++) out[j] = t.v[b[4 + j]] * s;
  }
}
#endif

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

