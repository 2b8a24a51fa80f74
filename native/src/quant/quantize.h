// Host quantizers: float32 rows → ggml block formats (q8_0, q4_0, q5_0, q4_k, q6_k, mxfp4), bit-identical
// with the TypeScript codecs in src/formats/quant/ (same operations, same precision, same order), which
// stay the browser path and the twin the tests compare against. Used for GGUF writing, `moekit quantize`
// and quantize-at-load when the addon is present.
#pragma once
#include <cstddef>
#include <cstdint>

namespace moekit {
namespace quant {

// Whether `code` (src/formats/table.ts) has a native quantizer.
bool can_quantize(int code);

// Index of the first non-finite value of x[n], or -1.
int64_t first_non_finite(const float* x, size_t n);

// Encodes `blocks` whole blocks of `code` from x (finite values) into out, splitting large inputs over the
// runtime's thread pool when `threaded`.
void quantize_blocks(int code, const float* x, size_t blocks, uint8_t* out, bool threaded);

// One kernel set's block quantizers (quantize_impl.h); all take whole blocks.
struct Quantizers {
  const char* name;
  void (*q8_0)(const float* x, size_t blocks, uint8_t* out);
  void (*q4_0)(const float* x, size_t blocks, uint8_t* out);
  void (*q5_0)(const float* x, size_t blocks, uint8_t* out);
  void (*q4_k)(const float* x, size_t blocks, uint8_t* out);
  void (*q6_k)(const float* x, size_t blocks, uint8_t* out);
  void (*mxfp4)(const float* x, size_t blocks, uint8_t* out);
};

const Quantizers* quantizers_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const Quantizers* quantizers_avx2();
#endif

}  // namespace quant
}  // namespace moekit
