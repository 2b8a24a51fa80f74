// Quantized weight formats on the CPU: widening rows (the prefill path feeds the widened panels to the
// float / bf16 GEMM) and dot products of quantized rows with int8-quantized activations (the decode
// GEMV). Formats and their codes are those of src/formats/table.ts; layouts are ggml's block structs
// (ggml-common.h) and moekit's fp8_e4m3_b128 (see src/formats/quant/fp8.ts).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moekit {
namespace quant {

enum Format : int { Q8_0 = 4, Q4_0 = 5, Q5_0 = 6, Q4_K = 7, Q6_K = 8, MXFP4 = 9, FP8_B128 = 10 };

// How a format's GEMV wants its activation row (one row of K floats) prepared:
//  A8_32   — Q8_0-style blocks of 32: int8 q[K], then float d[K/32], then int32 sum[K/32] (Σ q of the
//            block); x ≈ d·q, d = amax/127, q rounded to nearest even. For q8_0.
//  A8_32X4 — the same values with q reordered for the nibble formats (q4_0, q5_0, mxfp4), whose block
//            holds values j and j + 16 in one byte: each run of four whole blocks (128 values) is stored
//            as the first 16 values of each of the four blocks, then their last 16; blocks after the last
//            whole run stay in order (x4_lo / x4_hi in blocks.h).
//  A8_256  — q8_K-style blocks of 256: int8 q[K], then float d[K/256], then int16 bsum[K/16] (Σ q per 16).
//            For q4_k, q6_k.
//  F32     — the float row itself (fp8: e4m3 values are not integers).
// A non-finite value in a block makes its d NaN (and its q zero), so the products come out NaN as in float.
enum ActKind : int { A8_32 = 0, A8_32X4 = 1, A8_256 = 2, F32 = 3 };

struct FormatInfo {
  int code;
  int block_elems;
  int block_bytes;
  ActKind act;
  const char* name;
};

// The format with this code, or null.
const FormatInfo* format_info(int code);
// Bytes of one weight row of K values (K a multiple of the block), and of one prepared activation row.
size_t row_bytes(int code, int K);
size_t act_bytes(int code, int K);
// Prepares activation row x[K] for `code`'s dot products into act[act_bytes(code, K)] (ISA-independent,
// so every kernel set sees the same int8 values).
void quantize_act(int code, const float* x, int K, uint8_t* act);

// One kernel set (an instruction set); all entry points take whole blocks.
struct Kernels {
  const char* name;
  // Values [k0, k0 + n) of one weight row, widened to float32 (bit-exact with src/formats/widen.ts) or
  // to bfloat16 bits (the float32 value rounded to nearest even).
  void (*widen_f32)(int code, const uint8_t* row, int k0, int n, float* out);
  void (*widen_bf16)(int code, const uint8_t* row, int k0, int n, uint16_t* out);
  // y[i] = row (r0 + i) of w · the prepared activation, for i in [0, r1 − r0); row r at w + r·rb.
  void (*dot_rows)(int code, const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* act, float* y);
  // The same rows against M activation rows: ys[m][i] = row (r0 + i) · acts[m] (equal to dot_rows per
  // row; kernel sets may decode each weight block once for several rows).
  void (*dot_rows_multi)(int code, const uint8_t* w, size_t rb, int r0, int r1, int K, const uint8_t* const* acts, int M, float* const* ys);
};

const Kernels* kernels_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const Kernels* kernels_avx2();
const Kernels* kernels_avx512vnni();
const Kernels* kernels_avx512vbmi();  // the VNNI set with mxfp4 on VBMI byte permutes
#endif

// Kernel sets this CPU runs, best last; MOEKIT_QUANT_ISA forces one for best().
std::vector<std::string> supported();
const Kernels* by_name(const std::string& name);  // null when unknown or unsupported here
const Kernels* best();

// The GEMV job of a layer: y[m][n] = row n of w [N, K] · x[m] for m < M, rows split over the thread
// pool (activations prepared once per call). ldy: the row stride of y.
void gemv(const Kernels* kt, int code, const uint8_t* w, int N, int K, const float* x, int M, float* y, size_t ldy);
// The prefill panel: rows [r0, r1), values [k0, k0 + n) of w widened into out (row stride ld).
void widen_rows_f32(const Kernels* kt, int code, const uint8_t* w, int K, int r0, int r1, int k0, int n, float* out, size_t ld);
void widen_rows_bf16(const Kernels* kt, int code, const uint8_t* w, int K, int r0, int r1, int k0, int n, uint16_t* out, size_t ld);

}  // namespace quant
}  // namespace moekit
