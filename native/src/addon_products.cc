// N-API entries of the products (linear, groupedLinear, gatheredLinear) and the fused experts layer. Weights
// arrive as descriptors (possibly views of several buffers); every size is a checked product.
#include <string>
#include <vector>

#include "addon.h"
#include "napi_args.h"
#include "ops.h"

namespace moekit {

namespace {

// Biases are read element by element (load_w): block formats are refused.
void element_bias(const OpArgs& a, const char* key, bool has, const WeightView& b) {
  if (has && is_block_format(b.fmt)) a.fail(std::string(key) + " is in " + format_info(b.fmt)->name + "; a bias must be float32, bfloat16 or float16");
}

// bf16 compute: the activations rounded to bfloat16 (a copy, and its bits), products through the
// fused-epilogue kernels; jobs of 16+ rows read their inputs packed token-major (as the experts layer's),
// so the token-vectorized kernels stream the weights once instead of converting the rows per task.
void bf16_jobs(std::vector<GemmJob>& jobs, const float* x, size_t n, std::vector<float>& xb, std::vector<uint16_t>& xh, std::vector<uint32_t>& xtb) {
  xb.resize(n);
  xh.resize(n);
  round_to_bf16(x, n, xb.data(), xh.data());
  for (GemmJob& J : jobs) {
    J.xbf = xh.data() + (J.x - x);
    J.x = xb.data() + (J.x - x);
    J.epi = EPI_STORE;
    J.bf16dot = 1;
  }
  pack_token_major(jobs, xtb);
}

// The dims every product shares: the input x [R, K], weights [E·N, K] in `w`, the optional bias [E, N].
struct Product {
  int64_t R, K, N, E;
  Span<float> x;
  WeightView w;
  WeightView bias;
  bool has_bias;
  int compute;
};

Product product(const OpArgs& a, const char* rows) {
  Product p;
  p.R = a.integer(rows, 0, kMaxDim);
  p.K = a.integer("k", 0, kMaxDim);
  p.N = a.integer("n", 0, kMaxDim);
  p.E = a.integer_or("experts", 1, kMaxDim, 1);
  p.x = a.f32("x", a.size({p.R, p.K}, "x"));
  p.w = a.weight("w", (int64_t)a.size({p.E, p.N}, "w"), p.K);
  p.has_bias = a.weight_opt("bias", p.E, p.N, p.bias);
  element_bias(a, "bias", p.has_bias, p.bias);
  p.compute = (int)a.integer_or("compute", 0, 1, 0);
  return p;
}

// One job per non-empty expert segment [offsets[e], offsets[e + 1]) of the product's weights; io(J, lo) sets
// the job's inputs and outputs. Slices over more than two segments keep their row-run tables in `keep`.
template <typename IO>
std::vector<GemmJob> segment_jobs(const Product& p, const int32_t* offsets, JobKeep& keep, IO io) {
  std::vector<GemmJob> jobs;
  for (int64_t e = 0; e < p.E; e++) {
    const int32_t lo = offsets[e], hi = offsets[e + 1];
    if (lo == hi) continue;
    GemmJob J = expert_job(p.w, p.has_bias ? &p.bias : nullptr, (int)e, (int)p.N, hi - lo, keep);
    io(J, lo);
    J.ldy = (size_t)p.N;
    jobs.push_back(J);
  }
  return jobs;
}

// Runs the product's jobs (bf16 compute: on the inputs rounded to bfloat16).
Napi::Value run_product(const OpArgs& a, const Product& p, std::vector<GemmJob>& jobs) {
  // kept between calls (see release_if_over): per-call ones took 59% of a steady 1x128 bf16 forward's ~90 page faults
  thread_local std::vector<float> xb;
  thread_local std::vector<uint16_t> xh;
  thread_local std::vector<uint32_t> xtb;
  if (p.compute) bf16_jobs(jobs, p.x.data, (size_t)(p.R * p.K), xb, xh, xtb);
  run_jobs(jobs);
  release_if_over(xb);
  release_if_over(xh);
  release_if_over(xtb);
  return a.env().Undefined();
}

}  // namespace

// linear({ x, m, k, n, w, experts?, expert?, bias?, y, compute? }): y[m, n] = x · w[expert]ᵀ (+ bias[expert]).
Napi::Value Linear(const Napi::CallbackInfo& info) {
  OpArgs a(info, "linear");
  Product p = product(a, "m");
  const int64_t expert = a.integer_or("expert", 0, p.E - 1, 0);
  const Span<float> y = a.f32("y", a.size({p.R, p.N}, "y"));
  JobKeep keep;
  std::vector<GemmJob> jobs{expert_job(p.w, p.has_bias ? &p.bias : nullptr, (int)expert, (int)p.N, (int)p.R, keep)};
  GemmJob& J = jobs[0];
  J.x = p.x.data;
  J.y = y.data;
  J.ldy = (size_t)p.N;
  return run_product(a, p, jobs);
}

// groupedLinear({ x, r, k, n, experts, w, offsets, rowIndex?, rowsPerInput?, bias?, y, compute? })
Napi::Value GroupedLinear(const Napi::CallbackInfo& info) {
  OpArgs a(info, "groupedLinear");
  Product p = product(a, "r");
  const int32_t* off = a.i32("offsets", (size_t)p.E + 1).data;
  const int64_t rpi = a.integer_or("rowsPerInput", 1, kMaxDim, 1);
  const Span<int32_t> ri = a.i32_opt("rowIndex");
  const int32_t* rowIndex = ri.data;
  const int64_t S = rowIndex ? (int64_t)ri.length : p.R;
  if (S > kMaxDim) a.fail("rowIndex has more than 2^31 - 1 entries");
  if (off[0] != 0 || off[p.E] != S) a.fail("offsets must run from 0 to " + std::to_string(S));
  for (int64_t e = 0; e < p.E; e++)
    if (off[e + 1] < off[e]) a.fail("offsets must be non-decreasing");
  std::vector<int32_t> xrows;
  if (rowIndex) {
    const int64_t lim = (int64_t)a.size({p.R, rpi}, "rowIndex range");
    xrows.resize((size_t)S);
    for (int64_t s = 0; s < S; s++) {
      const int64_t r = rowIndex[s];
      if (r < 0 || r >= lim) a.fail("rowIndex " + std::to_string(r) + " outside [0, " + std::to_string(lim) + ")");
      xrows[(size_t)s] = (int32_t)(r / rpi);
    }
  }
  const Span<float> y = a.f32("y", a.size({S, p.N}, "y"));
  JobKeep keep;
  std::vector<GemmJob> jobs = segment_jobs(p, off, keep, [&](GemmJob& J, int32_t lo) {
    J.x = rowIndex ? p.x.data : p.x.data + (size_t)lo * (size_t)p.K;
    J.xrows = rowIndex ? xrows.data() + lo : nullptr;
    J.y = y.data + (size_t)lo * (size_t)p.N;
  });
  return run_product(a, p, jobs);
}

// gatheredLinear({ x, r, k, n, experts, w, ids, rowsPerInput?, bias?, y, compute? }): y[s] = w[ids[s]] · x[⌊s / rowsPerInput⌋].
Napi::Value GatheredLinear(const Napi::CallbackInfo& info) {
  OpArgs a(info, "gatheredLinear");
  Product p = product(a, "r");
  const Span<int32_t> idv = a.i32("ids");
  const int32_t* ids = idv.data;
  const int64_t rpi = a.integer_or("rowsPerInput", 1, kMaxDim, 1);
  const int64_t S = (int64_t)idv.length;
  if ((size_t)S != a.size({p.R, rpi}, "ids")) a.fail(std::to_string(S) + " ids for " + std::to_string(p.R) + " rows x " + std::to_string(rpi));
  if (S > kMaxDim) a.fail("more than 2^31 - 1 ids");
  const Span<float> y = a.f32("y", a.size({S, p.N}, "y"));
  for (int64_t s = 0; s < S; s++)
    if (ids[s] < 0 || ids[s] >= p.E) a.fail("expert id " + std::to_string(ids[s]) + " at slot " + std::to_string(s) + " outside [0, " + std::to_string(p.E) + ")");
  // Slots grouped by expert: each expert's weights are read once for all of its slots.
  std::vector<int32_t> order((size_t)S), position((size_t)S), offsets((size_t)p.E + 1), xrows((size_t)S);
  sort_by_expert(ids, (int)S, (int)p.E, order.data(), position.data(), offsets.data());
  for (int64_t i = 0; i < S; i++) xrows[(size_t)i] = (int32_t)(order[(size_t)i] / rpi);
  JobKeep keep;
  std::vector<GemmJob> jobs = segment_jobs(p, offsets.data(), keep, [&](GemmJob& J, int32_t lo) {
    J.x = p.x.data;
    J.xrows = xrows.data() + lo;
    J.y = y.data;
    J.yrows = order.data() + lo;
  });
  return run_product(a, p, jobs);
}

// fusedExperts({ x, t, h, topk, ids, weights, experts, inter, gateUp, down, gateUpBias?, downBias?, gateKind, act,
//                clamp?, alpha?, limit?, compute?, out })
Napi::Value FusedExperts(const Napi::CallbackInfo& info) {
  OpArgs a(info, "fusedExperts");
  ExpertsArgs e;
  const int64_t T = a.integer("t", 0, kMaxDim), H = a.integer("h", 0, kMaxDim), K = a.integer("topk", 0, 1 << 20);
  const int64_t E = a.integer("experts", 1, kMaxDim), I = a.integer("inter", 0, kMaxDim);
  e.gkind = (int)a.integer("gateKind", 0, 2);
  e.act = (int)a.integer("act", 0, 7);
  e.clamp = (int)a.integer_or("clamp", 0, 1, 0);
  if (e.clamp) {
    if (e.gkind == GATE_NONE) a.fail("clamped swiglu needs a gated projection");
    e.alpha = (float)a.number("alpha");
    e.limit = (float)a.number("limit");
  }
  e.compute = (int)a.integer_or("compute", 0, 1, 0);
  const int64_t W = e.gkind == GATE_NONE ? I : (int64_t)a.size({2, I}, "gateUp");
  const size_t S = a.size({T, K}, "ids");
  if (S > (size_t)kMaxDim) a.fail("too many slots");
  const Span<float> x = a.f32("x", a.size({T, H}, "x"));
  const Span<int32_t> ids = a.i32("ids", S);
  const Span<float> rw = a.f32("weights", S);
  const Span<float> out = a.f32("out", a.size({T, H}, "out"));
  const WeightView wg = a.weight("gateUp", (int64_t)a.size({E, W}, "gateUp"), H);
  const WeightView wd = a.weight("down", (int64_t)a.size({E, H}, "down"), I);
  WeightView bg, bd;
  const bool has_bg = a.weight_opt("gateUpBias", E, W, bg), has_bd = a.weight_opt("downBias", E, H, bd);
  element_bias(a, "gateUpBias", has_bg, bg);
  element_bias(a, "downBias", has_bd, bd);
  for (size_t s = 0; s < S; s++)
    if (ids.data[s] < 0 || ids.data[s] >= E) a.fail("expert id " + std::to_string(ids.data[s]) + " at slot " + std::to_string(s) + " outside [0, " + std::to_string(E) + ")");
  e.x = x.data;
  e.T = (int)T;
  e.H = (int)H;
  e.K = (int)K;
  e.E = (int)E;
  e.I = (int)I;
  e.ids = ids.data;
  e.rw = rw.data;
  e.wg = &wg;
  e.wd = &wd;
  e.bg = has_bg ? &bg : nullptr;
  e.bd = has_bd ? &bd : nullptr;
  e.out = out.data;
  experts_forward(e);
  return a.env().Undefined();
}

}  // namespace moekit
