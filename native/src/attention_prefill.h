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
constexpr int ATT_R = ATT_NVMAX * ATT_VL;     // rows per sub-tile
constexpr int ATT_NT = 8;                     // sub-tiles per task (sharing each widened key block)
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
    int d = 0;
#if MK_AVX512
    for (; d + 16 <= D; d += 16) _mm512_storeu_ps(o + d, ld16<DT>(src, (size_t)d));
#elif MK_AVX2
    for (; d + 8 <= D; d += 8) _mm256_storeu_ps(o + d, ld8<DT>(src, (size_t)d));
#endif
    for (; d < D; d++) o[d] = ld1<DT>(src, (size_t)d);
  }
}

// One sub-tile's state in the scratch: Qt [Dk][ATT_R], Ot [Dv][ATT_R], then M, L, LO, HI (ATT_R each).
struct AttSub {
  float *Qt, *Ot, *M, *L, *LO, *HI;
  int64_t jlo, jhi;  // the keys some row of the sub-tile sees (jhi < jlo: none)
};

// Rows [r0, r0 + NV·ATT_VL) of the task (row r = (i0 + r / nh, h0 + r % nh); rows ≥ R are padding that
// sees no key): queries transposed, visible ranges, softmax state started.
template <int NV>
static void att_sub_init(const AttnArgs& A, int b, int h0, int nh, int i0, int R, int r0, AttSub& T) {
  const int Dk = A.Dk;
  T.jlo = INT64_MAX, T.jhi = -1;
  for (int x = 0; x < NV * ATT_VL; x++) {
    const int r = r0 + x;
    if (r >= R) {
      for (int d = 0; d < Dk; d++) T.Qt[(size_t)d * ATT_R + x] = 0.f;
      T.LO[x] = 1.f, T.HI[x] = 0.f, T.M[x] = -INFINITY, T.L[x] = 0.f;
      continue;
    }
    const int i = i0 + r / nh, h = h0 + r % nh;
    const float* q = A.q + (((size_t)b * A.Sq + i) * A.Hq + h) * Dk;
    for (int d = 0; d < Dk; d++) T.Qt[(size_t)d * ATT_R + x] = q[d];
    const int64_t qi = (int64_t)A.offset + i;
    const int64_t hi = A.causal ? std::min<int64_t>(qi, (int64_t)A.Skv - 1) : (int64_t)A.Skv - 1;
    const int64_t lo = A.window > 0 ? std::max<int64_t>(0, qi - (int64_t)A.window + 1) : 0;
    T.LO[x] = (float)lo, T.HI[x] = (float)hi;  // exact below 2^24 keys
    if (lo <= hi) T.jlo = std::min(T.jlo, lo), T.jhi = std::max(T.jhi, hi);
    T.M[x] = A.sinks ? A.sinks[h] : -INFINITY;
    T.L[x] = A.sinks ? 1.f : 0.f;
  }
  std::memset(T.Ot, 0, sizeof(float) * (size_t)ATT_R * A.Dv);
}

// Keys [jb, jb + n) (widened in Kw, Vw) for one sub-tile: scores, visibility, online softmax, values.
template <int NV>
static void att_sub_block(const AttnArgs& A, const int32_t* mask, int64_t jb, int n, const float* Kw, const float* Vw,
                          size_t vstride, float* St, AttSub& T, attm* any) {
  const int Dk = A.Dk, Dv = A.Dv;
  const attv scale = av_set1(A.scale), ninf = av_set1(-INFINITY), zero = av_set1(0.f);
  att_scores_block<NV, ATT_NJ>(T.Qt, Kw, Dk, St, n);
  attv bm[NV];
  for (int v = 0; v < NV; v++) bm[v] = ninf;
  for (int t = 0; t < n; t++) {
    float* s = St + (size_t)t * ATT_R;
    const bool keep = !mask || mask[jb + t] != 0;
    const attv jf = av_set1((float)(jb + t));
    for (int v = 0; v < NV; v++) {
      const attm vis = av_and(av_le(av_load(T.LO + v * ATT_VL), jf), av_le(jf, av_load(T.HI + v * ATT_VL)));
      const attv x = keep ? av_sel(vis, av_mul(av_load(s + v * ATT_VL), scale), ninf) : ninf;
      if (keep) any[v] = av_or(any[v], vis);
      av_store(s + v * ATT_VL, x);
      bm[v] = av_max(bm[v], x);
    }
  }
  bool live = false;
  for (int v = 0; v < NV; v++) {
    live = live || av_anyset(av_gt(bm[v], ninf));
    const attv m = av_load(T.M + v * ATT_VL);
    const attm grow = av_gt(bm[v], m);  // false where the block has no visible key (bm = −inf)
    if (!av_anyset(grow)) continue;
    const attv mn = av_max(m, bm[v]);
    const attv f = av_sel(grow, av_exp(av_sub(m, mn)), av_set1(1.f));
    av_store(T.M + v * ATT_VL, mn);
    av_store(T.L + v * ATT_VL, av_mul(av_load(T.L + v * ATT_VL), f));
    for (int c = 0; c < Dv; c++) {
      float* o = T.Ot + (size_t)c * ATT_R + v * ATT_VL;
      av_store(o, av_mul(av_load(o), f));
    }
  }
  if (!live) return;  // no row of the sub-tile sees a key of this block
  for (int v = 0; v < NV; v++) {
    const attv m = av_load(T.M + v * ATT_VL);
    attv l = av_load(T.L + v * ATT_VL);
    for (int t = 0; t < n; t++) {
      float* s = St + (size_t)t * ATT_R + v * ATT_VL;
      const attv x = av_load(s);
      const attv p = av_sel(av_gt(x, ninf), av_exp(av_sub(x, m)), zero);
      av_store(s, p);
      l = av_add(l, p);
    }
    av_store(T.L + v * ATT_VL, l);
  }
  att_values_block<NV, ATT_NC>(St, Vw, vstride, n, Dv, T.Ot);
}

// The task's rows in sub-tiles of NV·ATT_VL rows (up to ATT_NT of them), every key block widened once for
// all the sub-tiles (a key row of one head is a strided read: once per task, not once per 64 rows).
template <int KT, int VT, int NV>
static void attention_tile_t(const AttnArgs& A, int b, int h0, int h1, int i0, int i1, Scratch& S) {
  const int Dk = A.Dk, Dv = A.Dv, nh = h1 - h0;
  const int R = (i1 - i0) * nh;
  const int nsub = (R + NV * ATT_VL - 1) / (NV * ATT_VL);
  const int kh = h0 / (A.Hq / A.Hkv);
  const size_t vstride = ((size_t)Dv + 15) & ~(size_t)15;
  const size_t sub = (size_t)ATT_R * (Dk + Dv + 4);
  float* base = S.need_p(sub * nsub + (size_t)ATT_R * ATT_TKB + (size_t)ATT_TKB * (Dk + vstride));
  AttSub T[ATT_NT];
  attm any[ATT_NT][NV];
  int64_t jlo = INT64_MAX, jhi = -1;
  for (int t = 0; t < nsub; t++) {
    float* p = base + sub * t;
    T[t] = {p, p + (size_t)ATT_R * Dk, p + (size_t)ATT_R * (Dk + Dv), p + (size_t)ATT_R * (Dk + Dv + 1),
            p + (size_t)ATT_R * (Dk + Dv + 2), p + (size_t)ATT_R * (Dk + Dv + 3), 0, 0};
    att_sub_init<NV>(A, b, h0, nh, i0, R, t * NV * ATT_VL, T[t]);
    for (int v = 0; v < NV; v++) any[t][v] = av_none();
    if (T[t].jhi >= T[t].jlo) jlo = std::min(jlo, T[t].jlo), jhi = std::max(jhi, T[t].jhi);
  }
  float* St = base + sub * nsub;
  float* Kw = St + (size_t)ATT_R * ATT_TKB;
  float* Vw = Kw + (size_t)ATT_TKB * Dk;
  const size_t koff = (size_t)kh * Dk * (KT == W_F32 ? 4 : 2), voff = (size_t)kh * Dv * (VT == W_F32 ? 4 : 2);
  const int64_t row0 = (int64_t)b * A.Skv;
  const int32_t* mask = A.mask ? A.mask + (size_t)b * A.Skv : nullptr;
  if (jhi >= jlo) {
    KvCursor kc(A.k, row0 + jlo), vc(A.v, row0 + jlo);
    for (int64_t jb = jlo; jb <= jhi; jb += ATT_TKB) {
      const int n = (int)std::min<int64_t>(ATT_TKB, jhi + 1 - jb);
      att_widen_rows<KT>(kc, row0, jb, n, koff, Dk, Kw, (size_t)Dk);
      att_widen_rows<VT>(vc, row0, jb, n, voff, Dv, Vw, vstride);
      for (int t = 0; t < nsub; t++)
        if (T[t].jlo <= jb + n - 1 && jb <= T[t].jhi) att_sub_block<NV>(A, mask, jb, n, Kw, Vw, vstride, St, T[t], any[t]);
    }
  }
  for (int t = 0; t < nsub; t++) {
    float anyf[NV * ATT_VL];
    for (int v = 0; v < NV; v++) av_store(anyf + v * ATT_VL, av_sel(any[t][v], av_set1(1.f), av_set1(0.f)));
    for (int x = 0; x < NV * ATT_VL; x++) {
      const int r = t * NV * ATT_VL + x;
      if (r >= R) break;
      const int i = i0 + r / nh, h = h0 + r % nh;
      float* o = A.out + (((size_t)b * A.Sq + i) * A.Hq + h) * Dv;
      if (anyf[x] == 0.f) {
        std::memset(o, 0, sizeof(float) * (size_t)Dv);
        continue;
      }
      const float inv = 1.f / T[t].L[x];
      for (int c = 0; c < Dv; c++) o[c] = T[t].Ot[(size_t)c * ATT_R + x] * inv;
    }
  }
}

// Up to three row vectors: one sub-tile of just the rows needed; more rows: sub-tiles of ATT_R rows.
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
// ≤ ATT_R·ATT_NT (KernelTable::att_tile_rows).
static void attention_tile(const AttnArgs& A, int b, int h0, int h1, int i0, int i1, Scratch& S) {
  if (A.k.fmt == W_BF16) return attention_tile_k<W_BF16>(A, b, h0, h1, i0, i1, S);
  if (A.k.fmt == W_F16) return attention_tile_k<W_F16>(A, b, h0, h1, i0, i1, S);
  attention_tile_k<W_F32>(A, b, h0, h1, i0, i1, S);
}
