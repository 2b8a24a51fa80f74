// Weights as the kernels see them: a [rows, cols] matrix of one format whose rows lie in one or more
// segments (a contiguous tensor is one segment; a view of a checkpoint's per-expert tensors or of
// separate gate / up stacks is several; a column block of a wider matrix is one segment whose rows are
// further apart than their length). Built and bounds-checked by the addon (napi_args.cc).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"

namespace moekit {

struct WeightSegment {
  const char* base;  // first byte of the segment's first row
  int64_t rows;
  size_t stride;  // bytes from one row's start to the next (>= the view's row_bytes)
};

struct WeightView {
  int fmt = FMT_F32;
  int64_t rows = 0, cols = 0;
  size_t row_bytes = 0;
  std::vector<WeightSegment> segs;
  std::vector<int64_t> starts;  // first logical row of each segment

  // Row r (0 <= r < rows).
  const char* row(int64_t r) const;
  // Whether every row lies row_bytes after the previous one within its segment.
  bool dense() const;
};

// Buffers a call's jobs point into (their row-run tables), kept until the jobs have run.
using JobKeep = std::vector<std::vector<char>>;

// Points job J at rows [r0, r0 + n) of `v` in place (its format and row stride): rows before J.wsplit from
// J.w, the rest from J.w2 (one more segment of the same stride) or, for slices over more segments or of
// mixed strides, from a run table kept in `keep` (which must outlive the job). Nothing is copied.
void bind_weight_rows(GemmJob& J, const WeightView& v, int64_t r0, int64_t n, JobKeep& keep);

}  // namespace moekit
