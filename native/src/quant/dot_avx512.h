// Fragment of quant_impl.h (inside its kernel-set namespace): AVX-512 VNNI block dot products. Codes
// are unsigned bytes times int8 activations, summed exactly by vpdpbusd (4 products per 32-bit lane);
// the scales (weight · activation) of four or eight blocks at a time are spread over the lanes with
// vpermps, so no block needs scalar work.
#pragma once

static inline __m256i loadu256(const void* p) { return _mm256_loadu_si256((const __m256i*)p); }

static inline uint64_t load_u16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// The weight scales of the four consecutive blocks at x (BYTES apart). The scales are packed in a
// general register and converted together: scalar loads run beside the vector work, where a gather (one
// per 16 blocks) measured slower than the whole dot product of its blocks.
template <int FMT, int BYTES>
static inline __m128 wscales4(const uint8_t* x) {
  if (FMT == MXFP4) {  // e8m0_half: 2^(e − 128), the subnormals 2^-128 and 2^-127 for e < 2
    const uint32_t e4 = (uint32_t)x[0] | (uint32_t)x[BYTES] << 8 | (uint32_t)x[2 * BYTES] << 16 | (uint32_t)x[3 * BYTES] << 24;
    const __m128i e = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)e4));
    const __m128i normal = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
    const __m128i tiny = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);
    return _mm_castsi128_ps(_mm_mask_blend_epi32(_mm_cmplt_epi32_mask(e, _mm_set1_epi32(2)), normal, tiny));
  }
  const uint64_t h = load_u16(x) | load_u16(x + BYTES) << 16 | load_u16(x + 2 * BYTES) << 32 | load_u16(x + 3 * BYTES) << 48;
  return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)h));
}
// weight scale · activation scale of the four consecutive blocks at x.
template <int FMT, int BYTES>
static inline __m128 scales4(const uint8_t* x, const float* ad) {
  return _mm_mul_ps(wscales4<FMT, BYTES>(x), _mm_loadu_ps(ad));
}

// One row's sums before their horizontal reductions: a (16 lanes: the block products), c (4 lanes: the
// code-offset correction), and the blocks after the last whole group of four.
struct Row32 {
  __m512 a;
  __m128 c;
  float tail, tcorr;
};

// The final value of one row: the same steps as dot_offset32's end.
static inline float finish1(const Row32& r, float offset) {
  __m128 c = _mm_add_ps(r.c, _mm_movehl_ps(r.c, r.c));
  c = _mm_add_ss(c, _mm_movehdup_ps(c));
  return _mm512_reduce_add_ps(r.a) + r.tail - offset * (_mm_cvtss_f32(c) + r.tcorr);
}

// The final values of four rows with their reductions side by side: each row's sums added in the same pairs
// and order as finish1 (_mm512_reduce_add_ps: the 256-bit halves, the 128-bit halves, elements 0 + 2 and
// 1 + 3, then those two; the correction likewise from its second step), so the results are bit-identical,
// at about a third of the instructions and without four serial chains at the end of every row.
template <bool CORR = true>
static inline __m128 finish4(const Row32* r, float offset) {
  const __m512 sab = _mm512_add_ps(_mm512_shuffle_f32x4(r[0].a, r[1].a, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(r[0].a, r[1].a, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 scd = _mm512_add_ps(_mm512_shuffle_f32x4(r[2].a, r[3].a, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(r[2].a, r[3].a, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(sab, scd, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(sab, scd, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i first = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m128 tail = _mm_setr_ps(r[0].tail, r[1].tail, r[2].tail, r[3].tail);
  if (!CORR) {  // q8_0: the sum and the tail only
    const __m512 tu = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m512 tv = _mm512_add_ps(tu, _mm512_permute_ps(tu, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_add_ps(_mm512_castps512_ps128(_mm512_permutexvar_ps(first, tv)), tail);
  }
  __m512 c = _mm512_insertf32x4(_mm512_castps128_ps512(r[0].c), r[1].c, 1);
  c = _mm512_insertf32x4(_mm512_insertf32x4(c, r[2].c, 2), r[3].c, 3);
  // per 128-bit lane (one row): elements 0 + 2 and 1 + 3, then those two
  const __m512 tu = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512 cu = _mm512_add_ps(c, _mm512_permute_ps(c, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512 tv = _mm512_add_ps(tu, _mm512_permute_ps(tu, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m512 cv = _mm512_add_ps(cu, _mm512_permute_ps(cu, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m128 a4 = _mm512_castps512_ps128(_mm512_permutexvar_ps(first, tv));
  const __m128 c4 = _mm512_castps512_ps128(_mm512_permutexvar_ps(first, cv));
  const __m128 tcorr = _mm_setr_ps(r[0].tcorr, r[1].tcorr, r[2].tcorr, r[3].tcorr);
  return _mm_sub_ps(_mm_add_ps(a4, tail), _mm_mul_ps(_mm_set1_ps(offset), _mm_add_ps(c4, tcorr)));
}

static inline __attribute__((always_inline)) Row32 q8_0_row(const uint8_t* w, const uint8_t* act, int K) {
  const Act32 A(act, K);
  const int nb = K / 32;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i pair01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i pair23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m512 acc = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    const uint8_t* x = w + (size_t)b * Q8_0_BYTES;
    const __m512 s = _mm512_castps128_ps512(scales4<Q8_0, Q8_0_BYTES>(x, A.d + b));
    for (int h = 0; h < 2; h++) {
      const uint8_t* xh = x + 2 * h * Q8_0_BYTES;
      const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(xh + 2)), loadu256(xh + Q8_0_BYTES + 2), 1);
      const __m512i av = _mm512_loadu_si512(A.q + 32 * (b + 2 * h));
      const __m512i as = _mm512_mask_sub_epi8(av, _mm512_movepi8_mask(wv), zero, av);  // a · sign(w)
      const __m512i p = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(wv), as);
      __m512& dst = h ? acc1 : acc;
      dst = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(h ? pair23 : pair01, s), dst);
    }
  }
  Row32 r;
  r.tail = 0.f;
  for (; b < nb; b++) r.tail += fast_half(w + (size_t)b * Q8_0_BYTES) * A.d[b] * (float)block_dot_q8_0(w + (size_t)b * Q8_0_BYTES, A.q + 32 * b);
  r.a = _mm512_add_ps(acc, acc1);
  r.c = _mm_setzero_ps();
  r.tcorr = 0.f;
  return r;
}
static float dot_q8_0(const uint8_t* w, const uint8_t* act, int K) {
  const Row32 r = q8_0_row(w, act, K);
  return _mm512_reduce_add_ps(r.a) + r.tail;
}
static void dot_rows_q8_0(const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y) {
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    Row32 s[4];
    for (int i = 0; i < 4; i++) s[i] = q8_0_row(w + (size_t)(r + i) * rb, act, K);
    _mm_storeu_ps(y + (r - r0), finish4<false>(s, 0.f));
  }
  for (; r < r1; r++) y[r - r0] = dot_q8_0(w + (size_t)r * rb, act, K);
}

// A group of four Offset32 blocks decoded: the nibble runs by four 16-byte loads into the 128-bit lanes (a
// word permute of two 64-byte loads measured slower), the block scales and q5_0's fifth bits gathered by
// one word permute of the group's first 64 bytes (q5_0: and of bytes 24..87) instead of scalar loads and
// shifts: q4_0 / q5_0's blocks are an even number of bytes, so every such field is a whole word.
template <int FMT>
struct Meta32 {
  using F = Offset32<FMT>;
  static constexpr int OB = 24;  // q5_0's second load
  static constexpr uint16_t word(int o) { return o + 2 <= 64 ? (uint16_t)(o / 2) : (uint16_t)(32 + (o - OB) / 2); }
  // words 0..3 the four scales (fp16); q5_0's 4..7 the low and 8..11 the high halves of its fifth bits
  struct Index {
    uint16_t w[32];
  };
  static constexpr Index index() {
    Index x{};
    for (int r = 0; r < 4; r++) {
      x.w[r] = word(r * F::bytes);
      if (FMT == Q5_0) {
        x.w[4 + r] = word(r * F::bytes + 2);
        x.w[8 + r] = word(r * F::bytes + 4);
      }
    }
    return x;
  }
  static_assert(FMT == MXFP4 || F::bytes % 2 == 0, "whole words");
  static_assert(FMT != Q5_0 || (3 * F::bytes + 6 <= OB + 64 && OB + 64 <= 4 * F::bytes), "q5_0's second load inside the group");
  static_assert(FMT != Q4_0 || 3 * F::bytes + 2 <= 64, "q4_0's scales lie in its first 64 bytes");
};

template <int FMT>
struct Group4 {
  using F = Offset32<FMT>;
  __m512i m4, lut, sixteen, meta;
  Group4() {
    static constexpr typename Meta32<FMT>::Index ix = Meta32<FMT>::index();
    m4 = _mm512_set1_epi8(15);
    lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)kFp4Plus12));
    sixteen = _mm512_set1_epi8(16);
    meta = _mm512_loadu_si512(ix.w);
  }
  // The codes u of the four blocks at xb (lo: each block's first 16, hi: its last 16, 16 bytes per block in
  // block order) and, but for mxfp4, their four weight scales.
  inline void decode(const uint8_t* xb, __m512i& lo, __m512i& hi, __m128& wd) const {
    const uint8_t* x = xb + F::qs;
    __m512i t = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i*)x));
    t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(x + F::bytes)), 1);
    t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(x + 2 * F::bytes)), 2);
    t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(x + 3 * F::bytes)), 3);
    lo = _mm512_and_si512(t, m4);
    hi = _mm512_and_si512(_mm512_srli_epi16(t, 4), m4);
    if (FMT == MXFP4) {
      lo = _mm512_shuffle_epi8(lut, lo);
      hi = _mm512_shuffle_epi8(lut, hi);
      return;
    }
    const __m512i a = _mm512_loadu_si512(xb);
    const __m256i m = _mm512_castsi512_si256(FMT == Q5_0 ? _mm512_permutex2var_epi16(a, meta, _mm512_loadu_si512(xb + Meta32<FMT>::OB)) : _mm512_permutexvar_epi16(meta, a));
    wd = _mm_cvtph_ps(_mm256_castsi256_si128(m));
    if (FMT == Q5_0) {
      lo = _mm512_mask_add_epi8(lo, (__mmask64)_mm256_extract_epi64(m, 1), lo, sixteen);
      hi = _mm512_mask_add_epi8(hi, (__mmask64)_mm256_extract_epi64(m, 2), hi, sixteen);
    }
  }
  // Weight scales of the eight blocks at x: the two groups' (mxfp4: its e8m0 bytes gathered as words from
  // two loads, the odd ones shifted down, then decoded as wscales4 does).
  inline __m256 scales8(const uint8_t* x, __m128 w0, __m128 w1) const {
    if (FMT != MXFP4) return _mm256_insertf128_ps(_mm256_castps128_ps256(w0), w1, 1);
    const __m128i idx = _mm_setr_epi16(0, 8, 17, 25, 34, 42, 51, 59);  // words holding bytes 17r, r = 0..7
    const __m128i sh = _mm_setr_epi16(0, 8, 0, 8, 0, 8, 0, 8);
    const __m512i e16 = _mm512_permutex2var_epi16(_mm512_loadu_si512(x), _mm512_zextsi128_si512(idx), _mm512_loadu_si512(x + 64));
    const __m128i eb = _mm_and_si128(_mm_srlv_epi16(_mm512_castsi512_si128(e16), sh), _mm_set1_epi16(0xFF));
    const __m256i e = _mm256_cvtepu16_epi32(eb);
    const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
    const __m256i tiny = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
    return _mm256_castsi256_ps(_mm256_mask_blend_epi32(_mm256_cmplt_epi32_mask(e, _mm256_set1_epi32(2)), normal, tiny));
  }
  inline __m128 scales4(const uint8_t* xb, __m128 w) const { return FMT == MXFP4 ? wscales4<FMT, F::bytes>(xb) : w; }
};

// Σ u·a of four blocks' codes lo / hi against their 128 A8_32X4 activations at a: 16 lanes, four per block.
static inline __m512i group4_dot(__m512i lo, __m512i hi, const int8_t* a) {
  const __m512i zero = _mm512_setzero_si512();
  return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, lo, _mm512_loadu_si512(a)), hi, _mm512_loadu_si512(a + 64));
}

// One activation row's running sums over a weight row's Offset32 blocks: the parts of a Row32 before their
// reductions. add8 takes eight blocks (codes lo[h] / hi[h] of blocks b + 4h .. b + 4h + 3, as Group4::decode
// gives them; sc their weight · activation scales), finish_rows32 what is left of the row. Shared by every
// Offset32 kernel (the VBMI mxfp4 ones too: these use no VBMI and inline into them).
struct Sums32 {
  const int8_t* q;
  const float* d;
  const int32_t* s;
  __m512 acc, acc1;
  __m128 corr;
  __m256 corr8;
  inline __attribute__((always_inline)) void start(const uint8_t* act, int K) {
    const Act32 A(act, K);
    q = A.q;
    d = A.d;
    s = A.s;
    acc = acc1 = _mm512_setzero_ps();
    corr = _mm_setzero_ps();
    corr8 = _mm256_setzero_ps();
  }
  inline __attribute__((always_inline)) void add8(int b, const __m512i* lo, const __m512i* hi, __m256 sc, __m512i quad, __m512i quad4) {
    corr8 = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(loadu256(s + b)), corr8);
    const __m512 s8 = _mm512_castps256_ps512(sc);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(group4_dot(lo[0], hi[0], q + 32 * b)), _mm512_permutexvar_ps(quad, s8), acc);
    acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(group4_dot(lo[1], hi[1], q + 32 * (b + 4))), _mm512_permutexvar_ps(quad4, s8), acc1);
  }
};

// The rest of a weight row from block b (fewer than eight blocks left) for MM activation rows: a group of four
// (decoded once for all of them), then single blocks; each activation row's Row32.
template <int FMT, int MM>
static inline __attribute__((always_inline)) void finish_rows32(const uint8_t* w, int nb, int b, const Group4<FMT>& G, __m512i quad, Sums32* S, Row32* out) {
  using F = Offset32<FMT>;
  for (; b + 4 <= nb; b += 4) {
    const uint8_t* xb = w + (size_t)b * F::bytes;
    __m512i lo, hi;
    __m128 w4;
    G.decode(xb, lo, hi, w4);
    const __m128 wd = G.scales4(xb, w4);
    for (int m = 0; m < MM; m++) {
      const __m128 s4 = _mm_mul_ps(wd, _mm_loadu_ps(S[m].d + b));
      S[m].corr = _mm_fmadd_ps(s4, _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i*)(S[m].s + b))), S[m].corr);
      S[m].acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(group4_dot(lo, hi, S[m].q + 32 * b)), _mm512_permutexvar_ps(quad, _mm512_castps128_ps512(s4)), S[m].acc);
    }
  }
  for (int m = 0; m < MM; m++) {
    Row32& r = out[m];
    r.c = _mm_add_ps(S[m].corr, _mm_add_ps(_mm256_castps256_ps128(S[m].corr8), _mm256_extractf128_ps(S[m].corr8, 1)));
    r.tail = 0.f;
    r.tcorr = 0.f;
    for (int t = b; t < nb; t++) {  // the last blocks of a row that are not a whole group of four
      const uint8_t* x = w + (size_t)t * F::bytes;
      const float sc = block_scale32<FMT>(x) * S[m].d[t];
      r.tail += sc * (float)block_dot32<FMT>(x, S[m].q + x4_lo(nb, t), S[m].q + x4_hi(nb, t));
      r.tcorr += sc * (float)S[m].s[t];
    }
    r.a = _mm512_add_ps(S[m].acc, S[m].acc1);
  }
}

static inline __m512i quad_lanes() { return _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3); }

template <int FMT>
static inline __attribute__((always_inline)) Row32 offset32_row(const uint8_t* w, const uint8_t* act, int K, const Group4<FMT>& G) {
  using F = Offset32<FMT>;
  const int nb = K / 32;
  const __m512i quad = quad_lanes();
  const __m512i quad4 = _mm512_add_epi32(quad, _mm512_set1_epi32(4));
  Sums32 S;
  S.start(act, K);
  int b = 0;
  for (; b + 8 <= nb; b += 8) {
    const uint8_t* x = w + (size_t)b * F::bytes;
    __m512i lo[2], hi[2];
    __m128 wd[2];
    for (int h = 0; h < 2; h++) G.decode(x + 4 * h * F::bytes, lo[h], hi[h], wd[h]);
    S.add8(b, lo, hi, _mm256_mul_ps(G.scales8(x, wd[0], wd[1]), _mm256_loadu_ps(S.d + b)), quad, quad4);
  }
  Row32 r;
  finish_rows32<FMT, 1>(w, nb, b, G, quad, &S, &r);
  return r;
}
// q4_0 / q5_0 / mxfp4 on A8_32X4 activations: four blocks per register, their first 16 codes (low
// nibbles) against the group's first 64 activations and their last 16 (high nibbles) against the next 64.
// One weight row at a time: two or four rows interleaved (sharing the activation loads) measured 2x slower
// streaming from memory (as fast from cache), and software prefetch 1-4 KiB ahead 0-13% slower.
template <int FMT>
static float dot_offset32(const uint8_t* w, const uint8_t* act, int K) {
  const Group4<FMT> G;
  return finish1(offset32_row<FMT>(w, act, K, G), (float)Offset32<FMT>::offset);
}
// Rows [r0, r1) (row r at w + r·rb), four at a time through finish4.
template <int FMT>
static void dot_rows_offset32(const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y) {
  const Group4<FMT> G;
  const float offset = (float)Offset32<FMT>::offset;
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    Row32 s[4];
    for (int i = 0; i < 4; i++) s[i] = offset32_row<FMT>(w + (size_t)(r + i) * rb, act, K, G);
    _mm_storeu_ps(y + (r - r0), finish4(s, offset));
  }
  for (; r < r1; r++) y[r - r0] = finish1(offset32_row<FMT>(w + (size_t)r * rb, act, K, G), offset);
}

static float dot_q4_k(const uint8_t* w, const uint8_t* act, int K) {
  const Act256 A(act, K);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i m4 = _mm512_set1_epi8(15);
  const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);  // high nibbles in the upper half
  const __m512i pair = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i two = _mm512_set1_epi32(2);
  const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m512 acc = _mm512_setzero_ps();
  __m256 macc = _mm256_setzero_ps();
  for (int sb = 0; sb < K / 256; sb++) {
    const uint8_t* x = w + (size_t)sb * Q4_K_BYTES;
    const int8_t* a = A.q + 256 * sb;
    const __m128i scm = q4k_scales_mins_v(x + 4);  // bytes 0..7 scales, 8..15 mins
    const __m512i sc = _mm512_cvtepu8_epi32(scm);
    __m512i isum = zero, idx = pair;
    for (int c = 0; c < 4; c++, idx = _mm512_add_epi32(idx, two)) {
      const __m512i q = _mm512_broadcast_i64x4(loadu256(x + 16 + 32 * c));
      const __m512i v = _mm512_and_si512(_mm512_srlv_epi16(q, shift), m4);
      const __m512i p = _mm512_dpbusd_epi32(zero, v, _mm512_loadu_si512(a + 64 * c));
      // p · scale with vpdpwssd: |p| ≤ 4·15·127 < 2^15 and 0 ≤ scale < 64, so each 32-bit lane's high 16-bit
      // half contributes (p < 0 ? −1 : 0) · 0 and its low half p · scale: the exact product, one uop.
      isum = _mm512_dpwssd_epi32(isum, p, _mm512_permutexvar_epi32(idx, sc));
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

// ---- several activation rows per pass over the weights (M > 1: sequences decoding together) ----------
// The same integer products and float steps as dot_q8_0 / dot_offset32 for each activation row (so each
// row's result is bit-identical to the one-row kernel), with each weight block loaded and decoded once
// for MM rows instead of once per row.
template <int MM>
static void dot_q8_0_multi(const uint8_t* w, const uint8_t* const* acts, int K, float* out) {
  const int nb = K / 32;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i pair01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i pair23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const int8_t* aq[MM];
  const float* ad[MM];
  __m512 acc[MM], acc1[MM];
  for (int m = 0; m < MM; m++) {
    const Act32 A(acts[m], K);
    aq[m] = A.q;
    ad[m] = A.d;
    acc[m] = acc1[m] = _mm512_setzero_ps();
  }
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    const uint8_t* x = w + (size_t)b * Q8_0_BYTES;
    const __m128 wd = wscales4<Q8_0, Q8_0_BYTES>(x);
    __m512i aw[2];
    __mmask64 neg[2];
    for (int hh = 0; hh < 2; hh++) {
      const uint8_t* xh = x + 2 * hh * Q8_0_BYTES;
      const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(xh + 2)), loadu256(xh + Q8_0_BYTES + 2), 1);
      neg[hh] = _mm512_movepi8_mask(wv);
      aw[hh] = _mm512_abs_epi8(wv);
    }
    for (int m = 0; m < MM; m++) {
      const __m512 s = _mm512_castps128_ps512(_mm_mul_ps(wd, _mm_loadu_ps(ad[m] + b)));
      for (int hh = 0; hh < 2; hh++) {
        const __m512i av = _mm512_loadu_si512(aq[m] + 32 * (b + 2 * hh));
        const __m512i as = _mm512_mask_sub_epi8(av, neg[hh], zero, av);
        const __m512i p = _mm512_dpbusd_epi32(zero, aw[hh], as);
        __m512& dst = hh ? acc1[m] : acc[m];
        dst = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(hh ? pair23 : pair01, s), dst);
      }
    }
  }
  for (int m = 0; m < MM; m++) {
    float tail = 0.f;
    for (int t = b; t < nb; t++) tail += fast_half(w + (size_t)t * Q8_0_BYTES) * ad[m][t] * (float)block_dot_q8_0(w + (size_t)t * Q8_0_BYTES, aq[m] + 32 * t);
    out[m] = _mm512_reduce_add_ps(_mm512_add_ps(acc[m], acc1[m])) + tail;
  }
}

template <int FMT, int MM>
static void dot_offset32_multi(const uint8_t* w, const uint8_t* const* acts, int K, float* out) {
  using F = Offset32<FMT>;
  const int nb = K / 32;
  const Group4<FMT> G;
  const __m512i quad = quad_lanes();
  const __m512i quad4 = _mm512_add_epi32(quad, _mm512_set1_epi32(4));
  Sums32 S[MM];
  for (int m = 0; m < MM; m++) S[m].start(acts[m], K);
  int b = 0;
  for (; b + 8 <= nb; b += 8) {
    const uint8_t* x = w + (size_t)b * F::bytes;
    __m512i lo[2], hi[2];
    __m128 w4[2];
    for (int h = 0; h < 2; h++) G.decode(x + 4 * h * F::bytes, lo[h], hi[h], w4[h]);
    const __m256 wd = G.scales8(x, w4[0], w4[1]);
    for (int m = 0; m < MM; m++) S[m].add8(b, lo, hi, _mm256_mul_ps(wd, _mm256_loadu_ps(S[m].d + b)), quad, quad4);
  }
  Row32 r[MM];
  finish_rows32<FMT, MM>(w, nb, b, G, quad, S, r);
  for (int m = 0; m < MM; m++) out[m] = finish1(r[m], (float)F::offset);
}
