// Prefill attention (Sq > 1) as tiles: part of the kernel set template (kernels_impl.h), included after
// layers_impl.h (KvCursor, the widening loads) and kernels_epilogue.h (exp16).
//
// A tile is up to ATT_R query rows of one batch row and one key-value head: rows [i0, i1) of query heads
// [h0, h1) of that head's group (GQA: the group's heads share every key and value read), row r of the tile
// = (i0 + r / nh, h0 + r % nh). The tile's rows sit in vector lanes. Per block of ATT_TKB keys:
//   1. the block's keys and values widened to float32 rows (Kw, Vw), read once for every row of the tile;
//   2. St[j][r] = q_r · k_j as a register-blocked product: lanes over rows (Qt, the tile's queries
//      transposed once), one broadcast key value per FMA row, ATT_NJ keys × NV row vectors of sums;
//   3. scale, the causal / window / key-mask visibility (per lane: lo_r ≤ j ≤ hi_r and mask[j]), an online
//      softmax per row (block max, one rescale of the running sum and accumulator, p = e^(s − m)), all
//      vectorized over the rows;
//   4. Ot[c][r] += Σ_j p[j][r] v_j[c], again lanes over rows, ATT_NC value columns × NV row vectors.
// Keys and values are widened before any arithmetic, so a 16-bit cache gives the float32 kernel's results
// on its widened values bit for bit. A sink starts a row as (max = sink, sum = 1), as attention_rows_t.

#if MK_AVX512
constexpr int ATT_VL = 16;
using attv = __m512;
using attm = __mmask16;
static inline attv av_load(const float* p) { return _mm512_loadu_ps(p); }
static inline void av_store(float* p, attv v) { _mm512_storeu_ps(p, v); }
static inline attv av_set1(float x) { return _mm512_set1_ps(x); }
static inline attv av_fma(attv a, attv b, attv c) { return _mm512_fmadd_ps(a, b, c); }
static inline attv av_mul(attv a, attv b) { return _mm512_mul_ps(a, b); }
static inline attv av_add(attv a, attv b) { return _mm512_add_ps(a, b); }
static inline attv av_sub(attv a, attv b) { return _mm512_sub_ps(a, b); }
static inline attv av_max(attv a, attv b) { return _mm512_max_ps(a, b); }
static inline attv av_exp(attv x) { return exp16(x); }
static inline attm av_le(attv a, attv b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
static inline attm av_gt(attv a, attv b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline attm av_and(attm a, attm b) { return (attm)(a & b); }
static inline attm av_or(attm a, attm b) { return (attm)(a | b); }
static inline attm av_none() { return 0; }
static inline bool av_anyset(attm m) { return m != 0; }
static inline attv av_sel(attm m, attv a, attv b) { return _mm512_mask_blend_ps(m, b, a); }  // m ? a : b
#elif MK_AVX2
constexpr int ATT_VL = 8;
using attv = __m256;
using attm = __m256;
// e^x for x ≤ 88.7 (Cody-Waite reduction, degree-6 polynomial as exp16); x below −87.3 gives ~1e-38, not 0:
// the kernel zeroes masked scores itself.
static inline __m256 exp8(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.7f)), _mm256_set1_ps(-87.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.f));
  // 2^n: n in [−126, 128] after the clamp; 2^128 is reached only at x = 88.7 (overflow, as e^x would)
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
  return _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _mm256_set1_ps(2.f));
}
static inline attv av_load(const float* p) { return _mm256_loadu_ps(p); }
static inline void av_store(float* p, attv v) { _mm256_storeu_ps(p, v); }
static inline attv av_set1(float x) { return _mm256_set1_ps(x); }
static inline attv av_fma(attv a, attv b, attv c) { return _mm256_fmadd_ps(a, b, c); }
static inline attv av_mul(attv a, attv b) { return _mm256_mul_ps(a, b); }
static inline attv av_add(attv a, attv b) { return _mm256_add_ps(a, b); }
static inline attv av_sub(attv a, attv b) { return _mm256_sub_ps(a, b); }
static inline attv av_max(attv a, attv b) { return _mm256_max_ps(a, b); }
static inline attv av_exp(attv x) { return exp8(x); }
static inline attm av_le(attv a, attv b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
static inline attm av_gt(attv a, attv b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline attm av_and(attm a, attm b) { return _mm256_and_ps(a, b); }
static inline attm av_or(attm a, attm b) { return _mm256_or_ps(a, b); }
static inline attm av_none() { return _mm256_setzero_ps(); }
static inline bool av_anyset(attm m) { return _mm256_movemask_ps(m) != 0; }
static inline attv av_sel(attm m, attv a, attv b) { return _mm256_blendv_ps(b, a, m); }
#else
// Portable lanes: plain loops the compiler may vectorize; the exponential is std::exp per lane.
constexpr int ATT_VL = 8;
struct attv {
  float x[ATT_VL];
};
struct attm {
  bool x[ATT_VL];
};
#define MK_LANES(expr)                             \
  attv o;                                          \
  for (int u = 0; u < ATT_VL; u++) o.x[u] = (expr); \
  return o
static inline attv av_load(const float* p) { MK_LANES(p[u]); }
static inline void av_store(float* p, attv v) {
  for (int u = 0; u < ATT_VL; u++) p[u] = v.x[u];
}
static inline attv av_set1(float x) { MK_LANES(x); }
static inline attv av_fma(attv a, attv b, attv c) { MK_LANES(std::fma(a.x[u], b.x[u], c.x[u])); }
static inline attv av_mul(attv a, attv b) { MK_LANES(a.x[u] * b.x[u]); }
static inline attv av_add(attv a, attv b) { MK_LANES(a.x[u] + b.x[u]); }
static inline attv av_sub(attv a, attv b) { MK_LANES(a.x[u] - b.x[u]); }
static inline attv av_max(attv a, attv b) { MK_LANES(std::max(a.x[u], b.x[u])); }
static inline attv av_exp(attv a) { MK_LANES(std::exp(a.x[u])); }
static inline attv av_sel(attm m, attv a, attv b) { MK_LANES(m.x[u] ? a.x[u] : b.x[u]); }
#undef MK_LANES
#define MK_MASK(expr)                              \
  attm o;                                          \
  for (int u = 0; u < ATT_VL; u++) o.x[u] = (expr); \
  return o
static inline attm av_le(attv a, attv b) { MK_MASK(a.x[u] <= b.x[u]); }
static inline attm av_gt(attv a, attv b) { MK_MASK(a.x[u] > b.x[u]); }
static inline attm av_and(attm a, attm b) { MK_MASK(a.x[u] && b.x[u]); }
static inline attm av_or(attm a, attm b) { MK_MASK(a.x[u] || b.x[u]); }
static inline attm av_none() { MK_MASK(false); }
#undef MK_MASK
static inline bool av_anyset(attm m) {
  for (int u = 0; u < ATT_VL; u++)
    if (m.x[u]) return true;
  return false;
}
#endif

constexpr int ATT_NVMAX = 4;                  // row vectors per tile
constexpr int ATT_R = ATT_NVMAX * ATT_VL;     // rows per tile
constexpr int ATT_TKB = 64;                   // keys per block
constexpr int ATT_NJ = ATT_VL == 16 ? 6 : 3;  // keys per score micro-tile (NV·NJ sums in registers)
constexpr int ATT_NC = ATT_VL == 16 ? 6 : 3;  // value columns per output micro-tile

// St[j][·] = Qt · k_j for keys [j, j + NJ): NV row vectors × NJ keys of sums over d.
template <int NV, int NJ>
static inline void att_scores(const float* Qt, const float* Kw, int Dk, float* St, int j) {
  attv acc[NJ][NV];
  for (int u = 0; u < NJ; u++)
    for (int v = 0; v < NV; v++) acc[u][v] = av_set1(0.f);
  const float* k = Kw + (size_t)j * Dk;
  for (int d = 0; d < Dk; d++) {
    attv q[NV];
    for (int v = 0; v < NV; v++) q[v] = av_load(Qt + (size_t)d * ATT_R + v * ATT_VL);
    for (int u = 0; u < NJ; u++) {
      const attv kv = av_set1(k[(size_t)u * Dk + d]);
      for (int v = 0; v < NV; v++) acc[u][v] = av_fma(q[v], kv, acc[u][v]);
    }
  }
  for (int u = 0; u < NJ; u++)
    for (int v = 0; v < NV; v++) av_store(St + (size_t)(j + u) * ATT_R + v * ATT_VL, acc[u][v]);
}

// Ot[c][·] += Σ_j St[j][·] · Vw[j][c] over the block's n keys, columns [c, c + NC).
template <int NV, int NC>
static inline void att_values(const float* St, const float* Vw, size_t vstride, int n, float* Ot, int c) {
  attv acc[NC][NV];
  for (int u = 0; u < NC; u++)
    for (int v = 0; v < NV; v++) acc[u][v] = av_load(Ot + (size_t)(c + u) * ATT_R + v * ATT_VL);
  for (int j = 0; j < n; j++) {
    attv p[NV];
    for (int v = 0; v < NV; v++) p[v] = av_load(St + (size_t)j * ATT_R + v * ATT_VL);
    const float* vr = Vw + (size_t)j * vstride + c;
    for (int u = 0; u < NC; u++) {
      const attv x = av_set1(vr[u]);
      for (int v = 0; v < NV; v++) acc[u][v] = av_fma(p[v], x, acc[u][v]);
    }
  }
  for (int u = 0; u < NC; u++)
    for (int v = 0; v < NV; v++) av_store(Ot + (size_t)(c + u) * ATT_R + v * ATT_VL, acc[u][v]);
}

template <int NV, int NJ>
static void att_scores_block(const float* Qt, const float* Kw, int Dk, float* St, int n) {
  int j = 0;
  for (; j + NJ <= n; j += NJ) att_scores<NV, NJ>(Qt, Kw, Dk, St, j);
  for (; j < n; j++) att_scores<NV, 1>(Qt, Kw, Dk, St, j);
}

template <int NV, int NC>
static void att_values_block(const float* St, const float* Vw, size_t vstride, int n, int Dv, float* Ot) {
  int c = 0;
  for (; c + NC <= Dv; c += NC) att_values<NV, NC>(St, Vw, vstride, n, Ot, c);
  for (; c < Dv; c++) att_values<NV, 1>(St, Vw, vstride, n, Ot, c);
}

// Key rows [j0, j0 + n) of one head (byte offset off in each token row) widened into float32 rows of
// stride `stride`.
template <int DT>
static void att_widen_rows(KvCursor& cur, int64_t row0, int64_t j0, int n, size_t off, int D, float* dst, size_t stride) {
  for (int t = 0; t < n; t++) {
    const char* src = cur.at(row0 + j0 + t) + off;
    float* o = dst + (size_t)t * stride;
    if constexpr (DT == W_F32) std::memcpy(o, src, sizeof(float) * (size_t)D);
    else
      for (int d = 0; d < D; d++) o[d] = ld1<DT>(src, (size_t)d);
  }
}

template <int KT, int VT, int NV>
static void attention_tile_t(const AttnArgs& A, int b, int h0, int h1, int i0, int i1, Scratch& S) {
  const int Dk = A.Dk, Dv = A.Dv, nh = h1 - h0;
  const int R = (i1 - i0) * nh;  // ≤ NV·ATT_VL
  const int kh = h0 / (A.Hq / A.Hkv);
  const size_t vstride = ((size_t)Dv + 15) & ~(size_t)15;
  float* Qt = S.need_p((size_t)ATT_R * (Dk + Dv + ATT_TKB + 5) + (size_t)ATT_TKB * (Dk + vstride));
  float* Ot = Qt + (size_t)ATT_R * Dk;
  float* St = Ot + (size_t)ATT_R * Dv;
  float* M = St + (size_t)ATT_R * ATT_TKB;
  float* L = M + ATT_R;
  float* LO = L + ATT_R;
  float* HI = LO + ATT_R;
  float* ANY = HI + ATT_R;
  float* Kw = ANY + ATT_R;
  float* Vw = Kw + (size_t)ATT_TKB * Dk;
  const size_t koff = (size_t)kh * Dk * (KT == W_F32 ? 4 : 2), voff = (size_t)kh * Dv * (VT == W_F32 ? 4 : 2);
  const int64_t row0 = (int64_t)b * A.Skv;
  const int32_t* mask = A.mask ? A.mask + (size_t)b * A.Skv : nullptr;

  // per row: its query transposed into Qt, its visible keys [lo, hi] (as floats: exact below 2^24 keys)
  int64_t jlo = INT64_MAX, jhi = -1;
  for (int r = 0; r < NV * ATT_VL; r++) {
    if (r >= R) {
      for (int d = 0; d < Dk; d++) Qt[(size_t)d * ATT_R + r] = 0.f;
      LO[r] = 1.f, HI[r] = 0.f, M[r] = -INFINITY, L[r] = 0.f;
      continue;
    }
    const int i = i0 + r / nh, h = h0 + r % nh;
    const float* q = A.q + (((size_t)b * A.Sq + i) * A.Hq + h) * Dk;
    for (int d = 0; d < Dk; d++) Qt[(size_t)d * ATT_R + r] = q[d];
    const int64_t qi = (int64_t)A.offset + i;
    const int64_t hi = A.causal ? std::min<int64_t>(qi, (int64_t)A.Skv - 1) : (int64_t)A.Skv - 1;
    const int64_t lo = A.window > 0 ? std::max<int64_t>(0, qi - (int64_t)A.window + 1) : 0;
    LO[r] = (float)lo, HI[r] = (float)hi;
    if (lo <= hi) jlo = std::min(jlo, lo), jhi = std::max(jhi, hi);
    M[r] = A.sinks ? A.sinks[h] : -INFINITY;
    L[r] = A.sinks ? 1.f : 0.f;
  }
  std::memset(Ot, 0, sizeof(float) * (size_t)ATT_R * Dv);
  attm any[NV];
  for (int v = 0; v < NV; v++) any[v] = av_none();
  const attv scale = av_set1(A.scale), ninf = av_set1(-INFINITY), zero = av_set1(0.f);
  if (jhi >= jlo) {
    KvCursor kc(A.k, row0 + jlo), vc(A.v, row0 + jlo);
    for (int64_t jb = jlo; jb <= jhi; jb += ATT_TKB) {
      const int n = (int)std::min<int64_t>(ATT_TKB, jhi + 1 - jb);
      att_widen_rows<KT>(kc, row0, jb, n, koff, Dk, Kw, (size_t)Dk);
      att_scores_block<NV, ATT_NJ>(Qt, Kw, Dk, St, n);
      // visibility, block max per row, then p = e^(s − m) in place
      attv bm[NV];
      for (int v = 0; v < NV; v++) bm[v] = ninf;
      for (int t = 0; t < n; t++) {
        float* s = St + (size_t)t * ATT_R;
        const bool keep = !mask || mask[jb + t] != 0;
        const attv jf = av_set1((float)(jb + t));
        for (int v = 0; v < NV; v++) {
          const attm vis = av_and(av_le(av_load(LO + v * ATT_VL), jf), av_le(jf, av_load(HI + v * ATT_VL)));
          const attv x = keep ? av_sel(vis, av_mul(av_load(s + v * ATT_VL), scale), ninf) : ninf;
          if (keep) any[v] = av_or(any[v], vis);
          av_store(s + v * ATT_VL, x);
          bm[v] = av_max(bm[v], x);
        }
      }
      bool live = false;
      for (int v = 0; v < NV; v++) {
        const attv m = av_load(M + v * ATT_VL);
        const attm grow = av_gt(bm[v], m);  // false where the block has no visible key (bm = −inf)
        if (!av_anyset(grow)) continue;
        live = true;
        const attv mn = av_max(m, bm[v]);
        const attv f = av_sel(grow, av_exp(av_sub(m, mn)), av_set1(1.f));
        av_store(M + v * ATT_VL, mn);
        av_store(L + v * ATT_VL, av_mul(av_load(L + v * ATT_VL), f));
        for (int c = 0; c < Dv; c++) {
          float* o = Ot + (size_t)c * ATT_R + v * ATT_VL;
          av_store(o, av_mul(av_load(o), f));
        }
      }
      for (int v = 0; v < NV && !live; v++) live = av_anyset(av_gt(bm[v], ninf));
      if (!live) continue;  // no visible key in this block for any row
      for (int v = 0; v < NV; v++) {
        const attv m = av_load(M + v * ATT_VL);
        attv l = av_load(L + v * ATT_VL);
        for (int t = 0; t < n; t++) {
          float* s = St + (size_t)t * ATT_R + v * ATT_VL;
          const attv x = av_load(s);
          const attv p = av_sel(av_gt(x, ninf), av_exp(av_sub(x, m)), zero);
          av_store(s, p);
          l = av_add(l, p);
        }
        av_store(L + v * ATT_VL, l);
      }
      att_widen_rows<VT>(vc, row0, jb, n, voff, Dv, Vw, vstride);
      att_values_block<NV, ATT_NC>(St, Vw, vstride, n, Dv, Ot);
    }
  }
  for (int v = 0; v < NV; v++) {
    const attm a = any[v];
    float anyf[ATT_VL];
    av_store(anyf, av_sel(a, av_set1(1.f), zero));
    for (int u = 0; u < ATT_VL; u++) ANY[v * ATT_VL + u] = anyf[u];
  }
  for (int r = 0; r < R; r++) {
    const int i = i0 + r / nh, h = h0 + r % nh;
    float* o = A.out + (((size_t)b * A.Sq + i) * A.Hq + h) * Dv;
    if (ANY[r] == 0.f) {
      std::memset(o, 0, sizeof(float) * (size_t)Dv);
      continue;
    }
    const float inv = 1.f / L[r];
    for (int c = 0; c < Dv; c++) o[c] = Ot[(size_t)c * ATT_R + r] * inv;
  }
}

template <int KT, int VT>
static void attention_tile_v(const AttnArgs& A, int b, int h0, int h1, int i0, int i1, Scratch& S) {
  const int R = (i1 - i0) * (h1 - h0);
  if (R <= ATT_VL) return attention_tile_t<KT, VT, 1>(A, b, h0, h1, i0, i1, S);
  if (R <= 2 * ATT_VL) return attention_tile_t<KT, VT, 2>(A, b, h0, h1, i0, i1, S);
  if (R <= 3 * ATT_VL) return attention_tile_t<KT, VT, 3>(A, b, h0, h1, i0, i1, S);
  attention_tile_t<KT, VT, 4>(A, b, h0, h1, i0, i1, S);
}

template <int KT>
static void attention_tile_k(const AttnArgs& A, int b, int h0, int h1, int i0, int i1, Scratch& S) {
  if (A.v.fmt == W_BF16) return attention_tile_v<KT, W_BF16>(A, b, h0, h1, i0, i1, S);
  if (A.v.fmt == W_F16) return attention_tile_v<KT, W_F16>(A, b, h0, h1, i0, i1, S);
  attention_tile_v<KT, W_F32>(A, b, h0, h1, i0, i1, S);
}

// Query rows [i0, i1) of query heads [h0, h1) (one key-value group) of batch row b; (i1 − i0)·(h1 − h0)
// ≤ attention_tile_rows().
static void attention_tile(const AttnArgs& A, int b, int h0, int h1, int i0, int i1, Scratch& S) {
  if (A.k.fmt == W_BF16) return attention_tile_k<W_BF16>(A, b, h0, h1, i0, i1, S);
  if (A.k.fmt == W_F16) return attention_tile_k<W_F16>(A, b, h0, h1, i0, i1, S);
  attention_tile_k<W_F32>(A, b, h0, h1, i0, i1, S);
}
