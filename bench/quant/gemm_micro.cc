// Single-thread micro-benchmark of the quantized prefill kernels at the model's shapes: the multi-row GEMV
// (quant_gemv_task's path: activations prepared per row, dot_rows_multi over runs of 16 weight rows) and the
// int8 GEMM (int8_gemm_task's path: rows prepared once; below packed_from rows each weight row decoded in
// registers, else runs of 64 weight rows packed and multiplied by every input row), for
// M input rows against N weight rows of K values, weights hot in L2 / L3 (N × row bytes) or streamed.
//
//   bash bench/quant/gemm_micro.sh [formats] [N] [K] [M list]   (builds against build/Release's objects)
//
// Also the widened panels (quant_gemm_task without prepared inputs: weight rows widened to bfloat16 and the bf16
// GEMM with the fused store epilogue, the path of formats the int8 GEMM does not take), inputs rounded to bf16.
//
// Times are thread CPU time (best of 7). Prints ns per call, GMAC/s (M·N·K / time) and ns per (weight row, input row) pair.
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common.h"
#include "quant/blocks.h"
#include "quant/gemm.h"
#include "micro_common.h"
#include "quant/quant.h"
#include "quant_products.h"

using namespace moekit::quant;

#ifdef WITH_OLD
// A previous build's int8 GEMM (the session-4 in-register decode), compiled from its source with its names
// renamed (gemm_micro.sh OLD=<dir>): timed beside the current one in the same process.
namespace moekit {
namespace quant {
struct OldGemmKernels {
  const char* name;
  bool (*supports)(int code);
  size_t (*act_bytes)(int K);
  void (*prepare)(int code, const float* x, int K, uint8_t* out);
  void (*tile)(int code, const uint8_t* const* w, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy);
};
const OldGemmKernels* old_gemm_avx512vnni();
}  // namespace quant
}  // namespace moekit
#endif

using micro::now_ns;

static std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  for (const std::string& f : micro::split(s)) out.push_back(std::atoi(f.c_str()));
  return out;
}

int main(int argc, char** argv) {
  const std::vector<std::string> fmts = argc > 1 ? micro::split(argv[1]) : std::vector<std::string>{"q8_0", "q4_0"};
  const int N = argc > 2 ? std::atoi(argv[2]) : 512;
  const int K = argc > 3 ? std::atoi(argv[3]) : 2048;
  const std::vector<int> Ms = argc > 4 ? parse_list(argv[4]) : std::vector<int>{1, 2, 4, 5, 6, 8, 9, 12, 16, 24, 32, 64, 128};
  const Kernels* qk = kernels_avx512vnni();
  const GemmKernels* gk = gemm_avx512vnni();
  std::mt19937 rng(7);
  std::printf("N %d K %d, one thread; ns/pair = ns per (weight row, input row)\n", N, K);
  std::printf("| format | M | gemv us | gemv GMAC/s | gemv ns/pair | gemm us | gemm GMAC/s | gemm ns/pair | panels ns/pair | panels / gemm | old gemm ns/pair | old / new |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& name : fmts) {
    const int code = name == "q8_0" ? Q8_0 : name == "q4_0" ? Q4_0 : name == "q5_0" ? Q5_0 : name == "q4_k" ? Q4_K : name == "q6_k" ? Q6_K : MXFP4;
    const FormatInfo* f = format_info(code);
    const size_t rb = row_bytes(code, K);
    std::vector<uint8_t> w(rb * (size_t)N);
    for (auto& b : w) b = (uint8_t)rng();
    const int bv = code == Q4_K || code == Q6_K ? 256 : 32;  // values per block
    for (int r = 0; r < N; r++)
      for (int b = 0; b < K / bv; b++) {
        uint8_t* blk = w.data() + (size_t)r * rb + (size_t)b * f->block_bytes;
        if (code == Q4_K) {  // d, dmin fp16 0.0625
          blk[0] = blk[2] = 0x00;
          blk[1] = blk[3] = 0x2c;
        } else if (code == Q6_K) {
          blk[208] = 0x00;
          blk[209] = 0x2c;
        } else if (code == MXFP4) {
          blk[0] = 120;
        } else {
          blk[0] = 0x00;
          blk[1] = 0x2c;  // fp16 0.0625
        }
      }
    const int maxM = *std::max_element(Ms.begin(), Ms.end());
    std::vector<float> x((size_t)maxM * K);
    std::normal_distribution<float> nd;
    for (auto& v : x) v = nd(rng);
    std::vector<float> y((size_t)maxM * N);
    for (int M : Ms) {
      // GEMV path
      const size_t ab = act_bytes(code, K);
      std::vector<uint8_t> acts((size_t)M * ab);
      std::vector<const uint8_t*> ap((size_t)M);
      std::vector<float*> yp((size_t)M);
      auto gemv = [&] {
        for (int m = 0; m < M; m++) quantize_act(code, x.data() + (size_t)m * K, K, acts.data() + (size_t)m * ab), ap[(size_t)m] = acts.data() + (size_t)m * ab;
        for (int n = 0; n < N; n += 16) {
          const int len = std::min(16, N - n);
          for (int m = 0; m < M; m++) yp[(size_t)m] = y.data() + (size_t)m * N + n;
          qk->dot_rows_multi(code, w.data() + (size_t)n * rb, rb, 0, len, K, ap.data(), M, yp.data());
        }
      };
      // GEMM path
      const size_t gb = gk->act_bytes(code, K);
      std::vector<uint8_t> gact((size_t)M * gb + 64);
      std::vector<const uint8_t*> rows((size_t)N);
      for (int r = 0; r < N; r++) rows[(size_t)r] = w.data() + (size_t)r * rb;
      std::vector<uint8_t> packed(gk->packed_bytes(code, 64, K) + 64);
      uint8_t* wp = (uint8_t*)(((uintptr_t)packed.data() + 63) & ~(uintptr_t)63);
      auto gemm = [&] {
        for (int m = 0; m < M; m++) gk->prepare(code, x.data() + (size_t)m * K, K, gact.data() + (size_t)m * gb);
        if (M < gk->packed_from) return gk->tile(code, rows.data(), N, gact.data(), gb, M, K, y.data(), (size_t)N);
        for (int r0 = 0; r0 < N; r0 += 64) {
          const int nc = std::min(64, N - r0);
          gk->pack(code, rows.data() + r0, nc, K, wp);
          for (int m0 = 0; m0 < M; m0 += 32) gk->tile_packed(code, wp, nc, gact.data() + (size_t)m0 * gb, gb, std::min(32, M - m0), K, y.data() + (size_t)m0 * N + r0, (size_t)N);
        }
      };
      // widened panels (bf16 compute: x as bfloat16 values)
      std::vector<float> xb((size_t)M * K);
      for (size_t i = 0; i < xb.size(); i++) {
        const uint32_t u = (uint32_t)to_bf16(x[i]) << 16;
        std::memcpy(&xb[i], &u, 4);
      }
      moekit::Scratch scratch;
      moekit::GemmJob PJ;
      PJ.w = (const char*)w.data();
      PJ.wstride = rb;
      PJ.wdt = code;
      PJ.M = M, PJ.N = N, PJ.K = K;
      PJ.x = xb.data();
      PJ.y = y.data();
      PJ.ldy = (size_t)N;
      PJ.epi = moekit::EPI_STORE;
      PJ.bf16dot = 1;
      auto panels = [&] { moekit::quant_gemm_task(PJ, 0, N, scratch); };
      auto old = [&] {
#ifdef WITH_OLD
        const OldGemmKernels* ok = old_gemm_avx512vnni();
        for (int m = 0; m < M; m++) ok->prepare(code, x.data() + (size_t)m * K, K, gact.data() + (size_t)m * gb);
        for (int m0 = 0; m0 < M; m0 += 8) ok->tile(code, rows.data(), N, gact.data() + (size_t)m0 * gb, gb, std::min(8, M - m0), K, y.data() + (size_t)m0 * N, (size_t)N);
#endif
      };
      // best of 7 rounds, the three paths interleaved within each round
      auto once = [&](auto&& fn) {
        int iters = 0;
        const double t0 = now_ns();
        double t1;
        do {
          fn();
          iters++;
          t1 = now_ns();
        } while (t1 - t0 < 2e7);
        return (t1 - t0) / iters;
      };
      gemv(), gemm(), panels(), old();
      double tv = 1e30, tg = 1e30, tp = 1e30, to = 1e30;
      for (int rep = 0; rep < 7; rep++) tv = std::min(tv, once(gemv)), tg = std::min(tg, once(gemm)), tp = std::min(tp, once(panels)), to = std::min(to, once(old));
      const double macs = (double)M * N * K;
      std::printf("| %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", name.c_str(), M, tv / 1e3, macs / tv, tv / ((double)M * N), tg / 1e3, macs / tg,
                  tg / ((double)M * N), tp / ((double)M * N), tp / tg, to / ((double)M * N), to / tg);
    }
  }
  return 0;
}
