// Single-thread micro-benchmark of the one-input-row quant GEMV (Kernels::dot_rows, the path of a decode
// step's expert rows) against a read probe, weights streamed from memory: each call reads the next of
// enough copies of the [N, K] matrix to span 256 MiB. With WITH_OLD (gemv_micro.sh OLD=<dir>) a previous
// build's kernel set is timed beside the current one, call by call, and its results compared.
//
//   bash bench/quant/gemv_micro.sh [formats] [N] [K] [rounds] [hot]
//
// "hot": one copy read again and again (from L2 / L3 when it fits): the kernels' compute ceiling.
// Times are thread CPU time (on a shared machine: the time this thread ran, not the time it waited for a
// core). Prints, per format, GB/s (weight bytes / time) best and median, and % of the probe's best / median.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "ops.h"
#include "micro_common.h"
#include "quant/quant.h"

using namespace moekit::quant;

using micro::code_of;
using micro::fill;
using micro::median;
using micro::now_ns;

int main(int argc, char** argv) {
  const std::string formats = argc > 1 ? argv[1] : "q8_0,q4_0,q5_0,mxfp4,q4_k,q6_k";
  const int N = argc > 2 ? std::atoi(argv[2]) : 2816, K = argc > 3 ? std::atoi(argv[3]) : 2048;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 41;
  const bool hot = argc > 5 && std::string(argv[5]) == "hot";
  const size_t span = (size_t)256 << 20;
  std::vector<const Kernels*> sides = {by_name("avx512vbmi") ? by_name("avx512vbmi") : kernels_avx512vnni()};  // the best AVX-512 set
  std::vector<std::string> names = {"new"};
#ifdef WITH_OLD
  sides.insert(sides.begin(), old_like(sides[0]));
  names.insert(names.begin(), "old");
#endif
  std::mt19937 g(2026);
  std::vector<uint32_t> pbuf(span / 4, 1u);
  std::printf("# one-row quant GEMV [%d, %d], 1 thread, thread CPU time, %d rounds (each side and the probe once per round)%s\n", N, K, rounds, hot ? ", weights hot" : "");
  std::printf("| format | MiB | probe GB/s best / median |");
  for (auto& n : names) std::printf(" %s GB/s best / median | %s %% of probe best / median |", n.c_str(), n.c_str());
  std::printf("%s\n", sides.size() > 1 ? " new/old (median time) | equal |" : "");
  size_t at = 0;
  for (const std::string& name : micro::split(formats)) {
    const int code = code_of(name);
    const size_t rb = row_bytes(code, K), one = rb * (size_t)N;
    const int copies = hot ? 1 : (int)std::max<size_t>(2, (span + one - 1) / one);
    std::vector<uint8_t> w(one * copies);
    fill(code, w.data(), one, g);
    for (int k = 1; k < copies; k++) std::memcpy(w.data() + one * k, w.data(), one);
    std::vector<float> x(K);
    for (int k = 0; k < K; k++) x[k] = std::sin(0.731f * k) * 0.5f;
    std::vector<uint8_t> act(act_bytes(code, K));
    quantize_act(code, x.data(), K, act.data());
    std::vector<std::vector<float>> y(sides.size(), std::vector<float>(N));
    std::vector<std::vector<double>> t(sides.size());
    std::vector<double> tp;
    const size_t pw = one / 4, pcopies = span / 4 / pw;
    uint32_t sink = 0;
    int call = 0;
    for (int r = -2; r < rounds; r++) {
      for (size_t s = 0; s < sides.size(); s++) {
        const uint8_t* wc = w.data() + one * (size_t)(call++ % copies);
        const double t0 = now_ns();
        sides[s]->dot_rows(code, wc, rb, 0, N, K, act.data(), y[s].data());
        if (r >= 0) t[s].push_back(now_ns() - t0);
      }
      const double t0 = now_ns();
      sink ^= moekit::xor_words(pbuf.data() + pw * (at++ % pcopies), pw);
      if (r >= 0) tp.push_back(now_ns() - t0);
    }
    const double pb = one / *std::min_element(tp.begin(), tp.end()), pm = one / median(tp);
    std::printf("| %s | %.2f | %.1f / %.1f |", format_info(code)->name, one / 1048576.0, pb, pm);
    for (size_t s = 0; s < sides.size(); s++) {
      const double b = one / *std::min_element(t[s].begin(), t[s].end()), m = one / median(t[s]);
      std::printf(" %.1f / %.1f | %.0f / %.0f |", b, m, 100 * b / pb, 100 * m / pm);
    }
    if (sides.size() > 1) {
      const bool eq = std::memcmp(y[0].data(), y[1].data(), 4 * (size_t)N) == 0;
      std::printf(" %.3f | %s |", median(t[1]) / median(t[0]), eq ? "bit-identical" : "DIFFERENT");
    }
    std::printf("%s\n", sink == 0x12345678u ? " " : "");
  }
  return 0;
}
