#if defined(__x86_64__) || defined(_M_X64)
#define MK_AVX512 1
#define MK_BF16 1
#define MK_NS k_avx512bf16
#define MK_NAME "avx512bf16"
#define MK_GETTER kernels_avx512bf16
#include "kernels_impl.h"
#endif
