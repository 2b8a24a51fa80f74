#include "quant_products.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "ops.h"
#include "quant/gemm.h"
#include "quant/quant.h"

namespace moekit {

namespace {

inline size_t weight_row(const GemmJob& J, int n) { return J.wmap ? (size_t)J.wmap[n] : (size_t)n; }
inline const float* input_row(const GemmJob& J, int m) { return J.x + (J.xrows ? (size_t)J.xrows[m] : (size_t)m) * (size_t)J.K; }
inline float* output_row(const GemmJob& J, int m) { return J.y + (J.yrows ? (size_t)J.yrows[m] : (size_t)m) * J.ldy; }

// The int8 GEMM of the active kernel set, unless MOEKIT_QUANT_GEMM=panels asks for widened panels everywhere.
const quant::GemmKernels* int8_gemm() {
  static const bool off = [] {
    const char* e = std::getenv("MOEKIT_QUANT_GEMM");
    return e && std::strcmp(e, "panels") == 0;
  }();
  return off ? nullptr : quant::gemm_for(runtime().qk->name);
}

// Whether a job past the GEMV's rows runs on the int8 GEMM (else widened panels and the float GEMM).
bool use_int8_gemm(const GemmJob& J, const quant::GemmKernels* gk) { return gk && J.K > 0 && J.K % 32 == 0 && gk->supports(J.wdt); }

}  // namespace

int quant_gemv_rows(const GemmJob& J) {
  const Runtime& rt = runtime();
  return use_int8_gemm(J, int8_gemm()) ? rt.quant_gemv_max_rows_int8 : rt.quant_gemv_max_rows;
}

void prepare_quant_gemv(std::vector<GemmJob>& jobs, const std::vector<int>& idx, std::vector<uint8_t>& buf) {
  const quant::GemmKernels* gk = int8_gemm();
  struct Part {
    int job, m0, m1;
  };
  std::vector<Part> parts;
  std::vector<int> todo;
  std::vector<size_t> at;
  size_t total = 0, values = 0;
  for (int j : idx) {
    GemmJob& J = jobs[(size_t)j];
    if (!is_block_format(J.wdt) || J.K <= 0) continue;
    const bool gemv = J.M <= quant_gemv_rows(J);
    if (!gemv && !use_int8_gemm(J, gk)) continue;
    J.qact_bytes = gemv ? quant::act_bytes(J.wdt, J.K) : gk->act_bytes(J.K);
    todo.push_back(j);
    at.push_back(total);
    total += J.qact_bytes * (size_t)J.M;
    values += (size_t)J.M * (size_t)J.K;
    // GEMV jobs: one part each (few rows); GEMM jobs: parts of about 64 K values
    const int per = gemv ? J.M : std::max(1, (1 << 16) / J.K);
    for (int m0 = 0; m0 < J.M; m0 += per) parts.push_back({j, m0, std::min(J.M, m0 + per)});
  }
  if (todo.empty()) return;
  buf.resize(total);
  for (size_t t = 0; t < todo.size(); t++) jobs[(size_t)todo[t]].qact = buf.data() + at[t];
  // Below ~256 K values (a decode step: top-k rows of the hidden size) the calling thread does it all:
  // waking the pool costs more than that on a busy machine (see ops.cc attention).
  auto prep = [&](int t, int) {
    const Part& P = parts[(size_t)t];
    GemmJob& J = jobs[(size_t)P.job];
    uint8_t* out = (uint8_t*)J.qact;
    const bool gemv = J.M <= quant_gemv_rows(J);
    for (int m = P.m0; m < P.m1; m++) {
      if (gemv)
        quant::quantize_act(J.wdt, input_row(J, m), J.K, out + J.qact_bytes * (size_t)m);
      else
        gk->prepare(J.wdt, input_row(J, m), J.K, out + J.qact_bytes * (size_t)m);
    }
  };
  Runtime& rt = runtime();
  if (parts.size() == 1 || rt.pool.threads() == 1 || values < ((size_t)1 << 18)) {
    // A decode step: the routed experts' gate_up jobs read the same input row; each distinct (row, activation
    // kind, K) is quantized once and copied for the other jobs (the same bytes).
    struct Done {
      const float* x;
      int kind, K;
      const uint8_t* at;
    };
    std::vector<Done> done;
    for (const Part& P : parts) {
      GemmJob& J = jobs[(size_t)P.job];
      if (J.M > quant_gemv_rows(J)) {
        prep((int)(&P - parts.data()), 0);
        continue;
      }
      const quant::FormatInfo* f = quant::format_info(J.wdt);
      uint8_t* out = (uint8_t*)J.qact;
      for (int m = P.m0; m < P.m1; m++) {
        const float* x = input_row(J, m);
        uint8_t* dst = out + J.qact_bytes * (size_t)m;
        const Done* hit = nullptr;
        for (const Done& d : done)
          if (d.x == x && d.kind == (int)f->act && d.K == J.K) hit = &d;
        if (hit) {
          std::memcpy(dst, hit->at, J.qact_bytes);
          continue;
        }
        quant::quantize_act(J.wdt, x, J.K, dst);
        done.push_back({x, (int)f->act, J.K, dst});
      }
    }
  } else {
    rt.pool.run((int)parts.size(), prep);
  }
}

void quant_gemv_task(const GemmJob& J, int n0, int n1) {
  Runtime& rt = runtime();
  const quant::Kernels* qk = rt.qk;
  const int M = J.M, nc = n1 - n0;
  thread_local std::vector<float> sums;
  if (sums.size() < (size_t)M * (size_t)nc) sums.resize((size_t)M * (size_t)nc);
  thread_local std::vector<const uint8_t*> acts;
  thread_local std::vector<float*> ys;
  acts.resize((size_t)M);
  ys.resize((size_t)M);
  for (int m = 0; m < M; m++) acts[(size_t)m] = J.qact + J.qact_bytes * (size_t)m;
  // Runs of weight rows that lie consecutively in memory (at most 16: re-read from L1 / L2 by each group
  // of input rows).
  for (int n = n0; n < n1;) {
    const char* p = wrow_ptr(J, weight_row(J, n));
    int len = 1;
    while (n + len < n1 && len < 16 && wrow_ptr(J, weight_row(J, n + len)) == p + (size_t)len * J.wstride) len++;
    for (int m = 0; m < M; m++) ys[(size_t)m] = sums.data() + (size_t)m * nc + (n - n0);
    qk->dot_rows_multi(J.wdt, (const uint8_t*)p, J.wstride, 0, len, J.K, acts.data(), M, ys.data());
    n += len;
  }
  if (J.epi != EPI_NONE) {
    for (int m = 0; m < M; m++) rt.kt->epilogue(J, m, n0, nc, sums.data() + (size_t)m * nc);
    return;
  }
  for (int m = 0; m < M; m++) {
    float* y = output_row(J, m);
    const float* s = sums.data() + (size_t)m * nc;
    for (int c = 0; c < nc; c++) y[n0 + c] = s[c] + (J.bias ? load_w(J.bias, J.bdt, weight_row(J, n0 + c)) : 0.f);
  }
}

// The int8 GEMM of a prepared job: logical columns [n0, n1) in runs of 64 weight rows (a multiple of every
// kernel set's nr, as the fused epilogues need), each run packed once (decoded into L2) and multiplied by
// every input row, eight at a time, then the job's epilogue or store.
// Jobs of fewer rows than gk->packed_from (weights streamed once, as an expert's few routed rows) skip the
// packing: each weight row is decoded in registers while the stream goes on (packing first measured 1.5-3x
// slower there, its reads not overlapping the products).
static void store_rows(const GemmJob& J, int m0, int nm, int r0, int nc, const float* sums) {
  Runtime& rt = runtime();
  for (int i = 0; i < nm; i++) {
    const float* s = sums + (size_t)i * nc;
    if (J.epi != EPI_NONE) {
      rt.kt->epilogue(J, m0 + i, r0, nc, s);
      continue;
    }
    float* y = output_row(J, m0 + i);
    for (int c = 0; c < nc; c++) y[r0 + c] = s[c] + (J.bias ? load_w(J.bias, J.bdt, weight_row(J, r0 + c)) : 0.f);
  }
}

static void int8_gemm_task(const GemmJob& J, int n0, int n1) {
  const quant::GemmKernels* gk = int8_gemm();
  constexpr int MB = 8, RB = 64;
  if (J.M < gk->packed_from) {
    const int nc = n1 - n0;
    thread_local std::vector<const uint8_t*> wrows;
    thread_local std::vector<float> wsums;
    if (wrows.size() < (size_t)nc) wrows.resize((size_t)nc);
    if (wsums.size() < (size_t)J.M * nc) wsums.resize((size_t)J.M * nc);
    for (int c = 0; c < nc; c++) wrows[(size_t)c] = (const uint8_t*)wrow_ptr(J, weight_row(J, n0 + c));
    gk->tile(J.wdt, wrows.data(), nc, J.qact, J.qact_bytes, J.M, J.K, wsums.data(), (size_t)nc);
    return store_rows(J, 0, J.M, n0, nc, wsums.data());
  }
  thread_local std::vector<const uint8_t*> rows;
  thread_local std::vector<float> sums;
  thread_local std::vector<uint8_t> packed;
  if (rows.size() < (size_t)RB) rows.resize((size_t)RB);
  if (sums.size() < (size_t)MB * RB) sums.resize((size_t)MB * RB);
  const size_t pb = gk->packed_bytes(RB, J.K) + 64;
  if (packed.size() < pb) packed.resize(pb);
  uint8_t* wp = (uint8_t*)(((uintptr_t)packed.data() + 63) & ~(uintptr_t)63);
  for (int r0 = n0; r0 < n1; r0 += RB) {
    const int nc = std::min(RB, n1 - r0);
    for (int c = 0; c < nc; c++) rows[(size_t)c] = (const uint8_t*)wrow_ptr(J, weight_row(J, r0 + c));
    gk->pack(J.wdt, rows.data(), nc, J.K, wp);
    for (int m0 = 0; m0 < J.M; m0 += MB) {
      const int nm = std::min(MB, J.M - m0);
      gk->tile_packed(wp, nc, J.qact + J.qact_bytes * (size_t)m0, J.qact_bytes, nm, J.K, sums.data(), (size_t)nc);
      store_rows(J, m0, nm, r0, nc, sums.data());
    }
  }
}

void quant_gemm_task(const GemmJob& J, int n0, int n1, Scratch& s) {
  if (J.qact) return int8_gemm_task(J, n0, n1);
  Runtime& rt = runtime();
  const KernelTable* kt = rt.kt;
  const quant::Kernels* qk = rt.qk;
  const int nc = n1 - n0, K = J.K;
  // bf16 compute with bf16 dot products: the panel in bfloat16 (the widened values rounded, as the inputs are).
  const bool bf = J.epi != EPI_NONE && J.bf16dot && kt->gemm_epi_bf16_task;
  const size_t prb = (size_t)K * (bf ? 2 : 4);
  thread_local std::vector<char> panel;
  thread_local std::vector<float> bias;
  if (panel.size() < (size_t)nc * prb) panel.resize((size_t)nc * prb);
  for (int c = 0; c < nc; c++) {
    const uint8_t* row = (const uint8_t*)wrow_ptr(J, weight_row(J, n0 + c));
    if (bf)
      qk->widen_bf16(J.wdt, row, 0, K, (uint16_t*)(panel.data() + (size_t)c * prb));
    else
      qk->widen_f32(J.wdt, row, 0, K, (float*)(panel.data() + (size_t)c * prb));
  }
  // The panel holds logical columns in order: the job reads it with no column map, logical column n at
  // panel row n − n0 (the bias, indexed by weight row, is gathered the same way).
  GemmJob P = J;
  P.wmap = nullptr;
  P.w = panel.data() - (size_t)n0 * prb;
  P.w2 = nullptr;
  P.wsplit = SIZE_MAX;
  P.wstride = prb;
  P.wruns = nullptr;
  P.wdt = bf ? W_BF16 : W_F32;
  P.xt = nullptr;
  P.qact = nullptr;
  if (J.bias) {
    if (bias.size() < (size_t)nc) bias.resize((size_t)nc);
    for (int c = 0; c < nc; c++) bias[(size_t)c] = load_w(J.bias, J.bdt, weight_row(J, n0 + c));
    P.bias = (const char*)bias.data() - (size_t)n0 * 4;
    P.bdt = W_F32;
  }
  if (J.epi == EPI_NONE)
    kt->gemm_task(P, n0, n1, s);
  else if (bf)
    kt->gemm_epi_bf16_task(P, n0, n1, s);
  else
    kt->gemm_epi_task(P, n0, n1, s);
}

}  // namespace moekit
