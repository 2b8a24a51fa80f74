// Int8 GEMM over block-format weights read in place (the prefill product of many input rows): the inputs
// quantized once per product to int8 blocks of 32 (as the decode GEMV's, d = amax / 127, nearest even),
// then a register-blocked micro-kernel multiplies weight codes (unsigned bytes) by the int8 inputs with
// exact int32 sums per block and scales them in float32 — ggml's q·q8 scheme, many rows at a time.
//
// Prepared input row, K rounded up to whole groups of 16 32-blocks (512 values; blocks past K are zero), per
// group 640 bytes (q6_k: 704): eight 64-byte vectors of int8 codes, vector k holding values 4k .. 4k + 3 of
// block i in its 32-bit lane i (so one vpdpbusd per vector sums four products per block), then float32 scale[16] (block
// i's d) and int32 corr[16] (−offset · Σq of block i: the weight codes' offset folded into the int32 sums as
// their starting value). A block holding a non-finite value gets d NaN and q zero, so its products come out
// NaN as in float. For q4_k the corrections are float d·Σq (the weights' min term); for q6_k two int32
// corrections per block follow the scales (−32·Σq of values 0..15, then of 16..31), and block b of a group is
// in lane b with bits 0 and 1 swapped (gemm_kquant_avx512.h).
#pragma once
#include <cstddef>
#include <cstdint>

namespace moekit {
namespace quant {

struct GemmKernels {
  const char* name;
  // Whether this set multiplies weights of format `code` (q8_0, q4_0, q5_0, mxfp4; q4_k, q6_k).
  bool (*supports)(int code);
  // Bytes of one prepared input row of K values for weights of format `code`.
  size_t (*act_bytes)(int code, int K);
  // Input row x[K] → prepared row out[act_bytes(code, K)] for weights of format `code`.
  void (*prepare)(int code, const float* x, int K, uint8_t* out);
  // Few input rows: y[m·ldy + r] = weight row w[r] (format `code`, read in place) · prepared input m (at act +
  // m·ab), for r < nr, m < nm; each weight row decoded in registers per 8 inputs (no packing).
  void (*tile)(int code, const uint8_t* const* w, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy);
  // Input rows from which the packed path (pack + tile_packed) is faster.
  int packed_from;
  // Bytes of nr weight rows of format `code`, K values each, packed (64-byte aligned buffer).
  size_t (*packed_bytes)(int code, int nr, int K);
  // Weight rows w[0 .. nr) of format `code` decoded into the packed layout: per group of 16 blocks, eight
  // 64-byte vectors of unsigned codes (vector k: values 4k .. 4k + 3 of block i in lane i) and 16 float
  // scales (576 bytes; the K-quants 16 more floats, their mins or the scales of values 16..31: 640); blocks
  // past K zero.
  void (*pack)(int code, const uint8_t* const* w, int nr, int K, uint8_t* out);
  // y[m·ldy + r] = packed weight row r · prepared input m (at act + m·ab), for r < nr, m < nm (any counts).
  void (*tile_packed)(int code, const uint8_t* wp, int nr, const uint8_t* act, size_t ab, int nm, int K, float* y, size_t ldy);
};

// The int8 GEMM of the AVX-512 VNNI kernel set (null where this build has none).
const GemmKernels* gemm_avx512vnni();
// The set for the quant kernel set named `qk_name` (null: none; the prefill then widens weight panels).
const GemmKernels* gemm_for(const char* qk_name);

}  // namespace quant
}  // namespace moekit
