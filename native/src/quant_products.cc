#include "quant_products.h"

#include <algorithm>

#include "ops.h"
#include "quant/quant.h"

namespace moekit {

namespace {

inline size_t weight_row(const GemmJob& J, int n) { return J.wmap ? (size_t)J.wmap[n] : (size_t)n; }
inline const float* input_row(const GemmJob& J, int m) { return J.x + (J.xrows ? (size_t)J.xrows[m] : (size_t)m) * (size_t)J.K; }
inline float* output_row(const GemmJob& J, int m) { return J.y + (J.yrows ? (size_t)J.yrows[m] : (size_t)m) * J.ldy; }

}  // namespace

void prepare_quant_gemv(std::vector<GemmJob>& jobs, const std::vector<int>& idx, int max_rows, std::vector<uint8_t>& buf) {
  std::vector<int> todo;
  std::vector<size_t> at;
  size_t total = 0;
  for (int j : idx) {
    GemmJob& J = jobs[(size_t)j];
    if (!is_block_format(J.wdt) || J.K <= 0 || J.M > max_rows) continue;
    J.qact_bytes = quant::act_bytes(J.wdt, J.K);
    todo.push_back(j);
    at.push_back(total);
    total += J.qact_bytes * (size_t)J.M;
  }
  if (todo.empty()) return;
  buf.resize(total);
  for (size_t t = 0; t < todo.size(); t++) jobs[(size_t)todo[t]].qact = buf.data() + at[t];
  // One task per job (rows ≤ max_rows each). Below ~256 K values (a decode step: top-k rows of the hidden size)
  // the calling thread does it all: waking the pool costs more than that on a busy machine (see ops.cc attention).
  size_t values = 0;
  for (int j : todo) values += (size_t)jobs[(size_t)j].M * (size_t)jobs[(size_t)j].K;
  auto prep = [&](int t, int) {
    GemmJob& J = jobs[(size_t)todo[(size_t)t]];
    for (int m = 0; m < J.M; m++) quant::quantize_act(J.wdt, input_row(J, m), J.K, (uint8_t*)J.qact + J.qact_bytes * (size_t)m);
  };
  Runtime& rt = runtime();
  if (todo.size() == 1 || rt.pool.threads() == 1 || values < ((size_t)1 << 18)) {
    for (size_t t = 0; t < todo.size(); t++) prep((int)t, 0);
  } else {
    rt.pool.run((int)todo.size(), prep);
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
    while (n + len < n1 && len < 16 && wrow_ptr(J, weight_row(J, n + len)) == p + (size_t)len * J.wrb) len++;
    for (int m = 0; m < M; m++) ys[(size_t)m] = sums.data() + (size_t)m * nc + (n - n0);
    qk->dot_rows_multi(J.wdt, (const uint8_t*)p, J.wrb, 0, len, J.K, acts.data(), M, ys.data());
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

void quant_gemm_task(const GemmJob& J, int n0, int n1, Scratch& s) {
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
  P.wrb = prb;
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
