#if defined(__x86_64__) || defined(_M_X64)
#define QK_AVX2 1
#define QK_NS k_avx2
#define QK_NAME "avx2"
#define QK_GETTER kernels_avx2
#include "quant_impl.h"
#endif
