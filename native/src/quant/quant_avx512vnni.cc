#if defined(__x86_64__) || defined(_M_X64)
#define QK_AVX512 1
#define QK_NS k_avx512vnni
#define QK_NAME "avx512vnni"
#define QK_GETTER kernels_avx512vnni
#define QK_VBMI_NAME "avx512vbmi"
#define QK_VBMI_GETTER kernels_avx512vbmi
#include "quant_impl.h"
#endif
