// Part of the kernel set template (kernels_impl.h), included inside its MK_NS namespace for one instruction set.
// Products that read weights in place: the GEMV blocks (float32 and bf16 dot products), the token-vectorized
// kernels for segments of 16+ rows, and gemv_task that schedules them.
// ---------------------------------------------------------------------------------------------
// GEMV: R weight rows × MM input rows, vectors along K, weights read in place. rp[r]: weight row r, np[r]:
// the row the next block reads in its place (prefetched past the end of rp[r]); yr[m][c + r] receives the
// sum (+ bv[r], the bias of weight row r, when bv is given).
#if MK_AVX512
template <int R, int MM, int DT>
static void gemv_block(const GemmJob& J, const char* const* rp, const char* const* np, int c, const float* const* xr, float* const* yr, const float* bv) {
  const size_t K = (size_t)J.K;
  __m512 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm512_setzero_ps();
  const size_t kv = K & ~(size_t)15;
  const size_t es = wbytes(DT);
  // Weights stream from memory once: prefetch every cache line of every row 4 KiB ahead; past the
  // end of a row, the same distance into the row the next block reads (np), so no row starts cold.
  const size_t pmask = es == 4 ? 15 : 31;
  const size_t dist = 4096 / es;
  for (size_t k = 0; k < kv; k += 16) {
    __m512 wv[R];
    if ((k & pmask) == 0) {
      if (k + dist < K)
        for (int r = 0; r < R; r++) pfw(rp[r] + (k + dist) * es);
      else
        for (int r = 0; r < R; r++) pfw(np[r] + (k + dist - K) * es);
    }
    for (int r = 0; r < R; r++) wv[r] = load16_w(rp[r], DT, k);
    for (int m = 0; m < MM; m++) {
      const __m512 xv = _mm512_loadu_ps(xr[m] + k);
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  if (kv < K) {
    const __mmask16 mk = (__mmask16)((1u << (K - kv)) - 1);
    __m512 wv[R];
    for (int r = 0; r < R; r++) wv[r] = load16_w_mask(rp[r], DT, kv, mk);
    for (int m = 0; m < MM; m++) {
      const __m512 xv = _mm512_maskz_loadu_ps(mk, xr[m] + kv);
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  if constexpr (R == 4) {
    const __m128 b = bv ? _mm_loadu_ps(bv) : _mm_setzero_ps();
    for (int m = 0; m < MM; m++) _mm_storeu_ps(yr[m] + c, _mm_add_ps(reduce4(acc[0][m], acc[1][m], acc[2][m], acc[3][m]), b));
    return;
  }
  for (int r = 0; r < R; r++) {
    const float b = bv ? bv[r] : 0.f;
    for (int m = 0; m < MM; m++) yr[m][c + r] = _mm512_reduce_add_ps(acc[r][m]) + b;
  }
}
#elif MK_AVX2
static inline __m256 load8_w(const void* w, int dt, size_t i) {
  if (dt == W_F32) return _mm256_loadu_ps((const float*)w + i);
  __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)w + i));
  if (dt == W_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}
static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
template <int R, int MM, int DT>
static void gemv_block(const GemmJob& J, const char* const* rp, const char* const*, int c, const float* const* xr, float* const* yr, const float* bv) {
  const size_t K = (size_t)J.K;
  __m256 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm256_setzero_ps();
  const size_t kv = K & ~(size_t)7;
  for (size_t k = 0; k < kv; k += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; r++) wv[r] = load8_w(rp[r], DT, k);
    for (int m = 0; m < MM; m++) {
      const __m256 xv = _mm256_loadu_ps(xr[m] + k);
      for (int r = 0; r < R; r++) acc[r][m] = _mm256_fmadd_ps(wv[r], xv, acc[r][m]);
    }
  }
  for (int r = 0; r < R; r++) {
    const float b = bv ? bv[r] : 0.f;
    for (int m = 0; m < MM; m++) {
      float s = hsum8(acc[r][m]);
      for (size_t k = kv; k < K; k++) s += load_w(rp[r], DT, k) * xr[m][k];
      yr[m][c + r] = s + b;
    }
  }
}
#else
template <int R, int MM, int DT>
static void gemv_block(const GemmJob& J, const char* const* rp, const char* const*, int c, const float* const* xr, float* const* yr, const float* bv) {
  const size_t K = (size_t)J.K;
  float acc[R][MM][4];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++)
      for (int l = 0; l < 4; l++) acc[r][m][l] = 0.f;
  const size_t kv = K & ~(size_t)3;
  for (size_t k = 0; k < kv; k += 4) {
    float wv[R][4];
    for (int r = 0; r < R; r++)
      for (int l = 0; l < 4; l++) wv[r][l] = load_w(rp[r], DT, k + l);
    for (int m = 0; m < MM; m++)
      for (int r = 0; r < R; r++)
        for (int l = 0; l < 4; l++) acc[r][m][l] += wv[r][l] * xr[m][k + l];
  }
  for (int r = 0; r < R; r++) {
    const float b = bv ? bv[r] : 0.f;
    for (int m = 0; m < MM; m++) {
      float s = (acc[r][m][0] + acc[r][m][1]) + (acc[r][m][2] + acc[r][m][3]);
      for (size_t k = kv; k < K; k++) s += load_w(rp[r], DT, k) * xr[m][k];
      yr[m][c + r] = s + b;
    }
  }
}
#endif

// The weight format is a template parameter of the blocks (and of gemv_task_dt, which runs them) so that
// their loops load one format, with no per-step test of it.
template <int R, int DT>
static void gemv_rows_dt(const GemmJob& J, const char* const* rp, const char* const* np, int c, int mm, const float* const* xr, float* const* yr, const float* bv) {
  switch (mm) {
    case 1: return gemv_block<R, 1, DT>(J, rp, np, c, xr, yr, bv);
    case 2: return gemv_block<R, 2, DT>(J, rp, np, c, xr, yr, bv);
    case 3: return gemv_block<R, 3, DT>(J, rp, np, c, xr, yr, bv);
#if MK_AVX512
    case 4: return gemv_block<R, 4, DT>(J, rp, np, c, xr, yr, bv);
    case 5: return gemv_block<R, 5, DT>(J, rp, np, c, xr, yr, bv);
    default: return gemv_block<R, 6, DT>(J, rp, np, c, xr, yr, bv);
#else
    default: return gemv_block<R, 4, DT>(J, rp, np, c, xr, yr, bv);
#endif
  }
}


#if MK_BF16
// bf16 compute with bf16 weights: R weight rows × MM bf16 input rows with vdpbf16ps, 32 k per step, one
// accumulator per (row, input) summed over k in order, then reduced with reduce4's tree whatever R is: a
// row's result does not depend on how many weight rows or inputs share its pass (batch invariance).
// vdpbf16ps issues 2 per cycle here at a latency of ~6 cycles (standalone probe): 8 inputs need 3 weight
// rows (24 accumulators + 3 weights + 1 input of 32 zmm) to issue at that rate in one pass over the weights.
// Weights stream from memory once: each row's cache lines are prefetched PF elements ahead (past the end
// of a row, into the row the next block reads, np), non-temporal (pf_once); 1-2 KiB measured better than 4 KiB.
// Inputs: rows xr[m] (IL false), or interleaved (IL true): one 64-byte-aligned block of MM × 32 values per
// 32 k, input m's at xa + k·MM + 32·m, zeros past K (see interleave_bf16).
static constexpr size_t bf16_pf_dist(int mm) { return mm <= 2 ? 512 : 1024; }  // elements ahead
// The first `dist` elements of R rows, one prefetch per cache line.
static inline void bf16_prefetch_head(const char* const* rp, int R, size_t dist) {
  for (size_t b = 0; b < 2 * dist; b += 64)
    for (int r = 0; r < R; r++) pfw(rp[r] + b);
}
template <int R, int MM, bool IL>
static void gemv_block_bf16(const GemmJob& J, const char* const* rp, const char* const* np, int c, const uint16_t* const* xr, const uint16_t* xa, float* const* yr) {
  const size_t K = (size_t)J.K;
  __m512 acc[R][MM];
  for (int r = 0; r < R; r++)
    for (int m = 0; m < MM; m++) acc[r][m] = _mm512_setzero_ps();
  const size_t kv = K & ~(size_t)31;
  constexpr size_t dist = bf16_pf_dist(MM);
  // Many inputs: each step's weights are loaded one step early, ahead of the previous step's dot products in
  // program order, so a late line does not hold up the loads behind it.
  constexpr bool PIPE = MM >= 4 && R * MM + 2 * R + 1 <= 32;
  __m512bh wn[R];
  if constexpr (PIPE)
    if (kv > 0)
      for (int r = 0; r < R; r++) wn[r] = (__m512bh)_mm512_loadu_si512((const void*)rp[r]);
  for (size_t k = 0; k < kv; k += 32) {
    if (k + dist < K)
      for (int r = 0; r < R; r++) pf_once(rp[r] + 2 * (k + dist));
    else
      for (int r = 0; r < R; r++) pf_once(np[r] + 2 * (k + dist - K));
    __m512bh wv[R];
    if constexpr (PIPE) {
      for (int r = 0; r < R; r++) wv[r] = wn[r];
      if (k + 32 < kv)
        for (int r = 0; r < R; r++) wn[r] = (__m512bh)_mm512_loadu_si512((const void*)(rp[r] + 2 * (k + 32)));
    } else {
      for (int r = 0; r < R; r++) wv[r] = (__m512bh)_mm512_loadu_si512((const void*)(rp[r] + 2 * k));
    }
    for (int m = 0; m < MM; m++) {
      const __m512bh xv = (__m512bh)(IL ? _mm512_load_si512((const void*)(xa + k * MM + 32 * m)) : _mm512_loadu_si512((const void*)(xr[m] + k)));
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_dpbf16_ps(acc[r][m], wv[r], xv);
    }
  }
  if (kv < K) {
    const __mmask32 mk = (__mmask32)((1ull << (K - kv)) - 1);
    __m512bh wv[R];
    for (int r = 0; r < R; r++) wv[r] = (__m512bh)_mm512_maskz_loadu_epi16(mk, rp[r] + 2 * kv);
    for (int m = 0; m < MM; m++) {
      const __m512bh xv = (__m512bh)(IL ? _mm512_load_si512((const void*)(xa + kv * MM + 32 * m)) : _mm512_maskz_loadu_epi16(mk, xr[m] + kv));
      for (int r = 0; r < R; r++) acc[r][m] = _mm512_dpbf16_ps(acc[r][m], wv[r], xv);
    }
  }
  const __m512 z = _mm512_setzero_ps();
  for (int m = 0; m < MM; m++)
    for (int r0 = 0; r0 < R; r0 += 4) {
      __m512 v[4] = {z, z, z, z};
      for (int r = r0; r < R && r < r0 + 4; r++) v[r - r0] = acc[r][m];
      const __m128 s = reduce4(v[0], v[1], v[2], v[3]);
      if (R - r0 >= 4) _mm_storeu_ps(yr[m] + c + r0, s);
      else _mm_mask_storeu_ps(yr[m] + c + r0, (__mmask8)((1u << (R - r0)) - 1), s);
    }
}
// Passes of at most 24 accumulators (8 × 3 at most of the 32 zmm go to weights and inputs).
template <int R, bool IL>
static void gemv_rows_bf16(const GemmJob& J, const char* const* rp, const char* const* np, int c, int mm, const uint16_t* const* xr, const uint16_t* xa, float* const* yr) {
  switch (mm) {
    case 1: return gemv_block_bf16<R, 1, IL>(J, rp, np, c, xr, xa, yr);
    case 2: return gemv_block_bf16<R, 2, IL>(J, rp, np, c, xr, xa, yr);
    case 3: if constexpr (R <= 8) return gemv_block_bf16<R, 3, IL>(J, rp, np, c, xr, xa, yr); break;
    case 4: if constexpr (R <= 6) return gemv_block_bf16<R, 4, IL>(J, rp, np, c, xr, xa, yr); break;
    case 5: if constexpr (R <= 4) return gemv_block_bf16<R, 5, IL>(J, rp, np, c, xr, xa, yr); break;
    case 6: if constexpr (R <= 4) return gemv_block_bf16<R, 6, IL>(J, rp, np, c, xr, xa, yr); break;
    case 7: if constexpr (R <= 3 && IL) return gemv_block_bf16<R, 7, IL>(J, rp, np, c, xr, xa, yr); break;
    default: if constexpr (R <= 3 && IL) return gemv_block_bf16<R, 8, IL>(J, rp, np, c, xr, xa, yr); break;
  }
}
static void gemv_pass_bf16(int R, const GemmJob& J, const char* const* rp, const char* const* np, int c, int mm, const uint16_t* xa, float* const* yr) {
  switch (R) {
    case 1: return gemv_rows_bf16<1, true>(J, rp, np, c, mm, nullptr, xa, yr);
    case 2: return gemv_rows_bf16<2, true>(J, rp, np, c, mm, nullptr, xa, yr);
    case 3: return gemv_rows_bf16<3, true>(J, rp, np, c, mm, nullptr, xa, yr);
    case 4: return gemv_rows_bf16<4, true>(J, rp, np, c, mm, nullptr, xa, yr);
    case 5: return gemv_rows_bf16<5, true>(J, rp, np, c, mm, nullptr, xa, yr);
    case 6: return gemv_rows_bf16<6, true>(J, rp, np, c, mm, nullptr, xa, yr);
    case 7: return gemv_rows_bf16<7, true>(J, rp, np, c, mm, nullptr, xa, yr);
    default: return gemv_rows_bf16<8, true>(J, rp, np, c, mm, nullptr, xa, yr);
  }
}
// Inputs of a bf16 GEMV in `left` rows: groups of equal size up to 8, each read against R weight rows per
// pass, as many as 24 accumulators allow up to 8 (more rows side by side: more memory streams in flight;
// standalone probe, 1 thread from memory: 8 rows × 1 input ~10% faster than 4, 6 × 4 ~5% faster than 4).
struct Bf16Groups {
  int size, R;
};
static inline Bf16Groups bf16_groups(int left) {
  const int ng = (left + 7) / 8, gs = (left + ng - 1) / ng;
  return {gs, std::min(8, 24 / gs)};
}
// mm input rows xr[0..mm) of K values → the interleaved layout of gemv_block_bf16 at xa (64-byte aligned):
// every step of 32 k holds the mm inputs' 32 values side by side (one aligned load each, no split lines,
// no 4 KiB-strided rows competing for the same L1 sets), zeros past K.
static void interleave_bf16(const uint16_t* const* xr, int mm, size_t K, uint16_t* xa) {
  for (size_t k = 0; k < K; k += 32) {
    const __mmask32 mk = K - k >= 32 ? ~(__mmask32)0 : (__mmask32)((1ull << (K - k)) - 1);
    for (int m = 0; m < mm; m++) _mm512_store_si512((void*)(xa + k * mm + 32 * m), _mm512_maskz_loadu_epi16(mk, xr[m] + k));
  }
}
#endif

#if MK_BF16
// float32 row → bfloat16 (round to nearest even), 16 lanes per instruction.
static inline void row_to_bf16(const float* x, size_t n, uint16_t* d) {
  size_t k = 0;
  for (; k + 16 <= n; k += 16) _mm256_storeu_si256((__m256i*)(d + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + k)));
  for (; k < n; k++) d[k] = f32_to_bf16(x[k]);
}
#endif

#if MK_AVX512
// ---- token-vectorized products (segments of 16+ rows): out^T = W · x^T with the tokens along the
// vector lanes. Each 32-bit word of a weight row — a (k, k+1) pair of bfloat16 values in bf16 compute
// (BF), a float otherwise — is broadcast straight from the row (weights read in place, no packing) and
// multiplied into 16 tokens' words of x^T (packed once per job): vdpbf16ps or a float32 FMA.

// 8 weight rows (w[r], read as 32-bit words) × NT·16 tokens of XT (row stride ld) over `steps` words → out[r][NT·16].
template <int NT, bool BF>
static void xt_block(const char* const* w, const uint32_t* XT, size_t ld, size_t steps, float* out) {
  __m512 acc[8][NT];
  for (int r = 0; r < 8; r++)
    for (int t = 0; t < NT; t++) acc[r][t] = _mm512_setzero_ps();
  for (size_t k = 0; k < steps; k++) {
    if ((k & 15) == 0)
      for (int r = 0; r < 8; r++) pfw(w[r] + 4 * (k + 256));  // 1 KiB ahead in each row (past its end: harmless)
    __m512i x[NT];
    for (int t = 0; t < NT; t++) x[t] = _mm512_load_si512((const void*)(XT + k * ld + 16 * t));
    for (int r = 0; r < 8; r++) {
      const __m512i b = _mm512_set1_epi32((int)ld32(w[r], k));
      for (int t = 0; t < NT; t++) {
#if MK_BF16
        if constexpr (BF) {
          acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)b, (__m512bh)x[t]);
          continue;
        }
#endif
        acc[r][t] = _mm512_fmadd_ps(_mm512_castsi512_ps(b), _mm512_castsi512_ps(x[t]), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < 8; r++)
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + r * NT * 16 + 16 * t, acc[r][t]);
}

// job.xt (see GemmJob::xt) from the job's input rows: 32-bit words — (k, k+1) pairs of bfloat16 bits
// from job.xbf in bf16 compute, floats from job.x otherwise — in blocks of 16 tokens × 16 words
// transposed in registers; tokens past M are zero.
static void pack_xt(const GemmJob& J, uint32_t* XT) {
  const size_t K = (size_t)J.K, n = J.bf16dot ? K / 2 : K, ld = J.xt_ld;
  const uint32_t* rows[16];
  for (int m0 = 0; m0 < (int)ld; m0 += 16) {
    const int mm = std::max(0, std::min(16, J.M - m0));
    for (int i = 0; i < 16; i++) {
      rows[i] = nullptr;
      if (i >= mm) continue;
      const size_t row = J.xrows ? (size_t)J.xrows[m0 + i] : (size_t)(m0 + i);
      rows[i] = J.bf16dot ? (const uint32_t*)(J.xbf + row * K) : (const uint32_t*)(J.x + row * K);
    }
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = rows[i] ? _mm512_castsi512_ps(_mm512_loadu_si512((const void*)(rows[i] + k))) : _mm512_setzero_ps();
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_store_ps((float*)(XT + (k + t) * ld + m0), r[t]);
    }
    for (; k < n; k++)
      for (int i = 0; i < 16; i++) XT[k * ld + m0 + i] = rows[i] ? rows[i][k] : 0u;
  }
}
#endif

static void epilogue(const GemmJob& J, int row, int c0, int nc, const float* v);

// Rows [0, M) × logical columns [n0, n1) of a job, weights in place, weight-stationary: each block of 4
// weight rows is read from memory once and then serves every input row of the job (in groups of 6) from
// L1. A task may span many tiles (run_jobs hands out long contiguous ranges so that each thread streams);
// with an epilogue the sums go through a row buffer of 64 columns, one tile at a time.
template <int DT>
static void gemv_task_dt(const GemmJob& J, int n0, int n1) {
  constexpr int TILE = 64;
  const bool epi = J.epi != EPI_NONE;
#if MK_AVX512
  constexpr int GMF = 6;
#else
  constexpr int GMF = 4;
#endif
  const int M = J.M;
  const size_t K = (size_t)J.K;
  thread_local std::vector<float> tmpv;
  thread_local std::vector<const float*> xrv;
  thread_local std::vector<float*> yrv;
  if (epi && tmpv.size() < (size_t)M * TILE) tmpv.resize((size_t)M * TILE);
  xrv.resize((size_t)M);
  yrv.resize((size_t)M);
  for (int m = 0; m < M; m++) {
    xrv[(size_t)m] = J.x + (J.xrows ? (size_t)J.xrows[m] : (size_t)m) * K;
    if (!epi) yrv[(size_t)m] = J.y + (J.yrows ? (size_t)J.yrows[m] : (size_t)m) * J.ldy;
  }
#if MK_BF16
  const bool bfk = J.bf16dot && J.wdt == W_BF16 && epi;
  thread_local std::vector<uint16_t> xbuf;
  thread_local std::vector<const uint16_t*> xbv;
  if (bfk) {
    xbv.resize((size_t)M);
    if (J.xbf) {
      for (int m = 0; m < M; m++) xbv[(size_t)m] = J.xbf + (J.xrows ? (size_t)J.xrows[m] : (size_t)m) * K;
    } else {
      if (xbuf.size() < (size_t)M * (K + 32)) xbuf.resize((size_t)M * (K + 32));
      for (int m = 0; m < M; m++) {
        uint16_t* d = xbuf.data() + (size_t)m * (K + 32);
        row_to_bf16(xrv[(size_t)m], K, d);
        xbv[(size_t)m] = d;
      }
    }
  }
  const int gm = bfk ? 6 : GMF;
  thread_local std::vector<uint16_t> xilv;  // the inputs interleaved for gemv_block_bf16 (filled on first use)
  const size_t K32 = (K + 31) / 32 * 32;
  uint16_t* xil = nullptr;
  if (bfk && xilv.size() < (size_t)M * K32 + 32) xilv.resize((size_t)M * K32 + 32);
#else
  const int gm = GMF;
#endif
  const char* rp[8];
  const char* np[8];
  float bv[4];
  const bool bias = !epi && J.bias;  // (with an epilogue the bias is added there)
  auto next_rows = [&](int nn, int cnt) {
    for (int r = 0; r < cnt; r++) {
      int q = nn + r;
      if (q >= J.N) q = J.N - 1;
      np[r] = wp(J, q);
    }
  };
  auto block = [&](int n, int R, int ma) {  // (bf16 dot products: the passes below)
    for (int r = 0; r < R; r++) {
      rp[r] = wp(J, n + r);
      if (bias) bv[r] = load_w(J.bias, J.bdt, wrow(J.wmap, n + r));
    }
    next_rows(n + R, R);
    for (int m0 = ma; m0 < M; m0 += gm) {
      const int mm = std::min(gm, M - m0);
      if (R == 4) gemv_rows_dt<4, DT>(J, rp, np, n, mm, xrv.data() + m0, yrv.data() + m0, bias ? bv : nullptr);
      else gemv_rows_dt<1, DT>(J, rp, np, n, mm, xrv.data() + m0, yrv.data() + m0, bias ? bv : nullptr);
    }
  };
  int ma = 0;  // tokens [0, ma) done by the token-vectorized kernel
#if MK_AVX512
#if MK_BF16
  const bool xt_bf = J.bf16dot && J.wdt == W_BF16;
#else
  const bool xt_bf = false;  // (no bf16 dot products in this set: such jobs are never packed token-major)
#endif
  const bool xt_f32 = !J.bf16dot && J.wdt == W_F32;
  const bool xt = J.xt && M >= 16 && epi && (xt_bf || xt_f32);  // (bias: added by the epilogue)
  if (xt) ma = M / 16 * 16;
#endif
  for (int t0 = n0; t0 < n1; t0 += TILE) {
    const int t1 = std::min(n1, t0 + TILE);
    if (epi)
      for (int m = 0; m < M; m++) yrv[(size_t)m] = tmpv.data() + (size_t)m * TILE - t0;
#if MK_AVX512
    if (xt) {
      const size_t steps = xt_bf ? K / 2 : K;
      alignas(64) float out[8 * 32];
      int n = t0;
      for (; n + 8 <= t1; n += 8) {
        const char* w[8];
        for (int r = 0; r < 8; r++) w[r] = wp(J, n + r);
        for (int m0 = 0; m0 < ma;) {
          const int nt = ma - m0 >= 32 ? 2 : 1;
          auto xblock = nt == 2 ? (xt_bf ? xt_block<2, true> : xt_block<2, false>) : (xt_bf ? xt_block<1, true> : xt_block<1, false>);
          xblock(w, J.xt + m0, J.xt_ld, steps, out);
          for (int i = 0; i < 16 * nt; i++)
            for (int r = 0; r < 8; r++) yrv[(size_t)(m0 + i)][n + r] = out[r * 16 * nt + i];
          m0 += 16 * nt;
        }
      }
      // Columns left over (fewer than 8) for those tokens: the dot-product kernel.
      for (; n < t1; n++) {
        rp[0] = wp(J, n);
        next_rows(n + 1, 1);
        for (int m0 = 0; m0 < ma; m0 += gm) {
#if MK_BF16
          if (xt_bf) {
            gemv_rows_bf16<1, false>(J, rp, np, n, std::min(gm, ma - m0), xbv.data() + m0, nullptr, yrv.data() + m0);
            continue;
          }
#endif
          gemv_rows_dt<1, DT>(J, rp, np, n, std::min(gm, ma - m0), xrv.data() + m0, yrv.data() + m0, nullptr);
        }
      }
    }
#endif
    if (ma < M) {
      int n = t0;
#if MK_BF16
      if (bfk) {
        const Bf16Groups g = bf16_groups(M - ma);
        if (!xil) {  // once per task: the inputs interleaved per group (input row m0 starts at m0 · K32 values)
          xil = xilv.data() + ((64 - ((uintptr_t)xilv.data() & 63)) & 63) / 2;
          for (int m0 = ma; m0 < M; m0 += g.size) interleave_bf16(xbv.data() + m0, std::min(g.size, M - m0), K, xil + (size_t)(m0 - ma) * K32);
        }
        // The rows a pass prefetches past its own (np) stay within the task: the pool hands the next tile
        // to whichever thread asks first, so rows past the task's end would be fetched into this core's
        // cache for the other one. The task's first pass has no predecessor to prefetch for it: its
        // rows' first PF elements are prefetched here (the lines in flight together, not one demand
        // miss per row and step).
        auto pass = [&](int R) {
          for (int r = 0; r < R; r++) rp[r] = wp(J, n + r);
          if (n == n0) bf16_prefetch_head(rp, R, bf16_pf_dist(g.size));
          for (int r = 0; r < R; r++) np[r] = n + R + r < n1 ? wp(J, n + R + r) : rp[r];
          for (int m0 = ma; m0 < M; m0 += g.size)
            gemv_pass_bf16(R, J, rp, np, n, std::min(g.size, M - m0), xil + (size_t)(m0 - ma) * K32, yrv.data() + m0);
        };
        for (; n + g.R <= t1; n += g.R) pass(g.R);
        if (n < t1) pass(t1 - n);  // (fewer than R rows left: one pass over them)
        n = t1;
      }
#endif
      for (; n + 4 <= t1; n += 4) block(n, 4, ma);
      for (; n < t1; n++) block(n, 1, ma);
    }
    if (epi)
      for (int m = 0; m < M; m++) epilogue(J, m, t0, t1 - t0, tmpv.data() + (size_t)m * TILE);
  }
}

// One instantiation per weight format: its blocks load that format, inlined into its loops.
static void gemv_task(const GemmJob& J, int n0, int n1) {
  if (J.wdt == W_F32) return gemv_task_dt<W_F32>(J, n0, n1);
  if (J.wdt == W_BF16) return gemv_task_dt<W_BF16>(J, n0, n1);
  gemv_task_dt<W_F16>(J, n0, n1);
}
