#if defined(__x86_64__) || defined(_M_X64)
#define RK_NS r_avx2
#define RK_NAME "avx2"
#define RK_GETTER kernels_avx2
#include "recurrent_impl.h"
#endif
