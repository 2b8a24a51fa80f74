// Model-layer kernels (attention, norms, softmax, rotary embeddings) of one instruction set. Included by
// kernels_impl.h inside its MK_NS namespace, after its helpers; the vector primitives below use
// AVX-512 / AVX2 intrinsics where the translation unit has them and portable loops otherwise.

// ---- vector primitives -------------------------------------------------------------------------
#if MK_AVX512
static inline float hsum16(__m512 v) { return _mm512_reduce_add_ps(v); }
#endif  // AVX2: hsum8 from kernels_gemv.h

// Loads of DT values (W_F32, W_BF16, W_F16) widened to float32: keys and values of a 16-bit KV cache are
// read as stored and widened in registers (bfloat16: a 16-bit shift; float16: the F16C conversion).
template <int DT>
static inline float ld1(const void* p, size_t i) {
  if constexpr (DT == W_F32) return ((const float*)p)[i];
  else if constexpr (DT == W_BF16) return bf16_to_f32(((const uint16_t*)p)[i]);
  else return f16_to_f32(((const uint16_t*)p)[i]);
}
#if MK_AVX512
template <int DT>
static inline __m512 ld16(const void* p, size_t i) {
  if constexpr (DT == W_F32) return _mm512_loadu_ps((const float*)p + i);
  else {
    const __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)p + i));
    if constexpr (DT == W_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  }
}
template <int DT>
static inline __m512 ld16z(__mmask16 m, const void* p, size_t i) {
  if constexpr (DT == W_F32) return _mm512_maskz_loadu_ps(m, (const float*)p + i);
  else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t*)p + i);
    if constexpr (DT == W_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  }
}
#elif MK_AVX2
template <int DT>
static inline __m256 ld8(const void* p, size_t i) {
  if constexpr (DT == W_F32) return _mm256_loadu_ps((const float*)p + i);
  else {
    const __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)p + i));
    if constexpr (DT == W_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    else return _mm256_cvtph_ps(h);
  }
}
#endif

// Σ a[i]·b[i], b of format DT
template <int DT>
static inline float vdot(const float* a, const void* b, int n) {
  int i = 0;
#if MK_AVX512
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), ld16<DT>(b, i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), ld16<DT>(b, i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), ld16<DT>(b, i), s0);
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), ld16z<DT>(m, b, i), s1);
  }
  return hsum16(_mm512_add_ps(s0, s1));
#elif MK_AVX2
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), ld8<DT>(b, i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), ld8<DT>(b, i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), ld8<DT>(b, i), s0);
  float s = hsum8(_mm256_add_ps(s0, s1));
  // explicit fma: one rounding whatever the compiler contracts, so every format sums alike
  for (; i < n; i++) s = std::fma(a[i], ld1<DT>(b, i), s);
  return s;
#else
  float s[4] = {0.f, 0.f, 0.f, 0.f};
  for (; i + 4 <= n; i += 4)
    for (int u = 0; u < 4; u++) s[u] += a[i + u] * ld1<DT>(b, i + u);
  for (; i < n; i++) s[0] += a[i] * ld1<DT>(b, i);
  return (s[0] + s[1]) + (s[2] + s[3]);
#endif
}

// y[i] += a·x[i], x of format DT
template <int DT>
static inline void vaxpy(float* y, float a, const void* x, int n) {
  int i = 0;
#if MK_AVX512
  const __m512 va = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, ld16<DT>(x, i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, ld16z<DT>(m, x, i), _mm512_maskz_loadu_ps(m, y + i)));
  }
  return;
#elif MK_AVX2
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, ld8<DT>(x, i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] = std::fma(a, ld1<DT>(x, i), y[i]);
  return;
#endif
  for (; i < n; i++) y[i] += a * ld1<DT>(x, i);
}

// y[i] *= a
static inline void vscal(float* y, float a, int n) {
  int i = 0;
#if MK_AVX512
  const __m512 va = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(y + i)));
#elif MK_AVX2
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
#endif
  for (; i < n; i++) y[i] *= a;
}

// Σ (x[i] − c)², accumulated in float32 lanes and summed in double.
static inline double vsumsq(const float* x, int n, float c) {
  int i = 0;
  double s = 0.0;
#if MK_AVX512
  const __m512 vc = _mm512_set1_ps(c);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), vc), d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vc);
    a0 = _mm512_fmadd_ps(d0, d0, a0);
    a1 = _mm512_fmadd_ps(d1, d1, a1);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), vc);
    a0 = _mm512_fmadd_ps(d, d, a0);
  }
  s = (double)hsum16(_mm512_add_ps(a0, a1));
#elif MK_AVX2
  const __m256 vc = _mm256_set1_ps(c);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vc), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vc);
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
  }
  s = (double)hsum8(_mm256_add_ps(a0, a1));
#endif
  for (; i < n; i++) {
    const double d = (double)x[i] - (double)c;
    s += d * d;
  }
  return s;
}

// ---- attention ---------------------------------------------------------------------------------
// Query rows [i0, i1) of head h in batch b: a one-pass (online) softmax in float32 over key blocks of
// ATT_KB keys: per block the scores, the block max, one rescale of the running sum and accumulator
// when the max grows, then the exp-weighted value rows. A sink starts the row as (max = sink, sum = 1).
// Keys and values are read in their stored format (KvView: float32, bfloat16 or float16) and widened in
// the dot products and the accumulation, so 16-bit rows give the float32 math on their widened values.
constexpr int ATT_KB = 64;

// Token rows of a KvView in increasing order: the run holding each row, found once and then walked.
struct KvCursor {
  const KvView& v;
  int r = 0;
  KvCursor(const KvView& view, int64_t row) : v(view) {
    int lo = 0, hi = v.nruns - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (v.runs[mid].start <= row) lo = mid;
      else hi = mid - 1;
    }
    r = lo;
  }
  const char* at(int64_t row) {
    while (r + 1 < v.nruns && v.runs[r + 1].start <= row) r++;
    return v.runs[r].base + (size_t)(row - v.runs[r].start) * v.row_bytes;
  }
};

template <int KT, int VT>
static void attention_rows_t(const AttnArgs& A, int b, int h, int i0, int i1, Scratch& S) {
  const int Dk = A.Dk, Dv = A.Dv;
  const int kh = h / (A.Hq / A.Hkv);
  const size_t dvp = ((size_t)Dv + 15) & ~(size_t)15;
  float* acc = S.need_p(dvp + ATT_KB);
  float* sc = acc + dvp;
  const size_t koff = (size_t)kh * Dk * (KT == W_F32 ? 4 : 2), voff = (size_t)kh * Dv * (VT == W_F32 ? 4 : 2);
  const int64_t row0 = (int64_t)b * A.Skv;
  const int32_t* mask = A.mask ? A.mask + (size_t)b * A.Skv : nullptr;
  for (int i = i0; i < i1; i++) {
    const int64_t qi = (int64_t)A.offset + i;
    const int64_t hi = A.causal ? std::min<int64_t>(qi, (int64_t)A.Skv - 1) : (int64_t)A.Skv - 1;
    const int64_t lo = A.window > 0 ? std::max<int64_t>(0, qi - (int64_t)A.window + 1) : 0;
    const float* q = A.q + (((size_t)b * A.Sq + i) * A.Hq + h) * Dk;
    float* o = A.out + (((size_t)b * A.Sq + i) * A.Hq + h) * Dv;
    float m = A.sinks ? A.sinks[h] : -INFINITY;
    float l = A.sinks ? 1.f : 0.f;
    bool any = false;
    std::memset(acc, 0, sizeof(float) * (size_t)Dv);
    KvCursor kc(A.k, row0 + lo), vc(A.v, row0 + lo);
    for (int64_t j0 = lo; j0 <= hi; j0 += ATT_KB) {
      const int n = (int)std::min<int64_t>(ATT_KB, hi + 1 - j0);
      float bm = -INFINITY;
      for (int t = 0; t < n; t++) {
        const int64_t j = j0 + t;
        if (mask && mask[j] == 0) {
          sc[t] = -INFINITY;
          continue;
        }
        any = true;
        const float s = vdot<KT>(q, kc.at(row0 + j) + koff, Dk) * A.scale;
        sc[t] = s;
        bm = std::max(bm, s);
      }
      if (!(bm > -INFINITY)) continue;
      if (bm > m) {
        const float f = std::exp(m - bm);
        l *= f;
        vscal(acc, f, Dv);
        m = bm;
      }
      for (int t = 0; t < n; t++) {
        if (sc[t] == -INFINITY) continue;
        const float p = std::exp(sc[t] - m);
        l += p;
        vaxpy<VT>(acc, p, vc.at(row0 + j0 + t) + voff, Dv);
      }
    }
    if (!any) {
      std::memset(o, 0, sizeof(float) * (size_t)Dv);
      continue;
    }
    const float inv = 1.f / l;
    for (int c = 0; c < Dv; c++) o[c] = acc[c] * inv;
  }
}

// Decode (one query row): keys [j0, j1) of batch row b for every head at once, reading whole token rows
// in order (the memory streams; per head it would stride one row apart). Per head the same online softmax
// as attention_rows_t over blocks of ATT_KB keys from j0; the chunk's state goes to part: m[Hq], l[Hq],
// acc[Hq][Dv] (l and acc not yet normalised), combined over the chunks by attention_decode_combine.
template <int KT, int VT>
static void attention_decode_t(const AttnArgs& A, int b, int64_t j0, int64_t j1, float* part, Scratch& S) {
  const int Hq = A.Hq, Dk = A.Dk, Dv = A.Dv, G = A.Hq / A.Hkv;
  const size_t kbytes = (size_t)Dk * (KT == W_F32 ? 4 : 2), vbytes = (size_t)Dv * (VT == W_F32 ? 4 : 2);
  float* m = part;
  float* l = part + Hq;
  float* acc = part + 2 * (size_t)Hq;
  float* sc = S.need_p((size_t)Hq * ATT_KB);
  for (int h = 0; h < Hq; h++) m[h] = -INFINITY, l[h] = 0.f;
  std::memset(acc, 0, sizeof(float) * (size_t)Hq * Dv);
  const int64_t row0 = (int64_t)b * A.Skv;
  const int32_t* mask = A.mask ? A.mask + (size_t)b * A.Skv : nullptr;
  const float* q = A.q + (size_t)b * Hq * Dk;
  KvCursor kc(A.k, row0 + j0), vc(A.v, row0 + j0);
  for (int64_t jb = j0; jb < j1; jb += ATT_KB) {
    const int n = (int)std::min<int64_t>(ATT_KB, j1 - jb);
    bool seen = false;
    for (int t = 0; t < n; t++) {
      if (mask && mask[jb + t] == 0) {
        for (int h = 0; h < Hq; h++) sc[(size_t)h * ATT_KB + t] = -INFINITY;
        continue;
      }
      seen = true;
      const char* row = kc.at(row0 + jb + t);
      for (int h = 0; h < Hq; h++) sc[(size_t)h * ATT_KB + t] = vdot<KT>(q + (size_t)h * Dk, row + (size_t)(h / G) * kbytes, Dk) * A.scale;
    }
    if (!seen) continue;
    for (int h = 0; h < Hq; h++) {
      float* s = sc + (size_t)h * ATT_KB;
      float bm = -INFINITY;
      for (int t = 0; t < n; t++) bm = std::max(bm, s[t]);
      if (bm > m[h]) {
        const float f = std::exp(m[h] - bm);
        l[h] *= f;
        vscal(acc + (size_t)h * Dv, f, Dv);
        m[h] = bm;
      }
      for (int t = 0; t < n; t++) {
        if (s[t] == -INFINITY) continue;  // stays -inf: the value loop skips it
        s[t] = std::exp(s[t] - m[h]);
        l[h] += s[t];
      }
    }
    for (int t = 0; t < n; t++) {
      if (mask && mask[jb + t] == 0) continue;
      const char* row = vc.at(row0 + jb + t);
      for (int h = 0; h < Hq; h++) {
        const float p = sc[(size_t)h * ATT_KB + t];
        if (p != -INFINITY) vaxpy<VT>(acc + (size_t)h * Dv, p, row + (size_t)(h / G) * vbytes, Dv);
      }
    }
  }
}

template <int KT>
static void attention_decode_k(const AttnArgs& A, int b, int64_t j0, int64_t j1, float* part, Scratch& S) {
  if (A.v.fmt == W_BF16) return attention_decode_t<KT, W_BF16>(A, b, j0, j1, part, S);
  if (A.v.fmt == W_F16) return attention_decode_t<KT, W_F16>(A, b, j0, j1, part, S);
  attention_decode_t<KT, W_F32>(A, b, j0, j1, part, S);
}

static void attention_decode(const AttnArgs& A, int b, int64_t j0, int64_t j1, float* part, Scratch& S) {
  if (A.k.fmt == W_BF16) return attention_decode_k<W_BF16>(A, b, j0, j1, part, S);
  if (A.k.fmt == W_F16) return attention_decode_k<W_F16>(A, b, j0, j1, part, S);
  attention_decode_k<W_F32>(A, b, j0, j1, part, S);
}

template <int KT>
static void attention_rows_k(const AttnArgs& A, int b, int h, int i0, int i1, Scratch& S) {
  if (A.v.fmt == W_BF16) return attention_rows_t<KT, W_BF16>(A, b, h, i0, i1, S);
  if (A.v.fmt == W_F16) return attention_rows_t<KT, W_F16>(A, b, h, i0, i1, S);
  attention_rows_t<KT, W_F32>(A, b, h, i0, i1, S);
}

static void attention_rows(const AttnArgs& A, int b, int h, int i0, int i1, Scratch& S) {
  if (A.k.fmt == W_BF16) return attention_rows_k<W_BF16>(A, b, h, i0, i1, S);
  if (A.k.fmt == W_F16) return attention_rows_k<W_F16>(A, b, h, i0, i1, S);
  attention_rows_k<W_F32>(A, b, h, i0, i1, S);
}

// ---- norms, softmax, rotary embeddings (rows [r0, r1)) -------------------------------------------
static void rms_norm_rows(const NormArgs& a, int r0, int r1) {
  const int D = a.D;
  for (int r = r0; r < r1; r++) {
    const float* x = a.x + (size_t)r * D;
    float* y = a.out + (size_t)r * D;
    const float inv = (float)(1.0 / std::sqrt(vsumsq(x, D, 0.f) / D + a.eps));
    int i = 0;
#if MK_AVX512
    const __m512 vi = _mm512_set1_ps(inv);
    for (; i + 16 <= D; i += 16) {
      __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vi);
      if (a.w) v = _mm512_mul_ps(v, _mm512_loadu_ps(a.w + i));
      _mm512_storeu_ps(y + i, v);
    }
#elif MK_AVX2
    const __m256 vi = _mm256_set1_ps(inv);
    for (; i + 8 <= D; i += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vi);
      if (a.w) v = _mm256_mul_ps(v, _mm256_loadu_ps(a.w + i));
      _mm256_storeu_ps(y + i, v);
    }
#endif
    for (; i < D; i++) {
      const float v = x[i] * inv;
      y[i] = a.w ? v * a.w[i] : v;
    }
  }
}

// The mean in double, split as mf + mr (mf its float32 rounding): x − mean = (x − mf) − mr keeps the
// precision of the reference under a large offset, and Σ(x − mean)² = Σ(x − mf)² − D·mr².
static void layer_norm_rows(const NormArgs& a, int r0, int r1) {
  const int D = a.D;
  for (int r = r0; r < r1; r++) {
    const float* x = a.x + (size_t)r * D;
    float* y = a.out + (size_t)r * D;
    double sum = 0.0;
    int j = 0;
#if MK_AVX512
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (; j + 16 <= D; j += 16) {
      const __m512 v = _mm512_loadu_ps(x + j);
      s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
      s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
    }
    sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
#endif
    for (; j < D; j++) sum += (double)x[j];
    const double mean = sum / D;
    const float mf = (float)mean, mr = (float)(mean - (double)mf);
    const double var = std::max(0.0, vsumsq(x, D, mf) / D - (double)mr * (double)mr);
    const float inv = (float)(1.0 / std::sqrt(var + a.eps));
    int i = 0;
#if MK_AVX512
    const __m512 vi = _mm512_set1_ps(inv), vm = _mm512_set1_ps(mf), vr = _mm512_set1_ps(mr);
    for (; i + 16 <= D; i += 16) {
      const __m512 d = _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vr);
      __m512 v = _mm512_mul_ps(_mm512_mul_ps(d, vi), _mm512_loadu_ps(a.w + i));
      if (a.b) v = _mm512_add_ps(v, _mm512_loadu_ps(a.b + i));
      _mm512_storeu_ps(y + i, v);
    }
#elif MK_AVX2
    const __m256 vi = _mm256_set1_ps(inv), vm = _mm256_set1_ps(mf), vr = _mm256_set1_ps(mr);
    for (; i + 8 <= D; i += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vr);
      __m256 v = _mm256_mul_ps(_mm256_mul_ps(d, vi), _mm256_loadu_ps(a.w + i));
      if (a.b) v = _mm256_add_ps(v, _mm256_loadu_ps(a.b + i));
      _mm256_storeu_ps(y + i, v);
    }
#endif
    for (; i < D; i++) y[i] = ((x[i] - mf) - mr) * inv * a.w[i] + (a.b ? a.b[i] : 0.f);
  }
}

// out = exp(x − max) / Σ exp(x − max) per row (exponentials in float32, the sum in double).
static void softmax_rows(const NormArgs& a, int r0, int r1) {
  const int D = a.D;
  for (int r = r0; r < r1; r++) {
    const float* x = a.x + (size_t)r * D;
    float* y = a.out + (size_t)r * D;
    float m = -INFINITY;
    for (int i = 0; i < D; i++) m = std::max(m, x[i]);
    double s = 0.0;
    int i = 0;
#if MK_AVX512
    if (m > -INFINITY && m < INFINITY) {  // exp16 clamps its argument: keep ±inf maxima on the scalar path
      const __m512 vm = _mm512_set1_ps(m);
      for (; i + 16 <= D; i += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(y + i, e);
        s += (double)_mm512_reduce_add_ps(e);
      }
    }
#endif
    for (; i < D; i++) {
      y[i] = std::exp(x[i] - m);
      s += (double)y[i];
    }
    vscal(y, (float)(1.0 / s), D);
  }
}

// Rows [r0, r1) of x viewed as [T·Hn, D]: row r uses cos/sin row r / Hn.
static void rope_rows(const RopeArgs& a, int r0, int r1) {
  const int D = a.D, half = a.half;
  for (int r = r0; r < r1; r++) {
    const float* x = a.x + (size_t)r * D;
    float* y = a.out + (size_t)r * D;
    const size_t t = (size_t)(r / a.heads);
    const float* c = a.cos + t * half;
    const float* s = a.sin + t * half;
    if (a.interleaved) {
      for (int i = 0; i < half; i++) {
        const float xa = x[2 * i], xb = x[2 * i + 1];
        y[2 * i] = xa * c[i] - xb * s[i];
        y[2 * i + 1] = xb * c[i] + xa * s[i];
      }
    } else {
      for (int i = 0; i < half; i++) {
        const float xa = x[i], xb = x[i + half];
        y[i] = xa * c[i] - xb * s[i];
        y[i + half] = xb * c[i] + xa * s[i];
      }
    }
    for (int i = 2 * half; i < D; i++) y[i] = x[i];
  }
}
