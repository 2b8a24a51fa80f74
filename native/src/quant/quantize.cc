// Dispatch of the block quantizers (quantize_impl.h): the AVX2 build where the CPU has it (the same
// results: both builds round every operation the same way), whole blocks split over the thread pool.
#include "quantize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "../ops.h"
#include "quant.h"

namespace moekit {
namespace quant {
namespace {

const Quantizers* chosen() {
  static const Quantizers* q = [] {
#if defined(__x86_64__) || defined(_M_X64)
    for (const std::string& name : supported())
      if (name == "avx2" || name == "avx512vnni") return quantizers_avx2();
#endif
    return quantizers_scalar();
  }();
  return q;
}

using BlockFn = void (*)(const float*, size_t, uint8_t*);

BlockFn block_fn(int code) {
  const Quantizers* q = chosen();
  switch (code) {
    case Q8_0: return q->q8_0;
    case Q4_0: return q->q4_0;
    case Q5_0: return q->q5_0;
    case Q4_K: return q->q4_k;
    case Q6_K: return q->q6_k;
    case MXFP4: return q->mxfp4;
    default: return nullptr;
  }
}

}  // namespace

bool can_quantize(int code) { return block_fn(code) != nullptr; }

int64_t first_non_finite(const float* x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!std::isfinite(x[i])) return (int64_t)i;
  return -1;
}

void quantize_blocks(int code, const float* x, size_t blocks, uint8_t* out, bool threaded) {
  const BlockFn fn = block_fn(code);
  const FormatInfo* f = format_info(code);
  if (!fn || !f || blocks == 0) return;
  const size_t elems = (size_t)f->block_elems, bytes = (size_t)f->block_bytes;
  ThreadPool& pool = runtime().pool;
  // tasks of at least 64 Ki values (a few hundred microseconds for the K-quants), about 4 per thread
  const size_t min_blocks = std::max<size_t>(1, 65536 / elems);
  const int threads = threaded ? pool.threads() : 1;
  size_t per = std::max(min_blocks, (blocks + 4 * (size_t)threads - 1) / (4 * (size_t)threads));
  const size_t tasks = (blocks + per - 1) / per;
  if (threads <= 1 || tasks <= 1) {
    fn(x, blocks, out);
    return;
  }
  pool.run((int)tasks, [&](int t, int) {
    const size_t b0 = (size_t)t * per, b1 = std::min(blocks, b0 + per);
    fn(x + b0 * elems, b1 - b0, out + b0 * bytes);
  });
}

}  // namespace quant
}  // namespace moekit
