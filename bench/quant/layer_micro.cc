// Single-thread micro-benchmark of the fused experts layer at T = 1 (experts_forward: the decode step's
// routed experts, gate_up with the gate epilogue then down with the routing-weight epilogue) on block
// formats, at Qwen1.5-MoE-A2.7B's dims (hidden 2048, width 1408, top-4), beside the same experts' rows run
// straight through Kernels::dot_rows ("raw": no column map, no epilogue, inputs prepared once) and a
// one-thread read probe. Times are thread CPU time (a shared machine's waiting left out).
//
//   bash bench/quant/layer_micro.sh [formats] [rounds] [hot]
//
// Cold (default): each call routes to 4 experts of a stack spanning >= 256 MiB, in turn, so the weights
// stream from memory; "hot": the same 4 experts every call (from L2 / L3 as far as they fit: the compute
// ceiling). With WITH_OLD (OLD=<dir>) the layer also runs on a previous build's kernel set (the runtime's
// quant kernels swapped call by call), and the two layers' outputs are compared.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ops.h"
#include "micro_common.h"
#include "quant/quant.h"
#include "weights.h"

using namespace moekit;
namespace q = moekit::quant;
using q::Kernels;
using q::row_bytes;
using q::act_bytes;
using q::quantize_act;

using micro::code_of;
using micro::fill;
using micro::median;
using micro::now_ns;

static WeightView view(int code, int64_t rows, int64_t cols, const uint8_t* data) {
  WeightView v;
  v.fmt = code;
  v.rows = rows;
  v.cols = cols;
  v.row_bytes = row_bytes(code, (int)cols);
  v.segs.push_back({(const char*)data, rows, v.row_bytes});
  v.starts.push_back(0);
  return v;
}

int main(int argc, char** argv) {
  const std::string formats = argc > 1 ? argv[1] : "q4_0,mxfp4,q8_0";
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 41;
  const bool hot = argc > 3 && std::string(argv[3]) == "hot";
  constexpr int H = 2048, I = 1408, TOPK = 4;
  set_threads(1);
  Runtime& rt = runtime();
  std::vector<const Kernels*> sides = {rt.qk};
  std::vector<std::string> names = {"new"};
#ifdef WITH_OLD
  sides.insert(sides.begin(), q::old_like(sides[0]));
  names.insert(names.begin(), "old");
#endif
  std::mt19937 g(2026);
  const size_t span = (size_t)256 << 20;
  std::vector<uint32_t> pbuf(span / 4, 1u);
  std::printf("# fused experts layer T = 1, H %d, I %d, top-%d, 1 thread, thread CPU time, %d rounds%s; GB/s of expert bytes\n", H, I, TOPK, rounds, hot ? ", weights hot" : "");
  std::printf("| format | MiB / call | probe GB/s best / median | raw GB/s best / median | raw in layer order GB/s best / median |");
  for (auto& n : names) std::printf(" %s layer GB/s best / median | %s %% of probe (median) |", n.c_str(), n.c_str());
  std::printf("%s\n", sides.size() > 1 ? " new/old (median time) | equal |" : "");
  size_t pat = 0;
  uint32_t sink = 0;
  for (const std::string& name : micro::split(formats)) {
    const int code = code_of(name);
    const size_t gb = row_bytes(code, H) * 2 * I, db = row_bytes(code, I) * H, per = gb + db;
    const int E = hot ? TOPK : (int)std::max<size_t>(2 * TOPK, span / per);
    // One expert's bytes filled at random, copied to every expert.
    std::vector<uint8_t> wg(gb * E), wd(db * E);
    fill(code, wg.data(), gb, g);
    fill(code, wd.data(), db, g);
    for (int e = 1; e < E; e++) {
      std::memcpy(wg.data() + gb * e, wg.data(), gb);
      std::memcpy(wd.data() + db * e, wd.data(), db);
    }
    const WeightView vg = view(code, (int64_t)E * 2 * I, H, wg.data()), vd = view(code, (int64_t)E * H, I, wd.data());
    std::vector<float> x(H), rw(TOPK, 0.25f);
    for (int k = 0; k < H; k++) x[k] = std::sin(0.731f * k) * 0.5f;
    std::vector<std::vector<float>> out(sides.size(), std::vector<float>(H));
    std::vector<std::vector<double>> t(sides.size());
    std::vector<double> tp, traw, tmap;
    // raw: the same rows by dot_rows, inputs prepared once
    // the raw runs' prepared inputs at RAW_ALIGN bytes past a 64-byte boundary (default 0)
    const size_t off = std::getenv("RAW_ALIGN") ? (size_t)std::atoi(std::getenv("RAW_ALIGN")) : 0;
    std::vector<uint8_t> agb(act_bytes(code, H) + 128), adb(act_bytes(code, I) + 128);
    uint8_t* ag_p = (uint8_t*)(((uintptr_t)agb.data() + 63) & ~(uintptr_t)63) + off;
    uint8_t* ad_p = (uint8_t*)(((uintptr_t)adb.data() + 63) & ~(uintptr_t)63) + off;
    struct Span {
      uint8_t* p;
      uint8_t* data() const { return p; }
    } ag{ag_p}, ad{ad_p};
    std::vector<float> xi(I), yraw(2 * I);
    for (int k = 0; k < I; k++) xi[k] = std::sin(0.37f * k) * 0.1f;
    quantize_act(code, x.data(), H, ag.data());
    quantize_act(code, xi.data(), I, ad.data());
    // Runners: each layer side, raw, raw in the layer's order, and (cold only: in hot mode it would evict the
    // experts between runners) the probe. Their order rotates each round, so none always follows the probe.
    int call = 0;
    std::vector<std::function<void()>> run;
    std::vector<std::vector<double>*> times;
    auto next_ids = [&](int32_t* ids) {
      for (int k = 0; k < TOPK; k++) ids[k] = (call * TOPK + k) % E;
      call++;
    };
    for (size_t s = 0; s < sides.size(); s++) {
      run.push_back([&, s] {
        int32_t ids[TOPK];
        next_ids(ids);
        ExpertsArgs a;
        a.x = x.data();
        a.T = 1, a.H = H, a.K = TOPK, a.E = E, a.I = I;
        a.ids = ids;
        a.rw = rw.data();
        a.wg = &vg;
        a.wd = &vd;
        a.gkind = GATE_CONCAT;
        a.act = ACT_SILU;
        a.out = out[s].data();
        rt.qk = sides[s];
        experts_forward(a);
        rt.qk = sides.back();
      });
      times.push_back(&t[s]);
    }
    const bool layer_only = std::getenv("LAYER_ONLY") != nullptr;  // (profiling the layer alone)
    if (!layer_only) {
      run.push_back([&] {
        int32_t ids[TOPK];
        next_ids(ids);
        for (int k = 0; k < TOPK; k++) {
          sides.back()->dot_rows(code, wg.data() + gb * ids[k], row_bytes(code, H), 0, 2 * I, H, ag.data(), yraw.data());
          sides.back()->dot_rows(code, wd.data() + db * ids[k], row_bytes(code, I), 0, H, I, ad.data(), yraw.data());
        }
      });
      times.push_back(&traw);
      // the same rows in the layer's order: gate_up in runs of 16 gate then 16 up rows (the gate epilogue's map)
      run.push_back([&] {
        int32_t ids[TOPK];
        next_ids(ids);
        const size_t rb = row_bytes(code, H);
        for (int k = 0; k < TOPK; k++) {
          const uint8_t* e = wg.data() + gb * ids[k];
          for (int j = 0; j < I; j += 16) {
            sides.back()->dot_rows(code, e + rb * j, rb, 0, 16, H, ag.data(), yraw.data() + 2 * j);
            sides.back()->dot_rows(code, e + rb * (I + j), rb, 0, 16, H, ag.data(), yraw.data() + 2 * j + 16);
          }
          sides.back()->dot_rows(code, wd.data() + db * ids[k], row_bytes(code, I), 0, H, I, ad.data(), yraw.data());
        }
      });
      times.push_back(&tmap);
    }
    const size_t pw = per * TOPK / 4;
    auto probe = [&] { sink ^= xor_words(pbuf.data() + pw * (pat++ % (span / 4 / pw)), pw); };
    if (!hot) {
      run.push_back(probe);
      times.push_back(&tp);
    }
    for (int r = -2; r < rounds; r++) {
      for (size_t i = 0; i < run.size(); i++) {
        const size_t j = (i + (size_t)(r + 2)) % run.size();
        const double t0 = now_ns();
        run[j]();
        if (r >= 0) times[j]->push_back(now_ns() - t0);
      }
    }
    if (hot)  // the probe after the rest, streaming as in cold mode
      for (int r = 0; r < rounds; r++) {
        const double t0 = now_ns();
        probe();
        tp.push_back(now_ns() - t0);
      }
    if (layer_only) traw = tmap = tp;
    const double bytes = (double)per * TOPK;
    auto best = [&](const std::vector<double>& v) { return bytes / *std::min_element(v.begin(), v.end()); };
    const double pm = bytes / median(tp);
    std::printf("| %s | %.2f | %.1f / %.1f | %.1f / %.1f |", q::format_info(code)->name, bytes / 1048576.0, best(tp), pm, best(traw), bytes / median(traw));
    std::printf(" %.1f / %.1f |", best(tmap), bytes / median(tmap));
    for (size_t s = 0; s < sides.size(); s++) std::printf(" %.1f / %.1f | %.0f |", best(t[s]), bytes / median(t[s]), 100 * bytes / median(t[s]) / pm);
    if (sides.size() > 1) {
      const bool eq = std::memcmp(out[0].data(), out[1].data(), 4 * (size_t)H) == 0;
      std::printf(" %.3f | %s |", median(t[1]) / median(t[0]), eq ? "bit-identical" : "DIFFERENT");
    }
    std::printf("%s\n", sink == 0x12345678u ? " " : "");
  }
  return 0;
}
