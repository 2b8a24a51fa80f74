#include "ops.h"

#include "quant/quant.h"
#include "quant_products.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <atomic>
#include <memory>
#include <numeric>
#include <thread>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace moekit {

// ---- shared scalar helpers --------------------------------------------------------------------
float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      u = sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 0x1f) {
    u = sign | 0x7f800000 | mant << 13;
  } else {
    u = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float act_scalar(int act, float x) {
  switch (act) {
    case ACT_SILU: return x / (1.f + std::exp(-x));
    // Cancellation-free forms: 1 + erf(z) = erfc(-z), 0.5 · (1 + tanh(z)) = σ(2z).
    case ACT_GELU: return 0.5f * x * std::erfc(-x * 0.70710678118654752f);
    case ACT_GELU_TANH: return x / (1.f + std::exp(-2.f * 0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case ACT_GELU_FAST: return x / (1.f + std::exp(-2.f * (x * 0.7978845608f * (1.f + 0.044715f * x * x))));
    case ACT_RELU: return x > 0.f ? x : 0.f;
    case ACT_SIGMOID: return 1.f / (1.f + std::exp(-x));
    case ACT_TANH: return std::tanh(x);
    default: return x;
  }
}

Scratch::~Scratch() {
  std::free(a);
  std::free(b);
  std::free(bias);
  std::free(p);
}
static float* grow(float*& p, size_t& cap, size_t n) {
  if (n <= cap) return p;
  std::free(p);
  size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  p = (float*)std::aligned_alloc(64, bytes);
  cap = p ? n : 0;
  return p;
}
float* Scratch::need_a(size_t n) { return grow(a, a_cap, n); }
float* Scratch::need_b(size_t n) { return grow(b, b_cap, n); }
float* Scratch::need_bias(size_t n) { return grow(bias, bias_cap, n); }
float* Scratch::need_p(size_t n) { return grow(p, p_cap, n); }

// ---- ISA dispatch ------------------------------------------------------------------------------
bool isa_supported(const std::string& name) {
  if (name == "scalar") return true;
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  if (name == "avx512") return avx512;
  if (name == "avx512bf16") return avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return false;
}

static const KernelTable* table_for(const std::string& name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (name == "avx512bf16") return kernels_avx512bf16();
  if (name == "avx512") return kernels_avx512();
  if (name == "avx2") return kernels_avx2();
#endif
  return kernels_scalar();
}

std::string best_isa() {
  const char* force = std::getenv("MOEKIT_ISA");
  if (force && isa_supported(force)) return force;
  if (isa_supported("avx512bf16")) return "avx512bf16";
  if (isa_supported("avx512")) return "avx512";
  if (isa_supported("avx2")) return "avx2";
  return "scalar";
}

int gemv_tasks_env() {
  const char* env = std::getenv("MOEKIT_GEMV_TASKS");
  return env && std::atoi(env) >= 0 ? std::atoi(env) : 8;
}

static int default_threads() {
  const char* env = std::getenv("MOEKIT_THREADS");
  if (env && std::atoi(env) > 0) return std::atoi(env);
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? (int)hc : 1;
}

// The quant kernel set for a products instruction set: AVX-512 sets use the VNNI kernels where the CPU has
// them (their VBMI variant where it has that too; else AVX2); MOEKIT_QUANT_ISA forces one (testing).
static const quant::Kernels* quant_for(const std::string& name) {
  const char* force = std::getenv("MOEKIT_QUANT_ISA");
  if (force && quant::by_name(force)) return quant::by_name(force);
  if (name.rfind("avx512", 0) == 0 && quant::by_name("avx512vbmi")) return quant::by_name("avx512vbmi");
  if (name.rfind("avx512", 0) == 0 && quant::by_name("avx512vnni")) return quant::by_name("avx512vnni");
  if (name != "scalar" && quant::by_name("avx2")) return quant::by_name("avx2");
  return quant::kernels_scalar();
}

Runtime::Runtime() : kt(table_for(best_isa())), qk(quant_for(best_isa())), pool(default_threads()), scratch((size_t)pool.threads()) {}

Runtime& runtime() {
  static Runtime rt;
  return rt;
}

bool set_isa(const std::string& name) {
  if (!isa_supported(name)) return false;
  runtime().kt = table_for(name);
  runtime().qk = quant_for(name);
  return true;
}

void set_threads(int n) {
  Runtime& rt = runtime();
  n = std::max(1, std::min(n, 255));
  rt.pool.set_threads(n);
  rt.scratch.clear();
  rt.scratch.resize((size_t)n);
}

// ---- products ----------------------------------------------------------------------------------
namespace {
struct Task {
  int job, n0, n1;
  bool gemv;
  bool quant;  // block-format weights: quant GEMV (gemv) or widened panels
};

// Quant GEMV tasks: about min(1 MiB, the call's quant GEMV bytes / (2 · threads)) of weights each, a job
// cut into a whole number of tasks per thread. Tiles of 64 rows are 50-150 KiB of block-format weights,
// and each task then starts a new stream cold: at T = 1 the experts layer read its bytes at 35-56% of the
// read probe with them, 78-86% with 1 MiB tasks (bench/quant/experts.ts, weights from memory). Half of the
// bytes per thread at most keeps small calls (a 2048-row projection) split over every thread.
long quant_task_bytes(long qgemv_bytes, int threads) { return std::min<long>(1L << 20, qgemv_bytes / (2L * threads)); }
// The rows of one of job J's quant GEMV tasks (at least `tile`, whole 64-row tiles).
int quant_gemv_tile(const GemmJob& J, long qtask_bytes, int threads, int tile) {
  if (qtask_bytes <= 0) return tile;
  const long bytes = (long)J.N * (long)J.wstride;
  const long n = ((bytes + qtask_bytes - 1) / qtask_bytes + threads - 1) / threads * threads;
  return std::max(tile, (int)((J.N + n - 1) / n + 63) / 64 * 64);
}
}  // namespace

void run_jobs(std::vector<GemmJob>& jobs) {
  Runtime& rt = runtime();
  const KernelTable* kt = rt.kt;
  const int threads = rt.pool.threads();
  const int nr = kt->nr;
  // Largest jobs first: the dynamic schedule then balances the tail with the small ones.
  auto gemv_rows = [&](const GemmJob& J) {
    if (is_block_format(J.wdt)) return quant_gemv_rows(J);
    if (J.epi == EPI_NONE) return rt.gemv_max_rows;
    return J.bf16dot && J.wdt == W_BF16 && kt->gemm_epi_bf16_task ? rt.gemv_max_rows_bf16 : rt.gemv_max_rows_epi;
  };
  std::vector<int> idx;
  long sumN = 0;
  int gemmJobs = 0;
  for (int j = 0; j < (int)jobs.size(); j++) {
    GemmJob& J = jobs[j];
    if (J.M <= 0 || J.N <= 0) continue;
    if (J.K == 0 && J.epi == EPI_NONE) {
      for (int i = 0; i < J.M; i++) {
        float* y = J.y + (J.yrows ? (size_t)J.yrows[i] : (size_t)i) * J.ldy;
        for (int n = 0; n < J.N; n++) y[n] = J.bias ? load_w(J.bias, J.bdt, (size_t)n) : 0.f;
      }
      continue;
    }
    idx.push_back(j);
    if (J.M > gemv_rows(J) && J.K > 0) {
      sumN += J.N;
      gemmJobs++;
    }
  }
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return jobs[a].M > jobs[b].M; });
  int nt = 512;
  if (gemmJobs > 0) {
    const long want = 4L * threads;
    long tiles = 0;
    for (int j : idx)
      if (jobs[j].M > gemv_rows(jobs[j])) tiles += (jobs[j].N + nt - 1) / nt;
    if (tiles < want) {
      long per = (sumN + want - 1) / want;
      nt = (int)std::max<long>(nr, ((per + nr - 1) / nr) * nr);
      nt = std::min(nt, 512);
    }
  }
  // Float GEMV tasks: contiguous runs of whole tiles, about gemv_tasks_per_thread (default 8) per thread over
  // every float GEMV row of the call, so each thread streams long runs of rows and the pool hands out tens of
  // tasks, not thousands (0: one tile each). Same-process A/B against one tile each (docs/performance.md,
  // session 10): bf16 prefill 1.01-1.13x at 1x128 and 1.02-1.12x at 4x128 by medians, faster by the minima in
  // every run; one-row decode 0.99-1.09x. Jobs on block-format weights (quant GEMV or int8 GEMM) keep their own
  // task sizes (below).
  auto quant_job = [](const GemmJob& J) { return is_block_format(J.wdt) && J.K > 0; };
  int gtile = rt.gemv_tile;
  if (rt.gemv_tasks_per_thread > 0) {
    long gemvRows = 0;
    for (int j : idx)
      if ((jobs[j].M <= gemv_rows(jobs[j]) || jobs[j].K == 0) && !quant_job(jobs[j])) gemvRows += jobs[j].N;
    const long per = gemvRows / ((long)rt.gemv_tasks_per_thread * threads);
    gtile = (int)std::max<long>(rt.gemv_tile, per / rt.gemv_tile * rt.gemv_tile);
  }
  // Quant GEMV tasks: see quant_task_bytes.
  auto quant_gemv = [&](const GemmJob& J) { return quant_job(J) && J.M <= gemv_rows(J); };
  long qgemv_bytes = 0;
  for (int j : idx)
    if (quant_gemv(jobs[j])) qgemv_bytes += (long)jobs[j].N * (long)jobs[j].wstride;
  const long qtask_bytes = quant_task_bytes(qgemv_bytes, threads);
  std::vector<Task> tasks;
  thread_local std::vector<uint8_t> qact;  // prepared inputs of the quant GEMV jobs (see release_if_over)
  prepare_quant_gemv(jobs, idx, qact);
  for (int j : idx) {
    const GemmJob& J = jobs[j];
    const bool gemv = J.M <= gemv_rows(J) || J.K == 0;
    const bool quant = quant_job(J);
    // The packed weight tile (tile × K floats per thread) stays within 16 MiB. Tiles are multiples
    // of nr (64 is one for every kernel set), as the fused epilogues need.
    const int cap = std::max(nr, (int)((4L << 20) / std::max(1, J.K)) / nr * nr);
    int tile = gemv ? (quant ? rt.gemv_tile : gtile) : std::min(nt, cap);
    if (quant_gemv(J)) tile = quant_gemv_tile(J, qtask_bytes, threads, tile);
    for (int n0 = 0; n0 < J.N; n0 += tile) tasks.push_back({j, n0, std::min(J.N, n0 + tile), gemv, quant});
  }
  if (tasks.empty()) return;
  rt.pool.run((int)tasks.size(), [&](int t, int tid) {
    const Task& T = tasks[(size_t)t];
    const GemmJob& J = jobs[(size_t)T.job];
    if (T.quant && T.gemv)
      quant_gemv_task(J, T.n0, T.n1);
    else if (T.quant)
      quant_gemm_task(J, T.n0, T.n1, rt.scratch[(size_t)tid]);
    else if (T.gemv)
      kt->gemv_task(J, T.n0, T.n1);
    else if (J.epi == EPI_NONE)
      kt->gemm_task(J, T.n0, T.n1, rt.scratch[(size_t)tid]);
    else if (J.bf16dot && J.wdt == W_BF16 && kt->gemm_epi_bf16_task)
      kt->gemm_epi_bf16_task(J, T.n0, T.n1, rt.scratch[(size_t)tid]);
    else
      kt->gemm_epi_task(J, T.n0, T.n1, rt.scratch[(size_t)tid]);
  });
  release_if_over(qact);
}

// ---- gates and slot bookkeeping -----------------------------------------------------------------
void gate(const GateArgs& g, int rows) {
  Runtime& rt = runtime();
  const int per = std::max(1, 16384 / std::max(1, g.inter));
  const int ntasks = (rows + per - 1) / per;
  const KernelTable* kt = rt.kt;
  rt.pool.run(ntasks, [&](int t, int) { kt->gate_rows(g, t * per, std::min(rows, (t + 1) * per)); });
}

void combine_slots(const float* y, int H, const float* w, int T, int K, const int32_t* slotRow, float* out) {
  Runtime& rt = runtime();
  const int per = std::max(1, 16384 / std::max(1, H * K));
  const int ntasks = (T + per - 1) / per;
  rt.pool.run(ntasks, [&](int task, int) {
    const int t1 = std::min(T, (task + 1) * per);
    for (int t = task * per; t < t1; t++) {
      float* o = out + (size_t)t * H;
      for (int c = 0; c < H; c++) o[c] = 0.f;
      for (int j = 0; j < K; j++) {
        const size_t slot = (size_t)t * K + j;
        const size_t row = slotRow ? (size_t)slotRow[slot] : slot;
        const float wt = w[slot];
        const float* yr = y + row * H;
        for (int c = 0; c < H; c++) o[c] += yr[c] * wt;
      }
    }
  });
}

void sort_by_expert(const int32_t* ids, int S, int E, int32_t* order, int32_t* position, int32_t* offsets) {
  for (int e = 0; e <= E; e++) offsets[e] = 0;
  for (int s = 0; s < S; s++) offsets[ids[s] + 1]++;
  for (int e = 0; e < E; e++) offsets[e + 1] += offsets[e];
  std::vector<int32_t> cursor(offsets, offsets + E);
  for (int s = 0; s < S; s++) {
    const int32_t p = cursor[(size_t)ids[s]]++;
    order[p] = s;
    position[s] = p;
  }
}

void gather_rows(const float* x, int H, const int32_t* rows, int n, float* out) {
  for (int i = 0; i < n; i++) std::memcpy(out + (size_t)i * H, x + (size_t)rows[i] * H, sizeof(float) * (size_t)H);
}

void accumulate_rows(float* out, int H, const float* y, const int32_t* rows, const float* w, int n) {
  for (int i = 0; i < n; i++) {
    float* o = out + (size_t)rows[i] * H;
    const float* yr = y + (size_t)i * H;
    const float wt = w[i];
    for (int c = 0; c < H; c++) o[c] = o[c] + yr[c] * wt;
  }
}

// XOR of n words with 16-byte loads, prefetching 4 KiB ahead with the hint the kernels' weight streams use
// (without it the probe reads slower than the kernels do): one thread's share of the read probe.
uint32_t xor_words(const uint32_t* p, size_t n) {
  uint32_t x = 0;
  size_t i = 0;
#if defined(__SSE2__)
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 16 <= n; i += 16) {
    const __m128i* q = (const __m128i*)(p + i);
    _mm_prefetch((const char*)(p + i) + 4096, _MM_HINT_T1);
    a0 = _mm_xor_si128(a0, _mm_loadu_si128(q));
    a1 = _mm_xor_si128(a1, _mm_loadu_si128(q + 1));
    a2 = _mm_xor_si128(a2, _mm_loadu_si128(q + 2));
    a3 = _mm_xor_si128(a3, _mm_loadu_si128(q + 3));
  }
  alignas(16) uint32_t w[4];
  _mm_store_si128((__m128i*)w, _mm_xor_si128(_mm_xor_si128(a0, a1), _mm_xor_si128(a2, a3)));
  x = w[0] ^ w[1] ^ w[2] ^ w[3];
#endif
  for (; i < n; i++) x ^= p[i];
  return x;
}

// The read-bandwidth ceiling: every thread XORs 256 KiB chunks (xor_words).
uint32_t read_probe(const uint32_t* p, size_t n) {
  Runtime& rt = runtime();
  const size_t chunk = 1 << 16;  // words
  const int ntasks = (int)((n + chunk - 1) / chunk);
  std::vector<uint32_t> part((size_t)rt.pool.threads(), 0u);
  rt.pool.run(ntasks, [&](int t, int tid) {
    const size_t lo = (size_t)t * chunk, hi = std::min(n, lo + chunk);
    part[(size_t)tid] ^= xor_words(p + lo, hi - lo);
  });
  uint32_t x = 0;
  for (uint32_t v : part) x ^= v;
  return x;
}

}  // namespace moekit

namespace moekit {

void round_to_bf16(const float* x, size_t n, float* out, uint16_t* bits) {
  for (size_t i = 0; i < n; i++) {
    const uint16_t b = f32_to_bf16(x[i]);
    out[i] = bf16_to_f32(b);
    if (bits) bits[i] = b;
  }
}

std::vector<int32_t> gate_map(int kind, int inter, int nr) {
  const int W = kind == GATE_NONE ? inter : 2 * inter;
  std::vector<int32_t> map((size_t)W);
  if (kind == GATE_NONE) {
    for (int c = 0; c < W; c++) map[(size_t)c] = c;
    return map;
  }
  const int half = nr / 2;
  for (int g = 0; g * half < inter; g++) {
    const int j0 = g * half, hg = std::min(half, inter - j0);
    for (int i = 0; i < hg; i++) {
      const int j = j0 + i;
      map[(size_t)(g * nr + i)] = kind == GATE_CONCAT ? j : 2 * j;
      map[(size_t)(g * nr + hg + i)] = kind == GATE_CONCAT ? inter + j : 2 * j + 1;
    }
  }
  return map;
}

// Grows v to at least n elements (contents unspecified).
template <typename T>
static void grow_to(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// Jobs of at least 16 rows get their inputs token-major (job.xt: bf16 compute with even K, (k, k+1) pairs;
// float32 weights and compute, floats), one 64-byte-aligned block per job in `buf`, packed across the pool,
// so the token-vectorized kernels can read weights in place.
void pack_token_major(std::vector<GemmJob>& jobs, std::vector<uint32_t>& buf) {
  Runtime& rt = runtime();
  if (!rt.kt->pack_xt) return;
  std::vector<size_t> at(jobs.size(), SIZE_MAX);
  std::vector<int> todo;
  size_t total = 0;
  for (size_t j = 0; j < jobs.size(); j++) {
    const GemmJob& J = jobs[j];
    const bool bf = J.bf16dot && J.xbf && J.wdt == W_BF16 && J.K % 2 == 0 && rt.kt->gemm_epi_bf16_task;
    const bool f32 = !J.bf16dot && J.wdt == W_F32;
    if (J.M < 16 || !(bf || f32)) continue;
    at[j] = total;
    total += (size_t)(bf ? J.K / 2 : J.K) * (size_t)((J.M + 15) / 16 * 16);
    todo.push_back((int)j);
  }
  if (todo.empty()) return;
  grow_to(buf, total + 16);
  uint32_t* base = align64(buf.data());
  for (int j : todo) {
    jobs[(size_t)j].xt = base + at[(size_t)j];
    jobs[(size_t)j].xt_ld = (size_t)((jobs[(size_t)j].M + 15) / 16 * 16);
  }
  const KernelTable* kt = rt.kt;
  rt.pool.run((int)todo.size(), [&](int t, int) {
    GemmJob& J = jobs[(size_t)todo[(size_t)t]];
    kt->pack_xt(J, (uint32_t*)J.xt);
  });
}

GemmJob expert_job(const WeightView& w, const WeightView* bias, int e, int N, int M, JobKeep& keep) {
  GemmJob J;
  bind_weight_rows(J, w, (int64_t)e * N, N, keep);
  J.bias = bias ? bias->row(e) : nullptr;
  J.bdt = bias ? bias->fmt : W_F32;
  J.M = M;
  J.N = N;
  J.K = (int)w.cols;
  return J;
}

// Jobs of a few slots (the GEMV: a decode step's experts) store their sums in weight-row order and their gate
// epilogue runs afterwards (gate_in_column_order), the same epilogue on the same sums. With the gate inside them a
// task reads its rows in the gate map's order, gate and up rows in turns every nr/2 columns: two streams that break
// every few KB. Measured at T = 1 (same process, alternated; docs/performance.md, session 15): reading those rows in
// address order instead ran 1.13-1.16x faster (q4_0, mxfp4, q4_k_m, q8_0), and the gate after them 1.03-1.06x more.
// Every quant GEMV job is gated so (quant_products.cc then never sees a map), float jobs up to 8 slots (for larger
// ones the sums would be a large buffer written and read again).
static bool gate_after(const GemmJob& J) {
  if (J.K == 0) return false;
  return is_block_format(J.wdt) ? J.M <= quant_gemv_rows(J) : J.M <= 8;
}

// The job that stores gated job J's sums, row-major [slot][weight row], W floats a slot, at y; the bias is left to
// the epilogue, as in J.
static GemmJob sums_in_row_order(const GemmJob& J, float* y, int W) {
  GemmJob R = J;
  R.epi = EPI_STORE;
  R.wmap = nullptr;
  R.bias = nullptr;
  R.round_bf16 = 0;
  R.ybf = nullptr;
  R.y = y;
  R.ldy = (size_t)W;
  R.yrows = nullptr;
  return R;
}

// The gate epilogue of each gated job (its slot rows from `lo` on in the sums buffer), the sums' columns gathered
// into the epilogue's order.
struct Gated {
  GemmJob J;
  int lo;   // its first slot
  size_t job;  // its index in the call's jobs
};
// Row m of gated job g: its W sums gathered into the epilogue's column order, then the epilogue.
static void gate_row(const Gated& g, int m, const std::vector<int32_t>& map, const float* sums, int W) {
  thread_local std::vector<float> v;
  if (v.size() < (size_t)W) v.resize((size_t)W);
  const float* row = sums + (size_t)(g.lo + m) * W;
  for (int c = 0; c < W; c++) v[(size_t)c] = row[map[(size_t)c]];
  runtime().kt->epilogue(g.J, m, 0, W, v.data());
}
static void gate_in_column_order(const std::vector<Gated>& gated, const std::vector<int32_t>& map, const float* sums, int W) {
  if (gated.empty()) return;
  Runtime& rt = runtime();
  std::vector<std::pair<const Gated*, int>> rows;
  for (const Gated& g : gated)
    for (int m = 0; m < g.J.M; m++) rows.push_back({&g, m});
  const int per = std::max(1, 16384 / std::max(1, W));
  const int ntasks = (int)((rows.size() + per - 1) / per);
  rt.pool.run(ntasks, [&](int t, int) {
    const size_t r1 = std::min(rows.size(), (size_t)(t + 1) * per);
    for (size_t i = (size_t)t * per; i < r1; i++) gate_row(*rows[i].first, rows[i].second, map, sums, W);
  });
}

static inline void spin_pause() {
#if defined(__SSE2__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// A decode step's experts (gu: each routed expert's gated projection job, down: its down job, both quant GEMV)
// in one pool run instead of two: the down tasks follow every projection task, and the first thread to reach
// expert i's down rows waits for i's projection tasks, then runs i's gate epilogue and prepares its down input
// while the other threads go on. Tasks are claimed in order, so every projection task is taken before any down
// task and a wait always has a running task to wait for (a run on one thread takes them all in order). Each
// row's products, epilogue and input are those of the two-run schedule (the same functions on the same rows), so
// the results are bit-identical to it; what goes is the wait at the end of the projections (one thread idle
// while the other finishes its last ~1 MiB task), the gate epilogue and the down inputs on the calling thread
// alone, and a second wake of the pool.
static bool fits_decode_pipeline(const std::vector<GemmJob>& gu, const std::vector<Gated>& gated, const std::vector<GemmJob>& down) {
  if (!runtime().decode_pipeline || runtime().pool.threads() < 2 || gu.empty() || gated.size() != gu.size() || down.size() != gu.size()) return false;
  for (size_t i = 0; i < gu.size(); i++) {
    const GemmJob &G = gu[i], &D = down[i];
    if (gated[i].job != i) return false;  // expert i's gate epilogue is gated[i]
    if (!is_block_format(G.wdt) || G.K <= 0 || G.M > quant_gemv_rows(G)) return false;
    if (!is_block_format(D.wdt) || D.K <= 0 || D.M > quant_gemv_rows(D) || D.M != G.M) return false;
  }
  return true;
}

static void run_decode_pipeline(std::vector<GemmJob>& gu, const std::vector<Gated>& gated, std::vector<GemmJob>& down, const std::vector<int32_t>& map,
                                const float* sums, int W) {
  Runtime& rt = runtime();
  const int threads = rt.pool.threads();
  const size_t n = gu.size();
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return gu[(size_t)a].M > gu[(size_t)b].M; });  // as run_jobs
  thread_local std::vector<uint8_t> qact, dact;
  prepare_quant_gemv(gu, idx, qact);
  size_t total = 0;
  std::vector<size_t> at(n);
  for (size_t i = 0; i < n; i++) {
    GemmJob& D = down[i];
    D.qact_bytes = gemv_act_row_bytes(D.wdt, D.K);
    at[i] = total;
    total += D.qact_bytes * (size_t)D.M;
  }
  grow_to(dact, total + 64);
  uint8_t* const base = align64(dact.data());
  for (size_t i = 0; i < n; i++) down[i].qact = base + at[i];
  struct Part {
    int job, n0, n1;
    bool down;
  };
  std::vector<Part> parts;
  std::unique_ptr<std::atomic<int>[]> left(new std::atomic<int>[n]), state(new std::atomic<int>[n]);
  for (const bool d : {false, true}) {
    const std::vector<GemmJob>& jobs = d ? down : gu;
    long bytes = 0;
    for (const GemmJob& J : jobs) bytes += (long)J.N * (long)J.wstride;
    const long qtask = quant_task_bytes(bytes, threads);
    for (int i : idx) {
      const GemmJob& J = jobs[(size_t)i];
      const int tile = quant_gemv_tile(J, qtask, threads, rt.gemv_tile);
      int count = 0;
      for (int n0 = 0; n0 < J.N; n0 += tile, count++) parts.push_back({i, n0, std::min(J.N, n0 + tile), d});
      if (d) continue;
      left[(size_t)i].store(count, std::memory_order_relaxed);
      state[(size_t)i].store(0, std::memory_order_relaxed);
    }
  }
  // 0: not started, 1: being made ready, 2: the down input ready
  auto ready = [&](size_t i) {
    if (state[i].load(std::memory_order_acquire) == 2) return;
    int idle = 0;
    if (state[i].compare_exchange_strong(idle, 1, std::memory_order_acq_rel)) {
      while (left[i].load(std::memory_order_acquire) > 0) spin_pause();
      for (int m = 0; m < gated[i].J.M; m++) gate_row(gated[i], m, map, sums, W);
      const GemmJob& D = down[i];
      for (int m = 0; m < D.M; m++) quant::quantize_act(D.wdt, D.x + (size_t)m * (size_t)D.K, D.K, (uint8_t*)D.qact + D.qact_bytes * (size_t)m);
      state[i].store(2, std::memory_order_release);
      return;
    }
    while (state[i].load(std::memory_order_acquire) != 2) spin_pause();
  };
  rt.pool.run((int)parts.size(), [&](int t, int) {
    const Part& P = parts[(size_t)t];
    if (!P.down) {
      quant_gemv_task(gu[(size_t)P.job], P.n0, P.n1);
      left[(size_t)P.job].fetch_sub(1, std::memory_order_release);
      return;
    }
    ready((size_t)P.job);
    quant_gemv_task(down[(size_t)P.job], P.n0, P.n1);
  });
  release_if_over(qact);
  release_if_over(dact);
}

void experts_forward(const ExpertsArgs& a) {
  Runtime& rt = runtime();
  const int T = a.T, H = a.H, K = a.K, E = a.E, I = a.I;
  const int S = T * K;
  const int W = a.gkind == GATE_NONE ? I : 2 * I;
  const bool bf = a.compute == 1;
  // Slots counting-sorted by expert (stable).
  std::vector<int32_t> order((size_t)S), position((size_t)S), offsets((size_t)E + 1);
  sort_by_expert(a.ids, S, E, order.data(), position.data(), offsets.data());
  std::vector<int32_t> xrows((size_t)S);
  std::vector<float> rws((size_t)S);
  for (int i = 0; i < S; i++) {
    xrows[(size_t)i] = order[(size_t)i] / K;
    rws[(size_t)i] = a.rw[order[(size_t)i]];
  }
  // Large intermediates live in buffers kept by the calling thread between calls (fresh ones would be
  // page-faulted and zeroed on every call); ones over 256 MiB are released at the end.
  thread_local std::vector<float> xb, act, ys, sums;
  thread_local std::vector<uint16_t> xh, acth;  // bf16 compute: the products' inputs as bfloat16 bits
  thread_local std::vector<uint32_t> xtb;       // bf16 compute: the same, token-major pairs (pack_token_major)
  const float* x = a.x;
  if (bf) {
    grow_to(xb, (size_t)T * H);
    grow_to(xh, (size_t)T * H);
    grow_to(acth, (size_t)S * I);
    round_to_bf16(a.x, (size_t)T * H, xb.data(), xh.data());
    x = xb.data();
  }
  // The gate map of the last (kind, width, nr) this thread used (the next call's, in a model: the same dims;
  // a decode step's layer spent ~1.3 µs making it again).
  thread_local std::vector<int32_t> map;
  thread_local int map_of[3] = {-1, -1, -1};
  if (map_of[0] != a.gkind || map_of[1] != I || map_of[2] != rt.kt->nr) {
    map = gate_map(a.gkind, I, rt.kt->nr);
    map_of[0] = a.gkind;
    map_of[1] = I;
    map_of[2] = rt.kt->nr;
  }
  grow_to(act, (size_t)S * I);
  grow_to(ys, (size_t)S * H);
  std::vector<GemmJob> jobs;
  std::vector<Gated> gated;  // jobs whose gate runs after the products (gate_after), as they would have run it
  JobKeep keep;  // row-run tables of expert slices over more than two segments
  for (int e = 0; e < E; e++) {
    const int lo = offsets[(size_t)e], hi = offsets[(size_t)e + 1];
    if (lo == hi) continue;
    GemmJob J = expert_job(*a.wg, a.bg, e, W, hi - lo, keep);
    J.x = x;
    J.xrows = xrows.data() + lo;
    J.y = act.data() + (size_t)lo * I;
    J.ldy = (size_t)I;
    J.epi = EPI_GATE;
    J.wmap = map.data();
    J.gkind = a.gkind;
    J.gact = a.act;
    J.gclamp = a.clamp;
    J.galpha = a.alpha;
    J.glimit = a.limit;
    J.ginter = I;
    J.round_bf16 = bf;
    J.bf16dot = bf;
    if (bf) {
      J.xbf = xh.data();
      J.ybf = acth.data() + (size_t)lo * I;
    }
    if (gate_after(J)) gated.push_back({J, lo, jobs.size()});
    jobs.push_back(J);
  }
  if (!gated.empty()) {
    grow_to(sums, (size_t)S * W);
    for (const Gated& g : gated) jobs[g.job] = sums_in_row_order(g.J, sums.data() + (size_t)g.lo * W, W);
  }
  std::vector<GemmJob> down;
  for (int e = 0; e < E; e++) {
    const int lo = offsets[(size_t)e], hi = offsets[(size_t)e + 1];
    if (lo == hi) continue;
    GemmJob J = expert_job(*a.wd, a.bd, e, H, hi - lo, keep);
    J.x = act.data() + (size_t)lo * I;
    J.y = ys.data();
    J.ldy = (size_t)H;
    J.yrows = order.data() + lo;
    J.epi = EPI_SCALE;
    J.rscale = rws.data() + lo;
    J.bf16dot = bf;
    if (bf) J.xbf = acth.data() + (size_t)lo * I;
    down.push_back(J);
  }
  if (fits_decode_pipeline(jobs, gated, down)) {
    run_decode_pipeline(jobs, gated, down, map, sums.data(), W);
    rt.decode_pipeline_runs.fetch_add(1, std::memory_order_relaxed);
  } else {
    pack_token_major(jobs, xtb);
    run_jobs(jobs);
    gate_in_column_order(gated, map, sums.data(), W);
    pack_token_major(down, xtb);
    run_jobs(down);
  }
  // out[t] = Σ_k ys[t·K + k], in slot order.
  const int per = std::max(1, 8192 / std::max(1, H));
  const int ntasks = (T + per - 1) / per;
  float* out = a.out;
  const float* y = ys.data();
  rt.pool.run(ntasks, [&](int task, int) {
    const int t1 = std::min(T, (task + 1) * per);
    for (int t = task * per; t < t1; t++) {
      float* o = out + (size_t)t * H;
      const float* yr = y + (size_t)t * K * H;
      if (K == 0) {
        for (int c = 0; c < H; c++) o[c] = 0.f;
        continue;
      }
      for (int c = 0; c < H; c++) o[c] = yr[c];
      for (int j = 1; j < K; j++) {
        const float* r = yr + (size_t)j * H;
        for (int c = 0; c < H; c++) o[c] += r[c];
      }
    }
  });
  for (std::vector<float>* v : {&xb, &act, &ys, &sums}) release_if_over(*v);
  for (std::vector<uint16_t>* v : {&xh, &acth}) release_if_over(*v);
  release_if_over(xtb);
}

// ---- model layers -------------------------------------------------------------------------------
// Decode (one query row per batch row): tasks = (batch row, chunk of ATT_CHUNK visible keys), each over
// every head, reading whole token rows in order; the chunks' partial softmax states are then combined per
// head in chunk order. Chunks start at the row's first visible key (not at the padded array's start), so
// a sequence gives the same result alone as in a batch of any composition, whatever the thread count.
constexpr int64_t ATT_CHUNK = 512;

static void attention_decode_rows(const AttnArgs& a) {
  Runtime& rt = runtime();
  const KernelTable* kt = rt.kt;
  const int Hq = a.Hq, Dv = a.Dv;
  const size_t part = (size_t)Hq * (2 + (size_t)Dv);
  struct Row { int64_t lo, hi, first_chunk, chunks; };
  std::vector<Row> rows((size_t)a.B);
  int64_t ntasks = 0;
  for (int b = 0; b < a.B; b++) {
    const int64_t qi = a.offset;
    int64_t hi = a.causal ? std::min<int64_t>(qi, (int64_t)a.Skv - 1) : (int64_t)a.Skv - 1;
    int64_t lo = a.window > 0 ? std::max<int64_t>(0, qi - (int64_t)a.window + 1) : 0;
    if (a.mask) {
      const int32_t* m = a.mask + (size_t)b * a.Skv;
      while (lo <= hi && m[lo] == 0) lo++;
    }
    const int64_t n = hi >= lo ? (hi - lo + ATT_CHUNK) / ATT_CHUNK : 0;
    rows[(size_t)b] = {lo, hi, ntasks, n};
    ntasks += n;
  }
  thread_local std::vector<float> parts;
  if (parts.size() < (size_t)ntasks * part) parts.resize((size_t)ntasks * part);
  float* P = parts.data();
  std::vector<int> task_row((size_t)ntasks);
  for (int b = 0; b < a.B; b++)
    for (int64_t c = 0; c < rows[(size_t)b].chunks; c++) task_row[(size_t)(rows[(size_t)b].first_chunk + c)] = b;
  auto body = [&](int t, int tid) {
    const int b = task_row[(size_t)t];
    const Row& r = rows[(size_t)b];
    const int64_t j0 = r.lo + (t - r.first_chunk) * ATT_CHUNK;
    kt->attention_decode(a, b, j0, std::min(r.hi + 1, j0 + ATT_CHUNK), P + (size_t)t * part, rt.scratch[(size_t)tid]);
  };
  const int64_t work = (int64_t)a.Skv * a.Hq * a.B * (int64_t)(a.Dk + a.Dv);
  if (work < (int64_t)1 << 22 || rt.pool.threads() == 1 || ntasks <= 1) {
    for (int64_t t = 0; t < ntasks; t++) body((int)t, 0);
  } else {
    rt.pool.run((int)ntasks, body);
  }
  // out = Σ_c e^(m_c − M) acc_c / (Σ_c e^(m_c − M) l_c [+ e^(sink − M)]), M the largest m_c (and sink)
  for (int b = 0; b < a.B; b++) {
    const Row& r = rows[(size_t)b];
    for (int h = 0; h < Hq; h++) {
      float* o = a.out + ((size_t)b * Hq + h) * Dv;
      float M = -INFINITY;
      for (int64_t c = 0; c < r.chunks; c++) M = std::max(M, P[(size_t)(r.first_chunk + c) * part + h]);
      if (!(M > -INFINITY)) {  // no visible key: zeros (as attention_rows)
        std::memset(o, 0, sizeof(float) * (size_t)Dv);
        continue;
      }
      float L = 0.f;
      if (a.sinks) M = std::max(M, a.sinks[h]);
      std::memset(o, 0, sizeof(float) * (size_t)Dv);
      for (int64_t c = 0; c < r.chunks; c++) {
        const float* pc = P + (size_t)(r.first_chunk + c) * part;
        if (!(pc[h] > -INFINITY)) continue;
        const float f = std::exp(pc[h] - M);
        L += f * pc[Hq + h];
        const float* acc = pc + 2 * (size_t)Hq + (size_t)h * Dv;
        for (int d = 0; d < Dv; d++) o[d] += f * acc[d];
      }
      if (a.sinks) L += std::exp(a.sinks[h] - M);
      const float inv = 1.f / L;
      for (int d = 0; d < Dv; d++) o[d] *= inv;
    }
  }
  release_if_over(parts, (size_t)64 << 20);
}

// Prefill with enough rows per key-value group (Sq·G ≥ ATT_TILE_MIN): tiles of the kernel set's
// att_tile_rows rows (query rows × the group's query heads, attention_prefill.h), tasks = (batch row, group,
// heads of the group, block of query rows), handed out last block first: under a causal mask a later block
// sees more keys, so the pool starts the long tasks first and the short ones fill in at the end.
// MOEKIT_ATTN_ROWS (set to anything) forces the per-head kernel below instead: the tests and
// bench/cpu/attention.ts compare the two in one process.
constexpr int ATT_TILE_MIN = 16;

static void attention_tiles(const AttnArgs& a) {
  Runtime& rt = runtime();
  const KernelTable* kt = rt.kt;
  const int G = a.Hq / a.Hkv;
  const int T = kt->att_tile_rows;
  const int nh = std::min(G, T);          // query heads per tile
  const int ng = (G + nh - 1) / nh;       // tiles across a group's heads
  const int qb = std::min(a.Sq, T / nh);  // query rows per tile
  const int nqb = (a.Sq + qb - 1) / qb;
  const int64_t per_blk = (int64_t)a.B * a.Hkv * ng;
  const int64_t ntasks = per_blk * nqb;
  auto body = [&](int t, int tid) {
    const int blk = nqb - 1 - (int)(t / per_blk);
    const int64_t r = t % per_blk;
    const int g = (int)(r % ng);
    const int kh = (int)((r / ng) % a.Hkv);
    const int b = (int)(r / ((int64_t)ng * a.Hkv));
    const int h0 = kh * G + g * nh;
    kt->attention_tile(a, b, h0, std::min(kh * G + G, h0 + nh), blk * qb, std::min(a.Sq, (blk + 1) * qb), rt.scratch[(size_t)tid]);
  };
  const int64_t work = (int64_t)a.Sq * a.Skv * a.Hq * a.B * (int64_t)(a.Dk + a.Dv);
  if (work < (int64_t)1 << 22 || rt.pool.threads() == 1) {
    for (int64_t t = 0; t < ntasks; t++) body((int)t, 0);
    return;
  }
  rt.pool.run((int)ntasks, body);
}

// Few rows (Sq·G < ATT_TILE_MIN): tasks = (batch, head, block of query rows); blocks small enough for ~4
// tasks per thread (causal rows differ in cost, the pool hands tasks out dynamically), at most 32 rows.
void attention(const AttnArgs& a) {
  Runtime& rt = runtime();
  const KernelTable* kt = rt.kt;
  const int64_t bh = (int64_t)a.B * a.Hq;
  if (bh == 0 || a.Sq == 0) return;
  if (a.Sq == 1) return attention_decode_rows(a);
  if ((int64_t)a.Sq * (a.Hq / a.Hkv) >= ATT_TILE_MIN && !std::getenv("MOEKIT_ATTN_ROWS")) return attention_tiles(a);
  const int64_t want = 4 * (int64_t)rt.pool.threads();
  int qb = (int)std::min<int64_t>(32, std::max<int64_t>(1, (bh * a.Sq) / std::max<int64_t>(1, want)));
  qb = std::max(1, std::min(qb, a.Sq));
  const int nqb = (a.Sq + qb - 1) / qb;
  const int64_t ntasks = bh * nqb;
  const int64_t work = (int64_t)a.Sq * a.Skv * a.Hq * a.B * (int64_t)(a.Dk + a.Dv);
  auto body = [&](int t, int tid) {
    const int blk = t % nqb;
    const int h = (int)((t / nqb) % a.Hq);
    const int b = (int)(t / ((int64_t)nqb * a.Hq));
    kt->attention_rows(a, b, h, blk * qb, std::min(a.Sq, (blk + 1) * qb), rt.scratch[(size_t)tid]);
  };
  // Waking the pool costs ~10 µs idle and up to milliseconds on a loaded machine: below ~4 M multiply-adds
  // (a decode step of a few hundred keys, ~0.1 ms on one core) the calling thread does it all.
  if (work < (int64_t)1 << 22 || rt.pool.threads() == 1) {
    for (int64_t t = 0; t < ntasks; t++) body((int)t, 0);
    return;
  }
  rt.pool.run((int)ntasks, body);
}

// Memory-bound row ops: split across the pool only from 1 M elements (~0.5 ms on one core); below that
// waking the workers costs more than it saves (see attention above).
void split_rows(int64_t rows, int64_t D, const std::function<void(int64_t, int64_t)>& fn) {
  Runtime& rt = runtime();
  const int64_t per = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, D));
  const int64_t ntasks = (rows + per - 1) / per;
  if (ntasks <= 1 || rt.pool.threads() == 1 || rows * D < ((int64_t)1 << 20)) {
    if (rows > 0) fn(0, rows);
    return;
  }
  rt.pool.run((int)ntasks, [&](int t, int) { fn(t * per, std::min(rows, (t + 1) * per)); });
}

void norm_rows(int op, const NormArgs& a, int rows) {
  const KernelTable* kt = runtime().kt;
  auto f = op == ROW_RMS ? kt->rms_norm_rows : op == ROW_LAYER ? kt->layer_norm_rows : kt->softmax_rows;
  split_rows(rows, a.D, [&](int64_t r0, int64_t r1) { f(a, (int)r0, (int)r1); });
}

void rope(const RopeArgs& a, int rows) {
  const KernelTable* kt = runtime().kt;
  split_rows(rows, a.D, [&](int64_t r0, int64_t r1) { kt->rope_rows(a, (int)r0, (int)r1); });
}

void embedding(const WeightView& table, const int32_t* ids, int n, float* out) {
  const size_t H = (size_t)table.cols;
  for (int i = 0; i < n; i++) {
    float* o = out + (size_t)i * H;
    const char* r = table.row(ids[i]);
    if (is_block_format(table.fmt)) {
      runtime().qk->widen_f32(table.fmt, (const uint8_t*)r, 0, (int)H, o);
    } else if (table.fmt == W_F32) {
      std::memcpy(o, r, sizeof(float) * H);
    } else {
      for (size_t c = 0; c < H; c++) o[c] = load_w(r, table.fmt, c);
    }
  }
}

}  // namespace moekit
