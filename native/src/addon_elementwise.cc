// Element-wise host ops that a prefill runs over whole activations: the residual add and the bfloat16 rounding
// of keys and values into the KV cache. In JavaScript they cost ~3 ns a value (1.7 ms for a 512 × 2048 add,
// 12 ms per forward for a 4 × 128 prompt's keys and values, docs/performance.md "Session 8"); here they are
// vectorized loops, split over the pool from 1 M values (split_rows, as the other memory-bound row ops). Results
// are bit-identical to the JavaScript ones (an IEEE float32 add; bfloat16 round to nearest even, NaN kept quiet).
#include "addon.h"
#include "napi_args.h"
#include "ops.h"

namespace moekit {

// add({ a, b, n, out }): out[i] = a[i] + b[i], i < n.
Napi::Value AddRows(const Napi::CallbackInfo& info) {
  OpArgs a(info, "add");
  const size_t n = (size_t)a.integer("n", 0, int64_t(1) << 40);
  const float* x = a.f32("a", n).data;
  const float* y = a.f32("b", n).data;
  float* out = a.f32("out", n).data;
  split_rows((int64_t)n, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) out[i] = x[i] + y[i];
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
  split_rows((int64_t)n, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) dst[i] = f32_to_bf16(src[i]);
  });
  return a.env().Undefined();
}

}  // namespace moekit
