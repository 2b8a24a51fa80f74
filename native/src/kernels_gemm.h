// Part of the kernel set template (kernels_impl.h), included inside its MK_NS namespace for one instruction set.
// Weight access (every kernel reaches weight rows through wp), B / A packing, the micro-kernels and the
// packed-panel GEMM of plain products.
// ---------------------------------------------------------------------------------------------
// B packing: weight rows [n, n + nr) (nr <= NR), columns [k0 + kb, k0 + ke) → Bp[k][NR], rows >= nr zero.
static inline size_t wrow(const int32_t* wmap, int n) { return wmap ? (size_t)wmap[n] : (size_t)n; }
// The weight row of a job's logical column n (every kernel reaches weights through this).
static inline const char* wp(const GemmJob& J, int n) { return wrow_ptr(J, wrow(J.wmap, n)); }
// 32-bit word i of a weight row (any alignment).
static inline uint32_t ld32(const char* p, size_t i) {
  uint32_t v;
  std::memcpy(&v, p + 4 * i, 4);
  return v;
}
static inline uint16_t ld16(const char* p, size_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return v;
}

static void pack_b_scalar(const GemmJob& J, int n, int nr, int k0, int kb, int ke, float* Bp) {
  const int dt = J.wdt;
  const size_t es = wbytes(dt);
  for (int j = 0; j < nr; j++) {
    const char* r = wp(J, n + j) + (size_t)k0 * es;
    if (dt == W_F32) {
      for (int k = kb; k < ke; k++) {
        float f;
        std::memcpy(&f, r + 4 * (size_t)k, 4);
        Bp[(size_t)k * NR + j] = f;
      }
    } else if (dt == W_BF16) {
      for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = bf16_to_f32(ld16(r, (size_t)k));
    } else {
      for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = f16_to_f32(ld16(r, (size_t)k));
    }
  }
  for (int j = nr; j < NR; j++)
    for (int k = kb; k < ke; k++) Bp[(size_t)k * NR + j] = 0.f;
}

#if MK_AVX512
// Weights streamed from memory are prefetched with the T1 hint: measured here (Zen 5), GEMV streams
// reach ~95% of the read bandwidth with it and ~80% with T0 (whose lines crowd L1 before their use).
static inline void pfw(const void* p) { _mm_prefetch((const char*)p, _MM_HINT_T1); }
// Weights read once, multiplied by several inputs (the bf16 GEMV blocks): a non-temporal prefetch (into L1,
// kept out of the way of what stays cached) measured 3-12% faster than pfw's L2 prefetch from memory, at 1 and
// 8 inputs (bench/cpu/gemv-bandwidth.ts --base, 2026-12-06).
static inline void pf_once(const void* p) { _mm_prefetch((const char*)p, _MM_HINT_NTA); }
static inline __m512 load16_w(const void* w, int dt, size_t i) {
  if (dt == W_F32) return _mm512_loadu_ps((const float*)w + i);
  __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)w + i));
  if (dt == W_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}
static inline __m512 load16_w_mask(const void* w, int dt, size_t i, __mmask16 m) {
  if (dt == W_F32) return _mm512_maskz_loadu_ps(m, (const float*)w + i);
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t*)w + i);
  if (dt == W_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];
  for (int g = 0; g < 4; g++) {
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; j++) {
    __m512 v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    __m512 w = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    __m512 v2 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
    __m512 w2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_f32x4(v, w, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(v, w, 0xdd);
    r[4 + j] = _mm512_shuffle_f32x4(v2, w2, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(v2, w2, 0xdd);
  }
}

// Sums of the 16 lanes of each of v0..v3, as [Σv0, Σv1, Σv2, Σv3] (13 shuffles and adds instead of 4 full reductions).
static inline __m128 reduce4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
  const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(u), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// pf > 0: also prefetch the same rows pf elements further (the next K block, streamed next).
static void pack_b(const GemmJob& J, int n, int nr, int k0, int kc, float* Bp, int pf = 0) {
  if (nr != NR) {
    pack_b_scalar(J, n, nr, k0, 0, kc, Bp);
    return;
  }
  const int dt = J.wdt;
  const size_t K = (size_t)J.K;
  const int kv = kc & ~15;
  const size_t es = wbytes(dt);
  const bool pfa = pf > 0 && (size_t)(k0 + kc + pf) <= K + (size_t)pf;
  for (int h = 0; h < 2; h++) {
    const char* rp[16];
    for (int i = 0; i < 16; i++) rp[i] = wp(J, n + h * 16 + i) + (size_t)k0 * es;
    for (int kk = 0; kk < kv; kk += 16) {
      __m512 r[16];
      if (pfa && (es == 4 || (kk & 31) == 0) && k0 + kk + pf < (int)K)
        for (int i = 0; i < 16; i++) pfw(rp[i] + (size_t)(kk + pf) * es);
      for (int i = 0; i < 16; i++) r[i] = load16_w(rp[i], dt, (size_t)kk);
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_store_ps(Bp + (size_t)(kk + t) * NR + h * 16, r[t]);
    }
  }
  if (kv < kc) pack_b_scalar(J, n, nr, k0, kv, kc, Bp);
}
#else
static void pack_b(const GemmJob& J, int n, int nr, int k0, int kc, float* Bp, int = 0) { pack_b_scalar(J, n, nr, k0, 0, kc, Bp); }
#endif

// A packing with the row gather fused: rows [m0, m0 + mc) of the job, columns [k0, k0 + kc), in
// panels of MRMAX rows laid out [k][mr] (the last panel has its exact row count).
static void pack_a(const GemmJob& J, int m0, int mc, int k0, int kc, float* Ap) {
  const float* src[MRMAX];
  for (int ip = 0; ip < mc; ip += MRMAX) {
    const int mr = std::min(MRMAX, mc - ip);
    float* dst = Ap + (size_t)ip * kc;
    for (int i = 0; i < mr; i++) {
      const int row = m0 + ip + i;
      const size_t xr = J.xrows ? (size_t)J.xrows[row] : (size_t)row;
      src[i] = J.x + xr * (size_t)J.K + k0;
    }
    int kb = 0;
#if MK_AVX512
    const __mmask16 mk = (__mmask16)((1u << mr) - 1);
    for (; kb + 16 <= kc; kb += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = i < mr ? _mm512_loadu_ps(src[i] + kb) : _mm512_setzero_ps();
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_mask_storeu_ps(dst + (size_t)(kb + t) * mr, mk, r[t]);
    }
#endif
    for (int i = 0; i < mr; i++)
      for (int k = kb; k < kc; k++) dst[(size_t)k * mr + i] = src[i][k];
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernels: C[MR][NR] (+)= A[kc][MR] · B[kc][NR]; C rows through pointers, nvalid columns stored.
#if MK_AVX512
template <int MR>
static void ukernel(const float* __restrict A, const float* __restrict B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(B + (size_t)k * NR);
    const __m512 b1 = _mm512_load_ps(B + (size_t)k * NR + 16);
    for (int i = 0; i < MR; i++) {
      const __m512 a = _mm512_set1_ps(A[(size_t)k * MR + i]);
      c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
    }
  }
  const __mmask16 m0 = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
  const __mmask16 m1 = nvalid >= 32 ? (__mmask16)0xffff : nvalid <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nvalid - 16)) - 1);
  __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
  if (!acc && bias) {
    bb0 = _mm512_load_ps(bias);
    bb1 = _mm512_load_ps(bias + 16);
  }
  for (int i = 0; i < MR; i++) {
    float* c = C[i];
    if (acc) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + 16));
    } else {
      c0[i] = _mm512_add_ps(c0[i], bb0);
      c1[i] = _mm512_add_ps(c1[i], bb1);
    }
    _mm512_mask_storeu_ps(c, m0, c0[i]);
    _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
  }
}
#elif MK_AVX2
template <int MR>
static void ukernel(const float* __restrict A, const float* __restrict B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  __m256 c0[MR], c1[MR];
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(B + (size_t)k * NR);
    const __m256 b1 = _mm256_load_ps(B + (size_t)k * NR + 8);
    for (int i = 0; i < MR; i++) {
      const __m256 a = _mm256_broadcast_ss(A + (size_t)k * MR + i);
      c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
    }
  }
  alignas(32) float tmp[NR];
  for (int i = 0; i < MR; i++) {
    float* c = C[i];
    if (nvalid == NR) {
      if (acc) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(c));
        c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(c + 8));
      } else if (bias) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_load_ps(bias));
        c1[i] = _mm256_add_ps(c1[i], _mm256_load_ps(bias + 8));
      }
      _mm256_storeu_ps(c, c0[i]);
      _mm256_storeu_ps(c + 8, c1[i]);
    } else {
      _mm256_store_ps(tmp, c0[i]);
      _mm256_store_ps(tmp + 8, c1[i]);
      for (int j = 0; j < nvalid; j++) c[j] = tmp[j] + (acc ? c[j] : bias ? bias[j] : 0.f);
    }
  }
}
#else
template <int MR>
static void ukernel(const float* __restrict A, const float* __restrict B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  float c[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i][j] = 0.f;
  for (int k = 0; k < kc; k++) {
    const float* b = B + (size_t)k * NR;
    for (int i = 0; i < MR; i++) {
      const float a = A[(size_t)k * MR + i];
      for (int j = 0; j < NR; j++) c[i][j] += a * b[j];
    }
  }
  for (int i = 0; i < MR; i++) {
    float* out = C[i];
    for (int j = 0; j < nvalid; j++) out[j] = c[i][j] + (acc ? out[j] : bias ? bias[j] : 0.f);
  }
}
#endif

template <int MR>
static void ukernel_dispatch_impl(int mr, const float* A, const float* B, int kc, float* const* C, int nvalid, const float* bias, bool acc) {
  if constexpr (MR > 0) {
    if (mr == MR) return ukernel<MR>(A, B, kc, C, nvalid, bias, acc);
    return ukernel_dispatch_impl<MR - 1>(mr, A, B, kc, C, nvalid, bias, acc);
  }
}

// Columns [n0, n1) of a job: the whole weight tile is packed once (K × tile, L3-resident), then
// each block of MC rows runs over K with its C block kept in L2.
static void gemm_task(const GemmJob& J, int n0, int n1, Scratch& S) {
  const int K = J.K, M = J.M;
  const int npan = (n1 - n0 + NR - 1) / NR;
  float* biasp = nullptr;
  if (J.bias) {
    biasp = S.need_bias((size_t)npan * NR);
    for (int j = 0; j < npan * NR; j++) biasp[j] = n0 + j < n1 ? load_w(J.bias, J.bdt, (size_t)(n0 + j)) : 0.f;
  }
  float* Bp = S.need_b((size_t)npan * NR * (size_t)K);
  float* Ap = S.need_a((size_t)MC * KC);
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = std::min(KC, K - k0);
    float* blk = Bp + (size_t)k0 * npan * NR;
    for (int p = 0; p < npan; p++) pack_b(J, n0 + p * NR, std::min(NR, n1 - n0 - p * NR), k0, kc, blk + (size_t)p * NR * kc);
  }
  float* crow[MRMAX];
  for (int m0 = 0; m0 < M; m0 += MC) {
    const int mc = std::min(MC, M - m0);
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      const float* blk = Bp + (size_t)k0 * npan * NR;
      pack_a(J, m0, mc, k0, kc, Ap);
      for (int p = 0; p < npan; p++) {
        const int nvalid = std::min(NR, n1 - n0 - p * NR);
        const float* bp = blk + (size_t)p * NR * kc;
        for (int ip = 0; ip < mc; ip += MRMAX) {
          const int mr = std::min(MRMAX, mc - ip);
          for (int i = 0; i < mr; i++) {
            const int row = m0 + ip + i;
            const size_t yr = J.yrows ? (size_t)J.yrows[row] : (size_t)row;
            crow[i] = J.y + yr * J.ldy + (size_t)(n0 + p * NR);
          }
          ukernel_dispatch_impl<MRMAX>(mr, Ap + (size_t)ip * kc, bp, kc, crow, nvalid, biasp ? biasp + p * NR : nullptr, k0 > 0);
        }
      }
    }
  }
}
