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

namespace {

// Jobs that gather rows (xrows) of one input in one prepared form share a table of that input's rows, each
// prepared once (the fused experts layer: a token's row goes to each of its top-k experts and to the shared
// expert's chunks). A job whose rows are consecutive reads them in the table; any other copies its rows
// from it (a few KB a row against quantizing 4 bytes a value). The same rows come out as when each job
// prepared its own (the same function on the same row).
struct InputTable {
  const float* x = nullptr;
  int K = 0, wdt = 0;
  bool gemv = false;
  size_t ab = 0;               // bytes of one prepared row
  int32_t rows = 0;            // source rows [0, rows): row r at base + r·ab
  size_t slots = 0;            // job rows reading it
  std::vector<int32_t> used;   // distinct source rows read, ascending
  size_t at = 0;
  std::vector<int> jobs;
};

bool consecutive(const GemmJob& J) {
  for (int m = 1; m < J.M; m++)
    if (J.xrows[m] != J.xrows[0] + m) return false;
  return true;
}

}  // namespace

size_t gemv_act_row_bytes(int wdt, int K) { return round_up64(quant::act_bytes(wdt, K)); }

void prepare_quant_gemv(std::vector<GemmJob>& jobs, const std::vector<int>& idx, std::vector<uint8_t>& buf) {
  const quant::GemmKernels* gk = int8_gemm();
  std::vector<int> todo;
  std::vector<InputTable> tables;
  std::vector<int> table_of(jobs.size(), -1);
  for (int j : idx) {
    GemmJob& J = jobs[(size_t)j];
    if (!is_block_format(J.wdt) || J.K <= 0) continue;
    const bool gemv = J.M <= quant_gemv_rows(J);
    if (!gemv && !use_int8_gemm(J, gk)) continue;
    // rows 64-byte aligned (gemv_act_row_bytes)
    J.qact_bytes = gemv ? gemv_act_row_bytes(J.wdt, J.K) : round_up64(gk->act_bytes(J.wdt, J.K));
    todo.push_back(j);
    if (!J.xrows) continue;
    size_t t = 0;
    while (t < tables.size() && !(tables[t].x == J.x && tables[t].K == J.K && tables[t].wdt == J.wdt && tables[t].gemv == gemv)) t++;
    if (t == tables.size()) {
      tables.emplace_back();
      tables.back().x = J.x;
      tables.back().K = J.K;
      tables.back().wdt = J.wdt;
      tables.back().gemv = gemv;
      tables.back().ab = J.qact_bytes;
    }
    InputTable& T = tables[t];
    for (int m = 0; m < J.M; m++) T.rows = std::max(T.rows, J.xrows[m] + 1);
    T.slots += (size_t)J.M;
    T.jobs.push_back(j);
    table_of[(size_t)j] = (int)t;
  }
  if (todo.empty()) return;
  // A table only where some row is read more than once.
  for (size_t t = 0; t < tables.size(); t++) {
    InputTable& T = tables[t];
    std::vector<uint8_t> seen((size_t)T.rows, 0);
    for (int j : T.jobs)
      for (int m = 0; m < jobs[(size_t)j].M; m++) seen[(size_t)jobs[(size_t)j].xrows[m]] = 1;
    for (int32_t r = 0; r < T.rows; r++)
      if (seen[(size_t)r]) T.used.push_back(r);
    if (T.used.size() == T.slots)
      for (int j : T.jobs) table_of[(size_t)j] = -1;
  }
  // Layout: the tables, then the rows of every job that does not read a table in place.
  struct Part {
    int kind;  // 0: rows [m0, m1) of job `id` prepared; 1: used rows [m0, m1) of table `id`; 2: rows of job `id` copied from its table
    int id, m0, m1;
  };
  std::vector<Part> prep, copy;
  std::vector<size_t> at(jobs.size(), 0);
  std::vector<uint8_t> in_place(jobs.size(), 0);
  size_t total = 0, values = 0;
  for (size_t t = 0; t < tables.size(); t++) {
    InputTable& T = tables[t];
    if (T.used.size() == T.slots) continue;
    T.at = total;
    total += T.ab * (size_t)T.rows;
    values += T.used.size() * (size_t)T.K;
    const int per = std::max(1, (1 << 16) / T.K);
    for (int m0 = 0; m0 < (int)T.used.size(); m0 += per) prep.push_back({1, (int)t, m0, std::min((int)T.used.size(), m0 + per)});
  }
  for (int j : todo) {
    GemmJob& J = jobs[(size_t)j];
    const int t = table_of[(size_t)j];
    if (t >= 0 && consecutive(J)) {
      in_place[(size_t)j] = 1;
      continue;
    }
    at[(size_t)j] = total;
    total += J.qact_bytes * (size_t)J.M;
    // GEMV jobs: one part each (few rows); GEMM jobs: parts of about 64 K values
    const int per = J.M <= quant_gemv_rows(J) ? J.M : std::max(1, (1 << 16) / J.K);
    for (int m0 = 0; m0 < J.M; m0 += per) (t >= 0 ? copy : prep).push_back({t >= 0 ? 2 : 0, j, m0, std::min(J.M, m0 + per)});
    if (t < 0) values += (size_t)J.M * (size_t)J.K;
  }
  buf.resize(total + 64);
  uint8_t* const base = align64(buf.data());  // every offset is a multiple of 64
  for (int j : todo) {
    GemmJob& J = jobs[(size_t)j];
    const int t = table_of[(size_t)j];
    J.qact = in_place[(size_t)j] ? base + tables[(size_t)t].at + J.qact_bytes * (size_t)J.xrows[0] : base + at[(size_t)j];
  }
  auto prepare_row = [&](int wdt, bool gemv, const float* x, int K, uint8_t* out) {
    if (gemv)
      quant::quantize_act(wdt, x, K, out);
    else
      gk->prepare(wdt, x, K, out);
  };
  auto run = [&](const std::vector<Part>& parts, size_t work) {
    auto body = [&](int i, int) {
      const Part& P = parts[(size_t)i];
      if (P.kind == 1) {
        const InputTable& T = tables[(size_t)P.id];
        for (int m = P.m0; m < P.m1; m++) {
          const int32_t r = T.used[(size_t)m];
          prepare_row(T.wdt, T.gemv, T.x + (size_t)r * (size_t)T.K, T.K, base + T.at + T.ab * (size_t)r);
        }
        return;
      }
      const GemmJob& J = jobs[(size_t)P.id];
      uint8_t* out = (uint8_t*)J.qact;
      if (P.kind == 2) {
        const uint8_t* table = base + tables[(size_t)table_of[(size_t)P.id]].at;
        for (int m = P.m0; m < P.m1; m++) std::memcpy(out + J.qact_bytes * (size_t)m, table + J.qact_bytes * (size_t)J.xrows[m], J.qact_bytes);
        return;
      }
      const bool gemv = J.M <= quant_gemv_rows(J);
      for (int m = P.m0; m < P.m1; m++) prepare_row(J.wdt, gemv, input_row(J, m), J.K, out + J.qact_bytes * (size_t)m);
    };
    // Below ~256 K values (a decode step: top-k rows of the hidden size) the calling thread does it all:
    // waking the pool costs more than that on a busy machine (see ops.cc attention).
    Runtime& rt = runtime();
    if (parts.size() <= 1 || rt.pool.threads() == 1 || work < ((size_t)1 << 18)) {
      for (size_t i = 0; i < parts.size(); i++) body((int)i, 0);
    } else {
      rt.pool.run((int)parts.size(), body);
    }
  };
  run(prep, values);
  // Copies: ~1/16 of preparing the same rows (bytes against floats read, no arithmetic).
  size_t copied = 0;
  for (const Part& P : copy) copied += (size_t)(P.m1 - P.m0) * (size_t)jobs[(size_t)P.id].K;
  run(copy, copied / 16);
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
  // of input rows). (The fused experts layer gives these jobs no gate map: see gate_after in ops.cc.)
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
  const size_t pb = gk->packed_bytes(J.wdt, RB, J.K) + 64;
  if (packed.size() < pb) packed.resize(pb);
  uint8_t* wp = align64(packed.data());
  for (int r0 = n0; r0 < n1; r0 += RB) {
    const int nc = std::min(RB, n1 - r0);
    for (int c = 0; c < nc; c++) rows[(size_t)c] = (const uint8_t*)wrow_ptr(J, weight_row(J, r0 + c));
    gk->pack(J.wdt, rows.data(), nc, J.K, wp);
    for (int m0 = 0; m0 < J.M; m0 += MB) {
      const int nm = std::min(MB, J.M - m0);
      gk->tile_packed(J.wdt, wp, nc, J.qact + J.qact_bytes * (size_t)m0, J.qact_bytes, nm, J.K, sums.data(), (size_t)nc);
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
