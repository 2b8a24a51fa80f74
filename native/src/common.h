// Shared declarations of the moekit native CPU backend.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "formats.h"

namespace moekit {

// A scratch vector kept between calls (thread_local) gives its memory back once it holds more than `bytes`. A
// per-call vector is zero-filled on every call, and page-faulted in wherever the heap hands it memory no call has
// touched yet (keep_freed_heap keeps freed blocks, but the heap still grows and fragments).
template <typename T>
inline void release_if_over(std::vector<T>& v, size_t bytes = (size_t)256 << 20) {
  if (v.capacity() * sizeof(T) > bytes) std::vector<T>().swap(v);
}

// n rounded up to a multiple of 64 (a row size, so that rows one after another each start on a cache line).
inline size_t round_up64(size_t n) { return (n + 63) & ~(size_t)63; }
// p rounded up to the next 64-byte boundary (a scratch vector given 64 bytes of slack: rows then start on cache lines).
template <typename T>
inline T* align64(T* p) {
  return (T*)round_up64((uintptr_t)p);
}

// Weight formats the products read (codes of formats.h).
enum WDType : int { W_F32 = FMT_F32, W_BF16 = FMT_BF16, W_F16 = FMT_F16 };
enum GateKind : int { GATE_CONCAT = 0, GATE_INTERLEAVED = 1, GATE_NONE = 2 };
enum Act : int { ACT_SILU = 0, ACT_GELU = 1, ACT_GELU_TANH = 2, ACT_GELU_FAST = 3, ACT_RELU = 4, ACT_SIGMOID = 5, ACT_TANH = 6, ACT_IDENTITY = 7 };

// A run of a job's weight rows past its first segment (bind_weight_rows, slices over 3+ segments):
// job rows [start, next run's start) lie at base, `stride` bytes apart.
struct WRowRun {
  size_t start;
  const char* base;
  size_t stride;
};

// One product y[rows] = x[rows] · w^T (+ bias) over a weight slice w[N][K] read in place.
// Row i of the product reads x + xrow(i)*K and writes y + yrow(i)*ldy, where xrow/yrow are the
// optional index lists (identity when null). Weight rows are reached through wrow_ptr only: rows
// [0, wsplit) lie at w, wstride bytes apart (the row stride: a row's length is K values of wdt, and the
// stride may be larger, e.g. a column block of a wider matrix); the rest at w2, same stride (a slice
// whose rows come from two buffers, e.g. gate and up), or, when wruns is set, in the runs wruns[0, nwruns).
struct GemmJob {
  const char* w = nullptr;  // weight rows [0, wsplit), wstride bytes apart, dtype wdt (no alignment assumed)
  const char* w2 = nullptr;  // weight rows [wsplit, ...) (when wruns is null)
  size_t wsplit = SIZE_MAX;
  size_t wstride = 0;
  const WRowRun* wruns = nullptr;  // rows [wsplit, ...) of a slice over 3+ segments (runs in row order)
  int nwruns = 0;
  int wdt = W_F32;
  const void* bias = nullptr;  // [N] or null, dtype bdt (one row: always in one buffer)
  int bdt = W_F32;
  int M = 0, N = 0, K = 0;
  const float* x = nullptr;
  const int32_t* xrows = nullptr;
  float* y = nullptr;
  size_t ldy = 0;
  const int32_t* yrows = nullptr;
  // ---- fused epilogues (fusedExperts); EPI_NONE keeps the plain product above ----
  int epi = 0;                     // EPI_NONE | EPI_GATE | EPI_SCALE | EPI_STORE (y = x·w + b)
  const int32_t* wmap = nullptr;   // logical output column -> weight row (null: identity)
  // EPI_GATE: logical columns in groups of the kernel's NR: [hg gate | hg up] (hg = min(NR/2, I - g·NR/2)),
  // output column g·NR/2 + i of y; kind GATE_NONE: plain act per column. Bias is indexed by weight row.
  int gkind = 0, gact = 0, gclamp = 0, ginter = 0;
  float galpha = 0.f, glimit = 0.f;
  const float* rscale = nullptr;   // EPI_SCALE: y row = (x·w + b) · rscale[row]
  int round_bf16 = 0;              // round the epilogue's output to bfloat16 values
  int bf16dot = 0;                 // bf16 compute: x holds bfloat16 values, products may use bf16 dot products
  const uint16_t* xbf = nullptr;   // bf16 compute: x as bfloat16 bits (same row indexing), or null (converted per task)
  uint16_t* ybf = nullptr;         // EPI_GATE with round_bf16: also store the output as bfloat16 bits here (ldy)
  // The job's inputs token-major for the token-vectorized kernels (null: not used): bf16 compute, (k, k+1)
  // pairs [K/2][xt_ld] uint32; float32 weights and compute, [K][xt_ld] floats. xt_ld = M rounded up to 16
  // (token m of the job in column m, zero beyond M).
  const uint32_t* xt = nullptr;
  size_t xt_ld = 0;
  // Block-format weights on the GEMV path: the job's input rows prepared for the quant dot products
  // (quant::quantize_act), row m at qact + m·qact_bytes (set by run_jobs).
  const uint8_t* qact = nullptr;
  size_t qact_bytes = 0;
};
enum Epi : int { EPI_NONE = 0, EPI_GATE = 1, EPI_SCALE = 2, EPI_STORE = 3 };

// Weight row r of a job (r indexes the job's [N][K] slice; a logical column maps to r through wmap).
static inline const char* wrow_ptr(const GemmJob& J, size_t r) {
  if (r < J.wsplit) return J.w + r * J.wstride;
  if (!J.wruns) return J.w2 + (r - J.wsplit) * J.wstride;
  int i = J.nwruns - 1;
  while (i > 0 && J.wruns[i].start > r) i--;
  return J.wruns[i].base + (r - J.wruns[i].start) * J.wruns[i].stride;
}

// Per-thread scratch memory (grown on demand, 64-byte aligned).
struct Scratch {
  float* a = nullptr;
  size_t a_cap = 0;
  float* b = nullptr;
  size_t b_cap = 0;
  float* bias = nullptr;
  size_t bias_cap = 0;
  float* p = nullptr;
  size_t p_cap = 0;
  ~Scratch();
  float* need_p(size_t n);
  float* need_a(size_t n);
  float* need_b(size_t n);
  float* need_bias(size_t n);
};

struct GateArgs {
  const float* p;
  float* out;
  int width;  // row width of p
  int inter;  // row width of out
  int kind, act, clamp;
  float alpha, limit;
};

// Scaled dot-product attention (see AttentionSpec in src/backends/backend.ts). q [B, Sq, Hq, Dk],
// k [B, Skv, Hkv, Dk], v [B, Skv, Hkv, Dv], out [B, Sq, Hq, Dv]; query row i sits at key offset + i.
// Keys or values as attention reads them: B·Skv token rows (Hkv heads × D values each, `row_bytes` bytes) of
// one float format (float32, bfloat16, float16), lying in runs of whole token rows: a contiguous array is one
// run; a batch of KV-cache sequences is one run per sequence (and one for its left padding), read in place.
struct KvRun {
  const char* base;  // first byte of the run's first token row
  int64_t start;     // the run's first token row (runs are in row order, contiguous, possibly empty)
};
struct KvView {
  int fmt = W_F32;
  size_t row_bytes = 0;
  const KvRun* runs = nullptr;
  int nruns = 0;
};

struct AttnArgs {
  const float* q = nullptr;
  KvView k, v;
  float* out = nullptr;
  int B = 0, Sq = 0, Skv = 0, Hq = 0, Hkv = 0, Dk = 0, Dv = 0;
  float scale = 1.f;
  int causal = 1;
  int offset = 0;
  int window = 0;                   // 0: none; else key j visible iff (offset + i) − j < window
  const int32_t* mask = nullptr;    // [B, Skv] or null (0 = padding)
  const float* sinks = nullptr;     // [Hq] or null
};

// Row-wise ops over x [R, D] (rmsNorm: w optional; layerNorm: w required, b optional; softmax: neither).
struct NormArgs {
  const float* x = nullptr;
  const float* w = nullptr;
  const float* b = nullptr;
  float* out = nullptr;
  int D = 0;
  double eps = 0.0;
};

// Rotary embedding over x viewed as [T, heads, D]; cos/sin [T, half]; pairs halfSplit or interleaved.
struct RopeArgs {
  const float* x = nullptr;
  const float* cos = nullptr;
  const float* sin = nullptr;
  float* out = nullptr;
  int heads = 0, D = 0, half = 0, interleaved = 0;
};

// A kernel set compiled for one instruction set.
struct KernelTable {
  const char* name;
  int nr;  // B panel width (the N-tile granularity)
  // Rows [0, M) × columns [n0, n1) of a job with the packed-panel GEMM.
  void (*gemm_task)(const GemmJob& job, int n0, int n1, Scratch& s);
  // Rows [0, M) × columns [n0, n1) of a job reading weights in place (small M).
  void (*gemv_task)(const GemmJob& job, int n0, int n1);
  // Rows [r0, r1) of a gate.
  void (*gate_rows)(const GateArgs& g, int r0, int r1);
  // Columns [n0, n1) (multiples of nr, except n1 = N) of a job with an epilogue (job.epi != EPI_NONE),
  // packed panels; the float32 kernel, and the bf16 dot-product kernel (null without AVX512_BF16).
  void (*gemm_epi_task)(const GemmJob& job, int n0, int n1, Scratch& s);
  void (*gemm_epi_bf16_task)(const GemmJob& job, int n0, int n1, Scratch& s);
  // Model layers: attention query rows [i0, i1) of (batch b, head h); the rest over rows [r0, r1).
  void (*attention_rows)(const AttnArgs& a, int b, int h, int i0, int i1, Scratch& s);
  // Prefill tile: query rows [i0, i1) of query heads [h0, h1) of one key-value group, (i1 − i0)·(h1 − h0) ≤
  // att_tile_rows (native/src/attention_prefill.h).
  void (*attention_tile)(const AttnArgs& a, int b, int h0, int h1, int i0, int i1, Scratch& s);
  int att_tile_rows;
  // Decode (Sq = 1): keys [j0, j1) of batch row b, every head; partial softmax state into part (see ops.cc).
  void (*attention_decode)(const AttnArgs& a, int b, int64_t j0, int64_t j1, float* part, Scratch& s);
  void (*rms_norm_rows)(const NormArgs& a, int r0, int r1);
  void (*layer_norm_rows)(const NormArgs& a, int r0, int r1);
  void (*softmax_rows)(const NormArgs& a, int r0, int r1);
  void (*rope_rows)(const RopeArgs& a, int r0, int r1);
  // Packs job.xt (the layout above) from job.xbf (bf16 compute) or job.x (float32); null where the set has
  // no token-vectorized kernels (below AVX-512).
  void (*pack_xt)(const GemmJob& job, uint32_t* xt);
  // The epilogue of a fused job (job.epi != EPI_NONE): raw sums v[0, nc) of logical columns [c0, c0 + nc)
  // (c0 a multiple of nr) of job row `row` become its output (the quantized products reuse it).
  void (*epilogue)(const GemmJob& job, int row, int c0, int nc, const float* v);
};

const KernelTable* kernels_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const KernelTable* kernels_avx2();
const KernelTable* kernels_avx512();
const KernelTable* kernels_avx512bf16();
#endif

// Scalar helpers shared by all kernel sets.
static inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
float f16_to_f32(uint16_t h);
// Element i of weights at w in format dt; w may have any alignment (views of checkpoint bytes).
static inline float load_w(const void* w, int dt, size_t i) {
  const char* p = (const char*)w;
  if (dt == W_F32) {
    float f;
    std::memcpy(&f, p + i * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p + i * 2, 2);
  return dt == W_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}
// float32 -> bfloat16, round to nearest even (NaN kept quiet).
static inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static inline float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }
static inline size_t wbytes(int dt) { return dt == W_F32 ? 4 : 2; }

float act_scalar(int act, float x);

}  // namespace moekit
