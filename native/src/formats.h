// The weight formats the native kernels read, numbered as src/formats/table.ts numbers them (FORMATS[..].code);
// test/cpu/formats.test.ts checks that the two tables agree (the addon's `formats()` lists this one).
#pragma once
#include <cstddef>
#include <cstdint>

namespace moekit {

enum Format : int { FMT_F32 = 0, FMT_BF16 = 1, FMT_F16 = 2, FMT_I32 = 3 };
// Block formats (codes 4..10) are read through the quant kernels (quant/quant.h); their layouts are there.

struct FormatInfo {
  const char* name;
  int code;
  int block_elems;  // values per block (1 for element formats)
  int block_bytes;  // bytes per block
  bool weight;      // the products, the fused layer and the embedding read weights in this format
};

inline constexpr FormatInfo kFormats[] = {
    {"float32", FMT_F32, 1, 4, true},
    {"bfloat16", FMT_BF16, 1, 2, true},
    {"float16", FMT_F16, 1, 2, true},
    {"int32", FMT_I32, 1, 4, false},
    {"q8_0", 4, 32, 34, true},
    {"q4_0", 5, 32, 18, true},
    {"q5_0", 6, 32, 22, true},
    {"q4_k", 7, 256, 144, true},
    {"q6_k", 8, 256, 210, true},
    {"mxfp4", 9, 32, 17, true},
    {"fp8_e4m3_b128", 10, 128, 132, true},
};

inline const FormatInfo* format_info(int code) {
  for (const FormatInfo& f : kFormats)
    if (f.code == code) return &f;
  return nullptr;
}

// Whether `code` is a block format (read through the quant kernels, never through load_w).
inline bool is_block_format(int code) {
  const FormatInfo* f = format_info(code);
  return f && f->block_elems > 1;
}

// a · b without wrapping: false when the product does not fit a size_t.
inline bool mul_ok(size_t a, size_t b, size_t& out) { return !__builtin_mul_overflow(a, b, &out); }

// Bytes of one row of `cols` values of format `f`: false when cols is not whole blocks or the size overflows.
inline bool row_bytes(const FormatInfo& f, size_t cols, size_t& out) {
  if (cols % (size_t)f.block_elems != 0) return false;
  return mul_ok(cols / (size_t)f.block_elems, (size_t)f.block_bytes, out);
}

}  // namespace moekit
