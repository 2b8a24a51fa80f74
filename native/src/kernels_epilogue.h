// Part of the kernel set template (kernels_impl.h), included inside its MK_NS namespace for one instruction set.
// The gate kernels and the fused jobs' epilogues (gate, routing-weight scale, store).
// ---------------------------------------------------------------------------------------------
// Gates.
static inline float sigmoidf_(float x) { return 1.f / (1.f + std::exp(-x)); }

#if MK_AVX512
// e^x, relative error ~2 ulp over the float range (Cody-Waite reduction, degree-6 polynomial).
static inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.7f)), _mm512_set1_ps(-103.9f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
  p = _mm512_add_ps(p, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}
static inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}
// Each lane rounded to the nearest bfloat16 value (ties to even; NaN stays a quiet NaN), as f32_to_bf16.
static inline __m512 round16_bf16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  r = _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  r = _mm512_mask_mov_epi32(r, nan, _mm512_and_si512(_mm512_or_si512(u, _mm512_set1_epi32(0x00400000)), _mm512_set1_epi32((int)0xffff0000u)));
  return _mm512_castsi512_ps(r);
}
#endif

static void gate_rows(const GateArgs& g, int r0, int r1) {
  const int I = g.inter;
  for (int r = r0; r < r1; r++) {
    const float* p = g.p + (size_t)r * g.width;
    float* o = g.out + (size_t)r * I;
    int i = 0;
    if (g.kind == GATE_NONE) {
#if MK_AVX512
      if (g.act == ACT_SILU)
        for (; i + 16 <= I; i += 16) {
          const __m512 x = _mm512_loadu_ps(p + i);
          _mm512_storeu_ps(o + i, _mm512_mul_ps(x, sigmoid16(x)));
        }
#endif
      for (; i < I; i++) o[i] = act_scalar(g.act, p[i]);
    } else if (g.kind == GATE_CONCAT && g.clamp) {
      // gpt_oss's clamped SwiGLU over gate rows then up rows (llama.cpp's separate gate and up stacks)
#if MK_AVX512
      const __m512 lim = _mm512_set1_ps(g.limit), nlim = _mm512_set1_ps(-g.limit), alpha = _mm512_set1_ps(g.alpha), one = _mm512_set1_ps(1.f);
      for (; i + 16 <= I; i += 16) {
        const __m512 gg = _mm512_min_ps(_mm512_loadu_ps(p + i), lim);
        const __m512 uu = _mm512_min_ps(_mm512_max_ps(_mm512_loadu_ps(p + I + i), nlim), lim);
        _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_add_ps(uu, one), gg), sigmoid16(_mm512_mul_ps(alpha, gg))));
      }
#endif
      for (; i < I; i++) {
        const float gg = std::min(p[i], g.limit);
        const float uu = std::min(std::max(p[I + i], -g.limit), g.limit);
        o[i] = (uu + 1.f) * gg * sigmoidf_(g.alpha * gg);
      }
    } else if (g.kind == GATE_CONCAT) {
#if MK_AVX512
      if (g.act == ACT_SILU)
        for (; i + 16 <= I; i += 16) {
          const __m512 x = _mm512_loadu_ps(p + i);
          const __m512 u = _mm512_loadu_ps(p + I + i);
          _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_mul_ps(x, sigmoid16(x)), u));
        }
#endif
      for (; i < I; i++) o[i] = act_scalar(g.act, p[i]) * p[I + i];
    } else if (g.clamp) {
#if MK_AVX512
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
      const __m512 lim = _mm512_set1_ps(g.limit), nlim = _mm512_set1_ps(-g.limit), alpha = _mm512_set1_ps(g.alpha), one = _mm512_set1_ps(1.f);
      for (; i + 16 <= I; i += 16) {
        const __m512 a = _mm512_loadu_ps(p + 2 * i), b = _mm512_loadu_ps(p + 2 * i + 16);
        __m512 gg = _mm512_permutex2var_ps(a, even, b);
        __m512 uu = _mm512_permutex2var_ps(a, odd, b);
        gg = _mm512_min_ps(gg, lim);
        uu = _mm512_min_ps(_mm512_max_ps(uu, nlim), lim);
        _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_add_ps(uu, one), gg), sigmoid16(_mm512_mul_ps(alpha, gg))));
      }
#endif
      for (; i < I; i++) {
        float gg = std::min(p[2 * i], g.limit);
        float uu = std::min(std::max(p[2 * i + 1], -g.limit), g.limit);
        o[i] = (uu + 1.f) * gg * sigmoidf_(g.alpha * gg);
      }
    } else {
      for (; i < I; i++) o[i] = act_scalar(g.act, p[2 * i]) * p[2 * i + 1];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Epilogues of fused jobs: raw sums v[0, nc) of logical columns [c0, c0 + nc) of job row `row`
// (c0 a multiple of NR) become the job's output row.
static inline float bias_at(const GemmJob& J, int c) { return J.bias ? load_w(J.bias, J.bdt, wrow(J.wmap, c)) : 0.f; }

static void epilogue(const GemmJob& J, int row, int c0, int nc, const float* v) {
  float* y = J.y + (J.yrows ? (size_t)J.yrows[row] : (size_t)row) * J.ldy;
  const bool rnd = J.round_bf16 != 0;
  if (J.epi == EPI_SCALE || J.epi == EPI_STORE) {
    const float s = J.epi == EPI_SCALE ? J.rscale[row] : 1.f;
    int c = 0;
#if MK_AVX512
    if (!J.bias && !rnd && !J.wmap) {
      const __m512 sv = _mm512_set1_ps(s);
      for (; c + 16 <= nc; c += 16) _mm512_storeu_ps(y + c0 + c, _mm512_mul_ps(_mm512_loadu_ps(v + c), sv));
    }
#endif
    for (; c < nc; c++) {
      const float o = (v[c] + bias_at(J, c0 + c)) * s;
      y[c0 + c] = rnd ? round_bf16(o) : o;
    }
    return;
  }
  // EPI_GATE
  if (J.gkind == GATE_NONE) {
    uint16_t* ob = J.ybf ? J.ybf + (J.yrows ? (size_t)J.yrows[row] : (size_t)row) * J.ldy + c0 : nullptr;
    for (int c = 0; c < nc; c++) {
      const float o = act_scalar(J.gact, v[c] + bias_at(J, c0 + c));
      y[c0 + c] = rnd ? round_bf16(o) : o;
      if (ob) ob[c] = f32_to_bf16(y[c0 + c]);
    }
    return;
  }
  constexpr int HALF = NR / 2;
  for (int g0 = 0; g0 < nc; g0 += NR) {
    const int g = (c0 + g0) / NR;
    const int hg = std::min(HALF, J.ginter - g * HALF);
    alignas(64) float gt[HALF], up[HALF];
    float* o = y + (size_t)g * HALF;
    uint16_t* ob = J.ybf ? J.ybf + (J.yrows ? (size_t)J.yrows[row] : (size_t)row) * J.ldy + (size_t)g * HALF : nullptr;
    int i = 0;
#if MK_AVX512
    if (hg == 16 && (J.gclamp || J.gact == ACT_SILU)) {
      __m512 gv = _mm512_loadu_ps(v + g0), uv = _mm512_loadu_ps(v + g0 + 16);
      if (J.bias) {
        for (int j = 0; j < 16; j++) {
          gt[j] = bias_at(J, c0 + g0 + j);
          up[j] = bias_at(J, c0 + g0 + 16 + j);
        }
        gv = _mm512_add_ps(gv, _mm512_load_ps(gt));
        uv = _mm512_add_ps(uv, _mm512_load_ps(up));
      }
      __m512 r;
      if (J.gclamp) {
        const __m512 lim = _mm512_set1_ps(J.glimit);
        const __m512 gg = _mm512_min_ps(gv, lim);
        const __m512 uu = _mm512_min_ps(_mm512_max_ps(uv, _mm512_set1_ps(-J.glimit)), lim);
        r = _mm512_mul_ps(_mm512_mul_ps(_mm512_add_ps(uu, _mm512_set1_ps(1.f)), gg), sigmoid16(_mm512_mul_ps(_mm512_set1_ps(J.galpha), gg)));
      } else {
        r = _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid16(gv)), uv);
      }
      if (rnd) r = round16_bf16(r);
      _mm512_storeu_ps(o, r);
      if (ob) _mm256_storeu_si256((__m256i*)ob, _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(r), 16)));
      continue;
    }
#endif
    for (int j = 0; j < hg; j++) {
      gt[j] = v[g0 + j] + bias_at(J, c0 + g0 + j);
      up[j] = v[g0 + hg + j] + bias_at(J, c0 + g0 + hg + j);
    }
    for (; i < hg; i++) {
      float r;
      if (J.gclamp) {
        const float gg = std::min(gt[i], J.glimit);
        const float uu = std::min(std::max(up[i], -J.glimit), J.glimit);
        r = (uu + 1.f) * gg * sigmoidf_(J.galpha * gg);
      } else {
        r = act_scalar(J.gact, gt[i]) * up[i];
      }
      o[i] = rnd ? round_bf16(r) : r;
      if (ob) ob[i] = f32_to_bf16(o[i]);
    }
  }
}
