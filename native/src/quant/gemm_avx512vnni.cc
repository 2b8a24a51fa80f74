// The int8 GEMM (gemm.h) on AVX-512 VNNI, one lane per block. Weight rows are packed once per run (pack:
// per group of 16 blocks, 16-byte loads and 4 × 4 dword transposes put four codes of block i in lane i of
// eight vectors, plus the 16 block scales), so the decode costs once per weight row whatever the number of
// input rows. The micro-kernel then keeps a tile of RT packed rows × CT input rows in registers: per code
// vector the RT rows' vectors and each input's vector are loaded once and meet in RT · CT vpdpbusd (each sum
// starting from the input's offset correction); per group one multiply (weight × input block scales) and one
// FMA per pair; one transposing reduction per tile at the end. Compiled with the VNNI kernel set's flags.
// q4_k and q6_k use the same lanes with their own scale work (gemm_kquant_avx512.h): one more FMA per pair and
// group (q4_k's min term) or two scaled sums per lane (q6_k's 16-value sub-blocks).
#include "gemm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "blocks.h"
#include "quant.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "gemm_kquant_avx512.h"
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace moekit {
namespace quant {
namespace {

#ifndef QG_RT
#define QG_RT 6
#define QG_CT 2
#endif
constexpr int RT = QG_RT;  // weight rows per tile
constexpr int CT = QG_CT;  // input rows per tile
constexpr int GROUP_BLOCKS = 16;

// How a format's lanes are scaled: LEGACY one scale per lane and the offset folded into the int32 start; KQ4 a
// scale and a min per lane (the input's d_a·Σq_a, a float, in place of the correction); KQ6 two scales per lane
// (values 0..15, 16..31) and two corrections.
enum Kind { LEGACY, KQ4, KQ6 };
template <int FMT>
constexpr int kind_of = FMT == Q4_K ? KQ4 : FMT == Q6_K ? KQ6 : LEGACY;
constexpr int kind_of_code(int code) { return code == Q4_K ? KQ4 : code == Q6_K ? KQ6 : LEGACY; }

// A prepared input group: 8 × 64 code bytes, 16 float scales, then 16 int32 corrections (LEGACY), 16 float
// d_a·Σq_a (KQ4), or 16 + 16 int32 corrections of values 0..15 and 16..31 (KQ6).
template <int KIND>
constexpr int GROUP_BYTES = KIND == KQ6 ? 704 : 640;
// A packed weight row's group: 8 × 64 code bytes, 16 float scales, and for the K-quants 16 more floats (the
// mins, or the scales of values 16..31).
template <int KIND>
constexpr int PACKED_GROUP = KIND == LEGACY ? 576 : 640;

// Block layout of the supported formats: bytes per block, first code byte, code offset.
template <int FMT>
struct Fmt {
  static constexpr int bytes = FMT == Q8_0 ? 34 : FMT == Q4_0 ? 18 : FMT == Q5_0 ? 22 : 17;
  static constexpr int qs = FMT == Q8_0 ? 2 : FMT == Q4_0 ? 2 : FMT == Q5_0 ? 6 : 1;
  static constexpr int offset = FMT == Q8_0 ? 128 : FMT == Q4_0 ? 8 : FMT == Q5_0 ? 16 : 12;
};

int offset_of(int code) {
  switch (code) {
    case Q8_0: return Fmt<Q8_0>::offset;
    case Q4_0: return Fmt<Q4_0>::offset;
    case Q5_0: return Fmt<Q5_0>::offset;
    case MXFP4: return Fmt<MXFP4>::offset;
    default: return -1;
  }
}

bool supports(int code) { return offset_of(code) >= 0 || code == Q4_K || code == Q6_K; }

int groups_of(int K) { return (K / 32 + GROUP_BLOCKS - 1) / GROUP_BLOCKS; }

size_t gemm_act_bytes(int code, int K) { return (size_t)groups_of(K) * (kind_of_code(code) == KQ6 ? GROUP_BYTES<KQ6> : GROUP_BYTES<LEGACY>); }

void prepare(int code, const float* x, int K, uint8_t* out) {
  const int nb = K / 32, ng = groups_of(K);
  const int kind = kind_of_code(code);
  const int off = kind == LEGACY ? offset_of(code) : 0;
  const size_t gb = kind == KQ6 ? GROUP_BYTES<KQ6> : GROUP_BYTES<LEGACY>;
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  std::memset(out, 0, (size_t)ng * gb);
  for (int b = 0; b < nb; b++) {
    uint8_t* o = out + (size_t)(b / GROUP_BLOCKS) * gb;
    const int p = kind == KQ6 ? kq::q6_lane(b % GROUP_BLOCKS) : b % GROUP_BLOCKS;  // the block's lane
    float* sc = (float*)(o + 512);
    int32_t* co = (int32_t*)(o + 576);
    const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
    // non-finite (NaN or ±inf): d NaN, codes zero (quantize_act's rule)
    if (_mm512_fpclass_ps_mask(v0, 0x99) | _mm512_fpclass_ps_mask(v1, 0x99)) {
      sc[p] = NAN;
      continue;
    }
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(v0, absmask), _mm512_and_ps(v1, absmask)));
    const float d = amax / 127.f;
    const __m512 id = _mm512_set1_ps(d > 0.f ? 1.f / d : 0.f);
    // nearest even (the default rounding mode), as nearbyint in quantize_act
    const __m512i i0 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_mul_ps(v0, id))));
    const __m512i i1 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_mul_ps(v1, id))));
    alignas(32) int32_t q[8];  // the block's 32 codes as 8 groups of 4 bytes
    _mm_store_si128((__m128i*)q, _mm512_cvtepi32_epi8(i0));
    _mm_store_si128((__m128i*)(q + 4), _mm512_cvtepi32_epi8(i1));
    for (int k = 0; k < 8; k++) std::memcpy(o + 64 * k + 4 * p, &q[k], 4);
    sc[p] = d;
    if (kind == KQ4) {
      ((float*)co)[p] = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    } else if (kind == KQ6) {
      co[p] = -32 * _mm512_reduce_add_epi32(i0);
      co[16 + p] = -32 * _mm512_reduce_add_epi32(i1);
    } else {
      co[p] = -off * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    }
  }
}

static inline uint64_t load_u16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// 16 bytes at p, p + 4·stride, p + 8·stride, p + 12·stride in the four 128-bit lanes.
__attribute__((always_inline)) static inline __m512i load_lanes(const uint8_t* p, int stride) {
  __m512i t = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i*)p));
  t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(p + 4 * stride)), 1);
  t = _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(p + 8 * stride)), 2);
  return _mm512_inserti32x4(t, _mm_loadu_si128((const __m128i*)(p + 12 * stride)), 3);
}

// 16 bytes (four dwords) of each of 16 blocks (p: the first block's, stride apart) → T[k] lane q = dword k
// of block q: lane i of a_m holds block 4i + m, and a 4 × 4 transpose of dwords within each 128-bit lane
// puts dword k of a_m's lane i in lane 4i + m of T[k].
__attribute__((always_inline)) static inline void transpose16(const uint8_t* p, int stride, __m512i T[4]) {
  const __m512i a0 = load_lanes(p, stride), a1 = load_lanes(p + stride, stride);
  const __m512i a2 = load_lanes(p + 2 * stride, stride), a3 = load_lanes(p + 3 * stride, stride);
  kq::transpose_dwords4(a0, a1, a2, a3, T);
}

// 16 whole blocks at xb → W[k] (k < 8): unsigned codes of values 4k .. 4k + 3 of each block in its lane, and
// the 16 block scales.
template <int FMT>
static inline void decode16(const uint8_t* xb, __m512i W[8], __m512& wd) {
  using F = Fmt<FMT>;
  if (FMT == Q8_0) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);  // int8 w → w + 128
    transpose16(xb + 2, F::bytes, W);
    transpose16(xb + 18, F::bytes, W + 4);
    for (int k = 0; k < 8; k++) W[k] = _mm512_xor_si512(W[k], flip);
  } else {
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512i T[4];
    transpose16(xb + F::qs, F::bytes, T);
    for (int k = 0; k < 4; k++) {
      W[k] = _mm512_and_si512(T[k], m4);
      W[4 + k] = _mm512_and_si512(_mm512_srli_epi16(T[k], 4), m4);
    }
    if (FMT == MXFP4) {
      const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)kFp4Plus12));
      for (int k = 0; k < 8; k++) W[k] = _mm512_shuffle_epi8(lut, W[k]);
    }
    if (FMT == Q5_0) {  // fifth bits: bit v of the block's qh for value v
      alignas(64) uint32_t qh[16];
      for (int q = 0; q < 16; q++) std::memcpy(&qh[q], xb + q * F::bytes + 2, 4);
      const __m512i Q = _mm512_load_si512(qh);
      const __m512i rep = _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0x00000000);  // each lane's low byte × 4
      const __m512i bit = _mm512_set1_epi32(0x08040201);
      const __m512i sixteen = _mm512_set1_epi8(16);
      for (int k = 0; k < 8; k++) {
        const __m512i v = _mm512_shuffle_epi8(_mm512_srli_epi32(Q, 4 * k), rep);
        W[k] = _mm512_mask_add_epi8(W[k], _mm512_test_epi8_mask(v, bit), W[k], sixteen);
      }
    }
  }
  if (FMT == MXFP4) {  // e8m0_half: 2^(e − 128); e < 2 the float32 subnormals
    alignas(16) uint8_t e8[16];
    for (int q = 0; q < 16; q++) e8[q] = xb[q * F::bytes];
    const __m512i e = _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i*)e8));
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const __m512i tiny = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    wd = _mm512_castsi512_ps(_mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(2)), normal, tiny));
  } else {
    uint64_t h[4];
    for (int j = 0; j < 4; j++)
      h[j] = load_u16(xb + 4 * j * F::bytes) | load_u16(xb + (4 * j + 1) * F::bytes) << 16 |
             load_u16(xb + (4 * j + 2) * F::bytes) << 32 | load_u16(xb + (4 * j + 3) * F::bytes) << 48;
    wd = _mm512_cvtph_ps(_mm256_setr_epi64x((long long)h[0], (long long)h[1], (long long)h[2], (long long)h[3]));
  }
}

// A group's weights in registers: eight code vectors and one or two floats per lane (Kind).
struct Decoded {
  __m512i W[8];
  __m512 s0, s1;  // the lane scale; KQ4 the min dmin·m_j, KQ6 the scale of values 16..31 (LEGACY: unused)
};

// Group g of a weight row of nb blocks; the last group, when the row has fewer blocks, reads its blocks from
// a zero-filled copy (codes and scales 0: they meet zero inputs, so they add nothing).
template <int FMT>
__attribute__((noinline)) static void decode_partial(const uint8_t* row, int g, int nb, Decoded& D) {
  using F = Fmt<FMT>;
  const int n = nb - GROUP_BLOCKS * g;
  alignas(64) uint8_t tmp[GROUP_BLOCKS * F::bytes + 16] = {};
  std::memcpy(tmp, row + (size_t)GROUP_BLOCKS * g * F::bytes, (size_t)n * F::bytes);
  if (FMT == MXFP4)
    for (int i = n; i < GROUP_BLOCKS; i++) tmp[i * F::bytes] = 2;  // finite scale for the empty blocks
  decode16<FMT>(tmp, D.W, D.s0);
}

// A zero super-block: the second half of a K-quant row's last group when the row has an odd number of them.
alignas(64) static const uint8_t kZeroSuper[Q6_K_BYTES + 64] = {};

template <int FMT>
static inline void decode_group(const uint8_t* row, int g, int nb, Decoded& D) {
  if constexpr (kind_of<FMT> == LEGACY) {
    if (__builtin_expect(GROUP_BLOCKS * (g + 1) <= nb, 1)) return decode16<FMT>(row + (size_t)GROUP_BLOCKS * g * Fmt<FMT>::bytes, D.W, D.s0);
    decode_partial<FMT>(row, g, nb, D);
  } else {
    constexpr int SB = FMT == Q4_K ? Q4_K_BYTES : Q6_K_BYTES;
    const uint8_t* b0 = row + (size_t)2 * g * SB;
    const uint8_t* b1 = GROUP_BLOCKS * (g + 1) <= nb ? b0 + SB : kZeroSuper;
    if constexpr (FMT == Q4_K)
      kq::decode_q4_k(b0, b1, D.W, D.s0, D.s1);
    else
      kq::decode_q6_k(b0, b1, D.W, D.s0, D.s1);
  }
}

// One group's int32 block sums of a weight row's codes W (a pointer to 8 vectors) and input a → acc, as the
// format's kind scales them. `ws` the lane scales (KQ6: of values 0..15, and ws2 of 16..31; KQ4: ws2 the mins).
template <int KIND, typename LoadW>
static inline __m512 group_sum(LoadW w, const uint8_t* a, __m512 ws, __m512 ws2, __m512 acc) {
  const __m512 as = _mm512_loadu_ps((const float*)(a + 512));
  if constexpr (KIND == KQ6) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m512i p = _mm512_loadu_si512(a + 576 + 64 * h);
#pragma GCC unroll 4
      for (int k = 4 * h; k < 4 * h + 4; k++) p = _mm512_dpbusd_epi32(p, w(k), _mm512_loadu_si512(a + 64 * k));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(h ? ws2 : ws, as), acc);
    }
    return acc;
  } else {
    __m512i p = KIND == KQ4 ? _mm512_setzero_si512() : _mm512_loadu_si512(a + 576);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) p = _mm512_dpbusd_epi32(p, w(k), _mm512_loadu_si512(a + 64 * k));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(ws, as), acc);
    if constexpr (KIND == KQ4) acc = _mm512_fnmadd_ps(ws2, _mm512_loadu_ps((const float*)(a + 576)), acc);
    return acc;
  }
}

// Few input rows (weights streamed from memory once): no packing, each weight row decoded in registers
// and multiplied by up to DCT input rows at once (1 × DCT tiles, an input vector loaded per vpdpbusd), so the
// decode overlaps the weight stream (the session-4 kernel). From DCT + 1 rows (a second decode pass) the
// packed tiles below take over.
constexpr int DCT = 8;

template <int FMT, int R, int C>
static void micro_direct(const uint8_t* const* w, const uint8_t* act, size_t ab, int K, float* y, size_t ldy) {
  constexpr int KIND = kind_of<FMT>;
  const int nb = K / 32, ng = groups_of(K);
  __m512 acc[R][C];
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 16
    for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
  for (int g = 0; g < ng; g++) {
    Decoded D[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) decode_group<FMT>(w[r], g, nb, D[r]);
#pragma GCC unroll 16
    for (int c = 0; c < C; c++) {
      const uint8_t* a = act + (size_t)c * ab + (size_t)g * GROUP_BYTES<KIND>;
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) acc[r][c] = group_sum<KIND>([&](int k) { return D[r].W[k]; }, a, D[r].s0, D[r].s1, acc[r][c]);
    }
  }
#pragma GCC unroll 16
  for (int c = 0; c < C; c++)
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) y[(size_t)c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
}

using DirectFn = void (*)(const uint8_t* const*, const uint8_t*, size_t, int, float*, size_t);

template <int FMT, int R, int... Cs>
static constexpr std::array<DirectFn, sizeof...(Cs)> direct_row_of(std::integer_sequence<int, Cs...>) {
  return {&micro_direct<FMT, R, Cs + 1>...};
}
template <int FMT, int... Rs>
static constexpr std::array<std::array<DirectFn, DCT>, sizeof...(Rs)> direct_table_of(std::integer_sequence<int, Rs...>) {
  return {direct_row_of<FMT, Rs + 1>(std::make_integer_sequence<int, DCT>{})...};
}

template <int FMT>
static void tile_fmt(const uint8_t* const* w, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy) {
  static constexpr auto fns = direct_table_of<FMT>(std::make_integer_sequence<int, 1>{});
  for (int m0 = 0; m0 < nm; m0 += DCT) {
    const int cm = std::min(DCT, nm - m0);
    for (int r0 = 0; r0 < nr; r0++) {
      const int rr = 1;
      fns[(size_t)(rr - 1)][(size_t)(cm - 1)](w + r0, act + (size_t)m0 * ab, ab, K, y + (size_t)m0 * ldy + r0, ldy);
    }
  }
}

void tile_direct(int code, const uint8_t* const* w, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy) {
  switch (code) {
    case Q8_0: return tile_fmt<Q8_0>(w, nr, act, ab, nm, K, y, ldy);
    case Q4_0: return tile_fmt<Q4_0>(w, nr, act, ab, nm, K, y, ldy);
    case Q5_0: return tile_fmt<Q5_0>(w, nr, act, ab, nm, K, y, ldy);
    case MXFP4: return tile_fmt<MXFP4>(w, nr, act, ab, nm, K, y, ldy);
    case Q4_K: return tile_fmt<Q4_K>(w, nr, act, ab, nm, K, y, ldy);
    case Q6_K: return tile_fmt<Q6_K>(w, nr, act, ab, nm, K, y, ldy);
    default: return;
  }
}

// Weight rows decoded once into the packed layout (gemm.h: per group eight code vectors and 16 float scales,
// K-quants 16 more floats), then read from L1 / L2 by every tile of input rows: the decode costs once per
// weight row, not once per tile of input rows.
template <int FMT>
static void pack_fmt(const uint8_t* const* w, int nr, int K, uint8_t* out) {
  constexpr int PG = PACKED_GROUP<kind_of<FMT>>;
  const int nb = K / 32, ng = groups_of(K);
  for (int r = 0; r < nr; r++) {
    uint8_t* o = out + (size_t)r * (size_t)ng * PG;
    for (int g = 0; g < ng; g++, o += PG) {
      Decoded D;
      decode_group<FMT>(w[r], g, nb, D);
      for (int k = 0; k < 8; k++) _mm512_store_si512(o + 64 * k, D.W[k]);
      _mm512_store_ps((float*)(o + 512), D.s0);
      if constexpr (kind_of<FMT> != LEGACY) _mm512_store_ps((float*)(o + 576), D.s1);
    }
  }
}

// The sums of 16 vectors at once (45 operations, not 16 separate reductions): vector n's sum lands in
// element 4·(n mod 4) + n / 4. Each step adds two halves of a pair of vectors, halving the values per vector.
static inline __m512 reduce16(const __m512 v[16]) {
  __m512 q[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    const __m512 a = v[4 * i], b = v[4 * i + 1], c = v[4 * i + 2], d = v[4 * i + 3];
    // 128-bit lanes: a's two halves summed in lanes 0-1, b's in 2-3; then lane j holds vector j's four partials
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    q[i] = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  }
  // within each 128-bit lane: two partials of q[0] and q[1] (q[2], q[3]), then their totals
  const __m512 u1 = _mm512_add_ps(_mm512_shuffle_ps(q[0], q[1], _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(q[0], q[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 u2 = _mm512_add_ps(_mm512_shuffle_ps(q[2], q[3], _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(q[2], q[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_ps(u1, u2, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(u1, u2, _MM_SHUFFLE(3, 1, 3, 1)));
}

// R packed weight rows × C input rows: R·C int32 block sums and R·C float accumulators in registers; per
// code vector k, the R rows' vectors and each input's vector loaded once, R·C vpdpbusd between them (the R·C
// independent chains hide its latency). Per group each sum starts from the input's offset correction and
// is scaled (weight · input block scales) into its float accumulator; KQ4 then subtracts min · d_a·Σq_a, KQ6
// runs this twice per group (code vectors 0..3 and 4..7, each half with its own scales and corrections).
template <int KIND, int R, int C>
static void micro(const uint8_t* wp, size_t wstride, const uint8_t* act, size_t ab, int ng, float* y, size_t ldy) {
  constexpr int PG = PACKED_GROUP<KIND>, AG = GROUP_BYTES<KIND>;
  constexpr int HALVES = KIND == KQ6 ? 2 : 1, KH = 8 / HALVES;
  __m512 acc[R][C];
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 16
    for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
  for (int g = 0; g < ng; g++) {
    const uint8_t* wg = wp + (size_t)g * PG;
    const uint8_t* ag = act + (size_t)g * AG;
#pragma GCC unroll 2
    for (int h = 0; h < HALVES; h++) {
      __m512i p[R][C];
#pragma GCC unroll 16
      for (int c = 0; c < C; c++) {
        const __m512i corr = KIND == KQ4 ? _mm512_setzero_si512() : _mm512_loadu_si512(ag + (size_t)c * ab + 576 + 64 * h);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) p[r][c] = corr;
      }
#pragma GCC unroll 8
      for (int k = KH * h; k < KH * h + KH; k++) {
        __m512i W[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) W[r] = _mm512_load_si512(wg + (size_t)r * wstride + 64 * k);
#pragma GCC unroll 16
        for (int c = 0; c < C; c++) {
          const __m512i av = _mm512_loadu_si512(ag + (size_t)c * ab + 64 * k);
#pragma GCC unroll 16
          for (int r = 0; r < R; r++) p[r][c] = _mm512_dpbusd_epi32(p[r][c], W[r], av);
        }
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        const __m512 wd = _mm512_load_ps((const float*)(wg + (size_t)r * wstride + 512 + 64 * h));
#pragma GCC unroll 16
        for (int c = 0; c < C; c++) {
          const __m512 as = _mm512_loadu_ps((const float*)(ag + (size_t)c * ab + 512));
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p[r][c]), _mm512_mul_ps(wd, as), acc[r][c]);
          if constexpr (KIND == KQ4)
            acc[r][c] = _mm512_fnmadd_ps(_mm512_load_ps((const float*)(wg + (size_t)r * wstride + 576)), _mm512_loadu_ps((const float*)(ag + (size_t)c * ab + 576)), acc[r][c]);
        }
      }
    }
  }
  static_assert(R * C <= 16, "one transposing reduction per tile");
  __m512 v[16];
#pragma GCC unroll 16
  for (int n = 0; n < 16; n++) v[n] = n < R * C ? acc[n % R][n / R] : _mm512_setzero_ps();
  alignas(64) float sum[16];
  _mm512_store_ps(sum, reduce16(v));
#pragma GCC unroll 16
  for (int n = 0; n < R * C; n++) y[(size_t)(n / R) * ldy + n % R] = sum[4 * (n % 4) + n / 4];
}

using MicroFn = void (*)(const uint8_t*, size_t, const uint8_t*, size_t, int, float*, size_t);

template <int KIND, int R, int... Cs>
static constexpr std::array<MicroFn, sizeof...(Cs)> row_of(std::integer_sequence<int, Cs...>) {
  return {&micro<KIND, R, Cs + 1>...};
}
template <int KIND, int... Rs>
static constexpr std::array<std::array<MicroFn, CT>, sizeof...(Rs)> table_of(std::integer_sequence<int, Rs...>) {
  return {row_of<KIND, Rs + 1>(std::make_integer_sequence<int, CT>{})...};
}

size_t packed_bytes(int code, int nr, int K) {
  return (size_t)nr * (size_t)groups_of(K) * (kind_of_code(code) == LEGACY ? PACKED_GROUP<LEGACY> : PACKED_GROUP<KQ4>);
}

void pack(int code, const uint8_t* const* w, int nr, int K, uint8_t* out) {
  switch (code) {
    case Q8_0: return pack_fmt<Q8_0>(w, nr, K, out);
    case Q4_0: return pack_fmt<Q4_0>(w, nr, K, out);
    case Q5_0: return pack_fmt<Q5_0>(w, nr, K, out);
    case MXFP4: return pack_fmt<MXFP4>(w, nr, K, out);
    case Q4_K: return pack_fmt<Q4_K>(w, nr, K, out);
    case Q6_K: return pack_fmt<Q6_K>(w, nr, K, out);
    default: return;
  }
}

template <int KIND>
static void tile_packed_kind(const uint8_t* wp, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy) {
  static constexpr auto fns = table_of<KIND>(std::make_integer_sequence<int, RT>{});
  const int ng = groups_of(K);
  const size_t ws = (size_t)ng * PACKED_GROUP<KIND>;
  // RT packed rows (RT · ng · PACKED_GROUP bytes) stay in L1 while every input row passes them.
  for (int r0 = 0; r0 < nr; r0 += RT) {
    const int rr = std::min(RT, nr - r0);
    for (int m0 = 0; m0 < nm; m0 += CT) {
      const int cm = std::min(CT, nm - m0);
      fns[(size_t)(rr - 1)][(size_t)(cm - 1)](wp + (size_t)r0 * ws, ws, act + (size_t)m0 * ab, ab, ng, y + (size_t)m0 * ldy + r0, ldy);
    }
  }
}

void tile_packed(int code, const uint8_t* wp, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy) {
  switch (kind_of_code(code)) {
    case KQ4: return tile_packed_kind<KQ4>(wp, nr, act, ab, nm, K, y, ldy);
    case KQ6: return tile_packed_kind<KQ6>(wp, nr, act, ab, nm, K, y, ldy);
    default: return tile_packed_kind<LEGACY>(wp, nr, act, ab, nm, K, y, ldy);
  }
}

}  // namespace

const GemmKernels* gemm_avx512vnni() {
  static const GemmKernels k = {"avx512vnni", supports, gemm_act_bytes, prepare, tile_direct, DCT + 1, packed_bytes, pack, tile_packed};
  return &k;
}

}  // namespace quant
}  // namespace moekit
#endif
