// Element-wise host ops that a prefill runs over whole activations: the residual add and the bfloat16 rounding
// of keys and values into the KV cache. In JavaScript they cost ~3 ns a value (1.7 ms for a 512 × 2048 add,
// 12 ms per forward for a 4 × 128 prompt's keys and values, docs/performance.md "Session 8"); here they are
// vectorized loops split over the pool. Results are bit-identical to the JavaScript ones (an IEEE float32 add;
// bfloat16 round to nearest even, NaN kept quiet).
#include <algorithm>

#include "addon.h"
#include "napi_args.h"
#include "ops.h"

namespace moekit {

namespace {

// Calls body(i0, i1) over [0, n) in pieces of at least 64 K values, across the pool when there is more than one.
template <typename F>
void split(size_t n, const F& body) {
  constexpr size_t kPiece = size_t(1) << 16;
  const int pieces = (int)std::min<size_t>((n + kPiece - 1) / kPiece, 64);
  if (pieces <= 1) {
    body(size_t(0), n);
    return;
  }
  const size_t per = (n + (size_t)pieces - 1) / (size_t)pieces;
  runtime().pool.run(pieces, [&](int t, int) { body((size_t)t * per, std::min(n, (size_t)(t + 1) * per)); });
}

}  // namespace

// add({ a, b, n, out }): out[i] = a[i] + b[i], i < n.
Napi::Value AddRows(const Napi::CallbackInfo& info) {
  OpArgs a(info, "add");
  const size_t n = (size_t)a.integer("n", 0, int64_t(1) << 40);
  const float* x = a.f32("a", n).data;
  const float* y = a.f32("b", n).data;
  float* out = a.f32("out", n).data;
  split(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; i++) out[i] = x[i] + y[i];
  });
  return a.env().Undefined();
}

// narrowBf16({ src, n, dst, at }): dst[at + i] = bfloat16 bits of src[i], i < n.
Napi::Value NarrowBf16(const Napi::CallbackInfo& info) {
  OpArgs a(info, "narrowBf16");
  const size_t n = (size_t)a.integer("n", 0, int64_t(1) << 40);
  const size_t at = (size_t)a.integer("at", 0, int64_t(1) << 40);
  const float* src = a.f32("src", n).data;
  uint16_t* dst = a.u16("dst", at + n).data + at;
  split(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; i++) dst[i] = f32_to_bf16(src[i]);
  });
  return a.env().Undefined();
}

}  // namespace moekit
