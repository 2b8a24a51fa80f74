// What the standalone quant micro-benchmarks (gemv_micro.cc, layer_micro.cc, gemm_micro.cc) share: thread CPU
// time, format names, weights of random codes with sane block scales, medians, and (WITH_OLD) the previous
// build's kernel set that *_micro.sh OLD=<dir> compiles under renamed symbols.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "quant/quant.h"

#ifdef WITH_OLD
namespace moekit {
namespace quant {
const Kernels* old_kernels_avx512vnni();
const Kernels* old_kernels_avx512vbmi();
// The previous build's set of the same name as `now` (its VBMI variant when `now` is "avx512vbmi").
inline const Kernels* old_like(const Kernels* now) {
  return std::string(now->name) == "avx512vbmi" ? old_kernels_avx512vbmi() : old_kernels_avx512vnni();
}
}
}  // namespace moekit
#endif

namespace micro {

// Thread CPU time: on a shared machine the time this thread ran, not the time it waited for a core.
inline double now_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

// The fields of a comma-separated list ("q8_0,q4_0", "1,2,4"), empty ones kept.
inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  for (size_t at = 0; at <= s.size();) {
    size_t c = s.find(',', at);
    if (c == std::string::npos) c = s.size();
    out.push_back(s.substr(at, c - at));
    at = c + 1;
  }
  return out;
}

inline int code_of(const std::string& s) {
  namespace q = moekit::quant;
  for (int c = q::Q8_0; c <= q::FP8_B128; c++)
    if (q::format_info(c) && s == q::format_info(c)->name) return c;
  std::fprintf(stderr, "unknown format %s\n", s.c_str());
  std::exit(2);
}

// Random codes with sane block scales (fp16 2^-7; mxfp4's e8m0 likewise; fp8's float scale 2^-7).
inline void fill(int code, uint8_t* w, size_t bytes, std::mt19937& g) {
  namespace q = moekit::quant;
  for (size_t i = 0; i < bytes; i++) w[i] = (uint8_t)g();
  const q::FormatInfo* f = q::format_info(code);
  for (size_t o = 0; o + f->block_bytes <= bytes; o += f->block_bytes) {
    uint8_t* b = w + o;
    const float s = 1.f / 128;
    switch (code) {
      case q::MXFP4: b[0] = 120; break;
      case q::Q6_K: b[208] = 0x00, b[209] = 0x20; break;
      case q::Q4_K: b[0] = 0x00, b[1] = 0x20, b[2] = 0x00, b[3] = 0x20; break;
      case q::FP8_B128: std::memcpy(b, &s, 4); break;
      default: b[0] = 0x00, b[1] = 0x20;
    }
  }
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace micro
