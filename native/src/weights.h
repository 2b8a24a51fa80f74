// Weights as the kernels see them: a [rows, cols] matrix of one format whose rows lie in one or more
// segments (a contiguous tensor is one segment; a view of a checkpoint's per-expert tensors or of
// separate gate / up stacks is several). Built and bounds-checked by the addon (napi_args.cc).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"

namespace moekit {

struct WeightSegment {
  const char* base;  // first byte of the segment's first row
  int64_t rows;
};

struct WeightView {
  int fmt = FMT_F32;
  int64_t rows = 0, cols = 0;
  size_t row_bytes = 0;
  std::vector<WeightSegment> segs;
  std::vector<int64_t> starts;  // first logical row of each segment

  // Row r (0 <= r < rows).
  const char* row(int64_t r) const;
};

// Points job J at rows [r0, r0 + n) of `v` (its format, row size, and at most two base pointers: rows before
// J.wsplit from J.w, the rest from J.w2). Rows spanning more than two segments are copied into a buffer kept
// in `keep` (which must outlive the job).
void bind_weight_rows(GemmJob& J, const WeightView& v, int64_t r0, int64_t n, std::vector<std::vector<char>>& keep);

}  // namespace moekit
