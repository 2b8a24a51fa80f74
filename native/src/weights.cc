#include "weights.h"

#include <algorithm>
#include <cstring>

namespace moekit {

const char* WeightView::row(int64_t r) const {
  const size_t i = (size_t)(std::upper_bound(starts.begin(), starts.end(), r) - starts.begin()) - 1;
  return segs[i].base + (size_t)(r - starts[i]) * row_bytes;
}

void bind_weight_rows(GemmJob& J, const WeightView& v, int64_t r0, int64_t n, std::vector<std::vector<char>>& keep) {
  J.wdt = v.fmt;
  J.wrb = v.row_bytes;
  J.w2 = nullptr;
  J.wsplit = SIZE_MAX;
  if (n <= 0) {
    J.w = nullptr;
    return;
  }
  size_t i = (size_t)(std::upper_bound(v.starts.begin(), v.starts.end(), r0) - v.starts.begin()) - 1;
  const int64_t in_first = v.starts[i] + v.segs[i].rows - r0;
  J.w = v.segs[i].base + (size_t)(r0 - v.starts[i]) * v.row_bytes;
  if (in_first >= n) return;
  // Skip empty segments to the one holding row r0 + in_first.
  size_t j = i + 1;
  while (v.segs[j].rows == 0) j++;
  if (in_first + v.segs[j].rows >= n) {
    J.w2 = v.segs[j].base;
    J.wsplit = (size_t)in_first;
    return;
  }
  keep.emplace_back((size_t)n * v.row_bytes);
  char* dst = keep.back().data();
  for (int64_t r = 0; r < n; r++) std::memcpy(dst + (size_t)r * v.row_bytes, v.row(r0 + r), v.row_bytes);
  J.w = dst;
}

}  // namespace moekit
