#if defined(__x86_64__) || defined(_M_X64)
#define MK_AVX2 1
#define MK_NS k_avx2
#define MK_NAME "avx2"
#define MK_GETTER kernels_avx2
#include "kernels_impl.h"
#endif
