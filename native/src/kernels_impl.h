// Kernel set template: included by one translation unit per instruction set, each compiled with its
// own flags. MK_NS names the namespace; MK_AVX512 / MK_AVX2 select the intrinsics (none: portable C++).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "common.h"

#if MK_AVX512 || MK_AVX2
#include <immintrin.h>
#endif

namespace moekit {
namespace MK_NS {

#if MK_AVX512
constexpr int NR = 32;
constexpr int MRMAX = 14;
#elif MK_AVX2
constexpr int NR = 16;
constexpr int MRMAX = 6;
#else
constexpr int NR = 8;
constexpr int MRMAX = 4;
#endif
constexpr int KC = 256;
constexpr int KCE = 128;  // K block of the fused-epilogue kernels (A block and B panel both L1-resident)
constexpr int MC = MRMAX * 8;

// The parts, in dependency order (each uses what the ones before it define).
#include "kernels_gemm.h"
#include "kernels_gemv.h"
#include "kernels_epilogue.h"
#include "kernels_epi_gemm.h"
#include "layers_impl.h"
#include "attention_prefill.h"

#if MK_BF16
static const KernelTable table = {MK_NAME, NR, gemm_task, gemv_task, gate_rows, gemm_epi_task, gemm_epi_bf16_task,
                                  attention_rows, attention_tile, ATT_R * ATT_NT, attention_decode, rms_norm_rows, layer_norm_rows, softmax_rows, rope_rows, pack_xt, epilogue};
#elif MK_AVX512
static const KernelTable table = {MK_NAME, NR, gemm_task, gemv_task, gate_rows, gemm_epi_task, nullptr,
                                  attention_rows, attention_tile, ATT_R * ATT_NT, attention_decode, rms_norm_rows, layer_norm_rows, softmax_rows, rope_rows, pack_xt, epilogue};
#else
static const KernelTable table = {MK_NAME, NR, gemm_task, gemv_task, gate_rows, gemm_epi_task, nullptr,
                                  attention_rows, attention_tile, ATT_R * ATT_NT, attention_decode, rms_norm_rows, layer_norm_rows, softmax_rows, rope_rows, nullptr, epilogue};
#endif

}  // namespace MK_NS

const KernelTable* MK_GETTER() { return &MK_NS::table; }

}  // namespace moekit
