// Part of the kernel set template (kernels_impl.h), included inside its MK_NS namespace for one instruction set.
// Packed products with an epilogue (the fused experts layer), float32 and bf16 dot-product kernels.
// ---------------------------------------------------------------------------------------------
// bfloat16 dot-product kernels (AVX512_BF16): panels of (k, k+1) pairs, one 32-bit lane per pair.
#if MK_BF16
constexpr int KCB = 256;  // k elements per block (128 pairs)

static inline uint32_t pair_bf16(float lo, float hi) { return (uint32_t)f32_to_bf16(lo) | ((uint32_t)f32_to_bf16(hi) << 16); }

// A: rows [m0, m0 + mc) of the job, k in [k0, k0 + kc) → panels [kp][mr] of pairs (odd tail padded with 0).
static void pack_a_bf16(const GemmJob& J, int m0, int mc, int k0, int kc, uint32_t* Ap) {
  const int kp = (kc + 1) / 2;
  const float* src[MRMAX];
  for (int ip = 0; ip < mc; ip += MRMAX) {
    const int mr = std::min(MRMAX, mc - ip);
    uint32_t* dst = Ap + (size_t)ip * kp;
    for (int i = 0; i < mr; i++) {
      const int row = m0 + ip + i;
      const size_t xr = J.xrows ? (size_t)J.xrows[row] : (size_t)row;
      src[i] = J.x + xr * (size_t)J.K + k0;
    }
    const __mmask16 mk = (__mmask16)((1u << mr) - 1);
    int kb = 0;
    for (; kb + 32 <= kc; kb += 32) {
      __m512 r[16];
      for (int i = 0; i < 16; i++)
        r[i] = i < mr ? (__m512)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src[i] + kb + 16), _mm512_loadu_ps(src[i] + kb)) : _mm512_setzero_ps();
      transpose16(r);
      for (int t = 0; t < 16; t++) _mm512_mask_storeu_ps((float*)(dst + (size_t)(kb / 2 + t) * mr), mk, r[t]);
    }
    for (int i = 0; i < mr; i++)
      for (int k = kb; k < kc; k += 2) dst[(size_t)(k / 2) * mr + i] = pair_bf16(src[i][k], k + 1 < kc ? src[i][k + 1] : 0.f);
  }
}

// B: logical columns [n, n + nr), k in [k0, k0 + kc) → [kp][NR] pairs, columns >= nr zero.
static void pack_b_bf16(const GemmJob& J, int n, int nr, int k0, int kc, uint32_t* Bp, int pf = 0) {
  const int kp = (kc + 1) / 2;
  int kb = 0;
  if (nr == NR && J.wdt == W_BF16) {
    for (int h = 0; h < 2; h++) {
      const char* rp[16];
      for (int i = 0; i < 16; i++) rp[i] = wp(J, n + h * 16 + i) + 2 * (size_t)k0;
      for (int kk = 0; kk + 32 <= kc; kk += 32) {
        __m512 r[16];
        if (pf > 0 && k0 + kk + pf < J.K)
          for (int i = 0; i < 16; i++) pfw(rp[i] + 2 * (size_t)(kk + pf));
        for (int i = 0; i < 16; i++) r[i] = _mm512_castsi512_ps(_mm512_loadu_si512((const void*)(rp[i] + 2 * (size_t)kk)));
        transpose16(r);
        for (int t = 0; t < 16; t++) _mm512_store_ps((float*)(Bp + (size_t)(kk / 2 + t) * NR + h * 16), r[t]);
      }
    }
    kb = kc & ~31;
  }
  for (int j = 0; j < NR; j++) {
    if (j >= nr) {
      for (int k = kb; k < kc; k += 2) Bp[(size_t)(k / 2) * NR + j] = 0u;
      continue;
    }
    const char* row = wp(J, n + j) + (size_t)k0 * wbytes(J.wdt);
    for (int k = kb; k < kc; k += 2) {
      const float lo = load_w(row, J.wdt, (size_t)k), hi = k + 1 < kc ? load_w(row, J.wdt, (size_t)k + 1) : 0.f;
      Bp[(size_t)(k / 2) * NR + j] = pair_bf16(lo, hi);
    }
  }
  (void)kp;
}

template <int MR>
static void ukernel_bf16(const uint32_t* __restrict A, const uint32_t* __restrict B, int kp, float* const* C, int nvalid, const float*, bool acc) {
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int k = 0; k < kp; k++) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512((const void*)(B + (size_t)k * NR));
    const __m512bh b1 = (__m512bh)_mm512_load_si512((const void*)(B + (size_t)k * NR + 16));
    for (int i = 0; i < MR; i++) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32((int)A[(size_t)k * MR + i]);
      c0[i] = _mm512_dpbf16_ps(c0[i], a, b0);
      c1[i] = _mm512_dpbf16_ps(c1[i], a, b1);
    }
  }
  const __mmask16 m0 = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
  const __mmask16 m1 = nvalid >= 32 ? (__mmask16)0xffff : nvalid <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nvalid - 16)) - 1);
  for (int i = 0; i < MR; i++) {
    float* c = C[i];
    if (acc) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, c0[i]);
    _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
  }
}
template <int MR>
static void ukernel_bf16_dispatch(int mr, const uint32_t* A, const uint32_t* B, int kp, float* const* C, int nvalid, const float* bias, bool acc) {
  if constexpr (MR > 0) {
    if (mr == MR) return ukernel_bf16<MR>(A, B, kp, C, nvalid, bias, acc);
    return ukernel_bf16_dispatch<MR - 1>(mr, A, B, kp, C, nvalid, bias, acc);
  }
}
#endif

// Packed product with an epilogue. Two schedules:
// - M <= MS (the usual expert segment): A is packed once for all of K (L2-resident), then each
//   NR-wide weight panel is packed block by block right before use (L1) and read from memory once;
//   the C tile (M × NR) stays in L1 until its epilogue.
// - larger M: the weight tile is packed once for all of K, rows run in blocks of MC (as gemm_task).
template <bool BF>
static void gemm_epi_impl(const GemmJob& J, int n0, int n1, Scratch& S) {
#if MK_BF16
  constexpr int KB = BF ? KCB : KCE;
  using AT = typename std::conditional<BF, uint32_t, float>::type;
#else
  static_assert(!BF, "bf16 kernels need MK_BF16");
  constexpr int KB = KCE;
  using AT = float;
#endif
  auto units = [](int kc) { return BF ? (kc + 1) / 2 : kc; };
  const int K = J.K, M = J.M;
  const size_t Ku = (size_t)units(K);  // A/B elements along all of K (k0 is a multiple of KB, even)
  auto packA = [&](int m0, int mc, int k0, int kc, AT* dst) {
#if MK_BF16
    if constexpr (BF) return pack_a_bf16(J, m0, mc, k0, kc, dst);
    else
#endif
      return pack_a(J, m0, mc, k0, kc, (float*)dst);
  };
  auto packB = [&](int n, int nr, int k0, int kc, AT* dst, int pf) {
#if MK_BF16
    if constexpr (BF) return pack_b_bf16(J, n, nr, k0, kc, dst, pf);
    else
#endif
      return pack_b(J, n, nr, k0, kc, (float*)dst, pf);
  };
  auto ukern = [&](int mr, const AT* A, const AT* B, int kc, float* const* C, int nvalid, bool acc) {
#if MK_BF16
    if constexpr (BF) return ukernel_bf16_dispatch<MRMAX>(mr, A, B, units(kc), C, nvalid, nullptr, acc);
    else
#endif
      return ukernel_dispatch_impl<MRMAX>(mr, (const float*)A, (const float*)B, kc, C, nvalid, nullptr, acc);
  };
  float* crow[MRMAX];
  const int ms = std::max(MRMAX, (int)std::min<size_t>(12 * MRMAX, (size_t)(640 * 1024 / 4) / std::max<size_t>(1, Ku)) / MRMAX * MRMAX);
  if (M <= ms) {
    AT* Ap = (AT*)S.need_a((size_t)M * Ku);
    for (int k0 = 0; k0 < K; k0 += KB) packA(0, M, k0, std::min(KB, K - k0), Ap + (size_t)units(k0) * M);
    AT* Bp = (AT*)S.need_b((size_t)NR * units(KB));
    float* P = S.need_p((size_t)M * NR);
    for (int p0 = n0; p0 < n1; p0 += NR) {
      const int nvalid = std::min(NR, n1 - p0);
      for (int k0 = 0; k0 < K; k0 += KB) {
        const int kc = std::min(KB, K - k0);
        packB(p0, nvalid, k0, kc, Bp, KB);
        const AT* ab = Ap + (size_t)units(k0) * M;
        for (int ip = 0; ip < M; ip += MRMAX) {
          const int mr = std::min(MRMAX, M - ip);
          for (int i = 0; i < mr; i++) crow[i] = P + (size_t)(ip + i) * NR;
          ukern(mr, ab + (size_t)ip * units(kc), Bp, kc, crow, nvalid, k0 > 0);
        }
      }
      for (int m = 0; m < M; m++) epilogue(J, m, p0, nvalid, P + (size_t)m * NR);
    }
    return;
  }
  const int npan = (n1 - n0 + NR - 1) / NR;
  const size_t ld = (size_t)npan * NR;
  AT* Bp = (AT*)S.need_b(ld * Ku);
  for (int k0 = 0; k0 < K; k0 += KB) {
    const int kc = std::min(KB, K - k0);
    AT* blk = Bp + (size_t)units(k0) * ld;
    for (int p = 0; p < npan; p++) packB(n0 + p * NR, std::min(NR, n1 - n0 - p * NR), k0, kc, blk + (size_t)p * NR * units(kc), 0);
  }
  AT* Ap = (AT*)S.need_a((size_t)MC * units(KB));
  float* P = S.need_p((size_t)MC * ld);
  for (int m0 = 0; m0 < M; m0 += MC) {
    const int mc = std::min(MC, M - m0);
    for (int k0 = 0; k0 < K; k0 += KB) {
      const int kc = std::min(KB, K - k0);
      const AT* blk = Bp + (size_t)units(k0) * ld;
      packA(m0, mc, k0, kc, Ap);
      for (int p = 0; p < npan; p++) {
        const int nvalid = std::min(NR, n1 - n0 - p * NR);
        for (int ip = 0; ip < mc; ip += MRMAX) {
          const int mr = std::min(MRMAX, mc - ip);
          for (int i = 0; i < mr; i++) crow[i] = P + (size_t)(ip + i) * ld + (size_t)p * NR;
          ukern(mr, Ap + (size_t)ip * units(kc), blk + (size_t)p * NR * units(kc), kc, crow, nvalid, k0 > 0);
        }
      }
    }
    for (int i = 0; i < mc; i++)
      for (int p = 0; p < npan; p++) epilogue(J, m0 + i, n0 + p * NR, std::min(NR, n1 - n0 - p * NR), P + (size_t)i * ld + (size_t)p * NR);
  }
}

static void gemm_epi_task(const GemmJob& J, int n0, int n1, Scratch& S) { gemm_epi_impl<false>(J, n0, n1, S); }
#if MK_BF16
static void gemm_epi_bf16_task(const GemmJob& J, int n0, int n1, Scratch& S) { gemm_epi_impl<true>(J, n0, n1, S); }
#endif
