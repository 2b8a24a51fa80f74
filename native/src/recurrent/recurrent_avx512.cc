#if defined(__x86_64__) || defined(_M_X64)
#define RK_NS r_avx512
#define RK_NAME "avx512"
#define RK_GETTER kernels_avx512
#include "recurrent_impl.h"
#endif
