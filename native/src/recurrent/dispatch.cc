// Kernel-set selection and the threaded drivers of the recurrent kernels: the set follows the products'
// instruction set (runtime().kt, which setIsa / MOEKIT_ISA change); tasks are (sequence, channel block) for
// the convolution and (sequence, head) for the delta rule, handed out over the pool.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../ops.h"
#include "recurrent.h"

namespace moekit {
namespace recurrent {

static const Kernels* current() {
  const char* isa = runtime().kt->name;
#if defined(__x86_64__) || defined(_M_X64)
  if (std::strncmp(isa, "avx512", 6) == 0) return kernels_avx512();
  if (std::strcmp(isa, "avx2") == 0) return kernels_avx2();
#endif
  (void)isa;
  return kernels_scalar();
}

// Per-thread scratch of the drivers (a few KB; grown on demand).
static thread_local std::vector<float> tls_scratch;
static float* scratch(size_t n) {
  if (tls_scratch.size() < n) tls_scratch.resize(n);
  return tls_scratch.data();
}

// Runs fn(task) for task in [0, n): on the pool when there is more than one task and at least kPoolWork
// multiply-adds in all, else on the calling thread. One sequence's decode step (Qwen3-Next: conv 8192 × 4,
// delta rule 32 heads × 128 × 128 = 2^19) stays on the calling thread: it takes ~0.4 / ~1.3 ms there, and
// handing it to the pool costs a worker wake-up, which on a shared machine (the worker descheduled) measured
// 10–15 ms per call (2026-12-06, 2 busy vCPUs).
constexpr double kPoolWork = 1 << 20;
template <typename F>
static void for_tasks(int n, double work, const F& fn) {
  ThreadPool& pool = runtime().pool;
  if (n <= 1 || pool.threads() <= 1 || work < kPoolWork) {
    for (int i = 0; i < n; i++) fn(i);
    return;
  }
  const std::function<void(int, int)> f = [&](int task, int) { fn(task); };
  pool.run(n, f);
}

void causal_conv1d(const ConvArgs& a) {
  if (a.B == 0 || a.S == 0 || a.C == 0) return;
  const Kernels* k = current();
  const int blocks = (a.C + kConvBlock - 1) / kConvBlock;
  const size_t need = (size_t)a.Kw * kConvBlock;
  for_tasks(a.B * blocks, (double)a.B * a.S * a.C * a.Kw, [&](int task) {
    const int b = task / blocks, c0 = (task % blocks) * kConvBlock;
    k->conv(a, b, c0, std::min(a.C, c0 + kConvBlock), scratch(need));
  });
}

void gated_delta_rule(const DeltaArgs& a) {
  if (a.B == 0 || a.H == 0 || a.S == 0) return;
  const Kernels* k = current();
  const size_t need = (size_t)a.Dk + a.Dv;
  for_tasks(a.B * a.H, (double)a.B * a.H * a.S * a.Dk * a.Dv, [&](int task) { k->delta(a, task / a.H, task % a.H, scratch(need)); });
}

}  // namespace recurrent
}  // namespace moekit
