// Element-wise host ops that a prefill runs over whole activations: the residual add and the bfloat16 rounding
// of keys and values into the KV cache. In JavaScript they cost ~3 ns a value (1.7 ms for a 512 × 2048 add,
// 12 ms per forward for a 4 × 128 prompt's keys and values, docs/performance.md "Session 8"); here they are
// vectorized loops, split over the pool from 1 M values (split_rows, as the other memory-bound row ops). Results
// are bit-identical to the JavaScript ones (an IEEE float32 add; bfloat16 round to nearest even, NaN kept quiet).
// And a serving step's greedy token choice, an argmax over each row of logits (~0.13 ms a 151,936-word row in
// JavaScript, docs/performance.md "Session 12").
#include "addon.h"
#include "napi_args.h"
#include "ops.h"

#include <cmath>

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

// The index of the largest value of x[0..n) (ties → lowest index; NaN loses; all NaN → 0), as the host
// backends' argmax. Blocks of 64 are skipped when none of their values beats the best so far: their maximum
// (NaN skipped) comes from 8 independent running maxima (8 short dependency chains; the compiler emits them as
// scalar maxss, not packed).
static int32_t argmax_row(const float* x, size_t n) {
  size_t i = 0;
  while (i < n && x[i] != x[i]) i++;
  if (i == n) return 0;
  size_t best = i;
  float bv = x[i++];
  constexpr size_t B = 64;
  for (; i < n && i % B != 0; i++)
    if (x[i] > bv) bv = x[i], best = i;
  for (; i + B <= n; i += B) {
    float m[8];
    for (int l = 0; l < 8; l++) m[l] = -INFINITY;
    for (size_t j = 0; j < B; j += 8)
      for (int l = 0; l < 8; l++) m[l] = x[i + j + l] > m[l] ? x[i + j + l] : m[l];
    float bm = m[0];
    for (int l = 1; l < 8; l++) bm = m[l] > bm ? m[l] : bm;
    if (!(bm > bv)) continue;
    for (size_t j = i; j < i + B; j++)
      if (x[j] > bv) bv = x[j], best = j;
  }
  for (; i < n; i++)
    if (x[i] > bv) bv = x[i], best = i;
  return (int32_t)best;
}

// argmax({ x, rows, n, out }): out[r] = argmax_row(x + r·n, n), r < rows.
Napi::Value ArgmaxRows(const Napi::CallbackInfo& info) {
  OpArgs a(info, "argmax");
  const size_t rows = (size_t)a.integer("rows", 0, int64_t(1) << 31);
  const size_t n = (size_t)a.integer("n", 1, int64_t(1) << 40);
  const float* x = a.f32("x", rows * n).data;
  int32_t* out = a.i32("out", rows).data;
  split_rows((int64_t)rows, (int64_t)n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) out[r] = argmax_row(x + (size_t)r * n, n);
  });
  return a.env().Undefined();
}

}  // namespace moekit
