#include "weights.h"

#include <algorithm>
#include <cstring>

namespace moekit {

const char* WeightView::row(int64_t r) const {
  const size_t i = (size_t)(std::upper_bound(starts.begin(), starts.end(), r) - starts.begin()) - 1;
  return segs[i].base + (size_t)(r - starts[i]) * segs[i].stride;
}

bool WeightView::dense() const {
  return std::all_of(segs.begin(), segs.end(), [&](const WeightSegment& s) { return s.rows <= 1 || s.stride == row_bytes; });
}

void bind_weight_rows(GemmJob& J, const WeightView& v, int64_t r0, int64_t n, JobKeep& keep) {
  J.wdt = v.fmt;
  J.w2 = nullptr;
  J.wsplit = SIZE_MAX;
  J.wruns = nullptr;
  J.nwruns = 0;
  if (n <= 0) {
    J.w = nullptr;
    J.wstride = v.row_bytes;
    return;
  }
  size_t i = (size_t)(std::upper_bound(v.starts.begin(), v.starts.end(), r0) - v.starts.begin()) - 1;
  const int64_t in_first = v.starts[i] + v.segs[i].rows - r0;
  J.w = v.segs[i].base + (size_t)(r0 - v.starts[i]) * v.segs[i].stride;
  J.wstride = v.segs[i].stride;
  if (in_first >= n) return;
  J.wsplit = (size_t)in_first;
  // The segments holding rows [r0 + in_first, r0 + n), empty ones skipped.
  std::vector<WRowRun> runs;
  int64_t at = in_first;
  for (size_t j = i + 1; at < n; j++) {
    if (v.segs[j].rows == 0) continue;
    runs.push_back({(size_t)at, v.segs[j].base, v.segs[j].stride});
    at += v.segs[j].rows;
  }
  if (runs.size() == 1 && runs[0].stride == J.wstride) {
    J.w2 = runs[0].base;
    return;
  }
  keep.emplace_back(runs.size() * sizeof(WRowRun));
  std::memcpy(keep.back().data(), runs.data(), runs.size() * sizeof(WRowRun));
  J.wruns = (const WRowRun*)keep.back().data();
  J.nwruns = (int)runs.size();
}

}  // namespace moekit
