#if defined(__x86_64__) || defined(_M_X64)
#define QZ_NS qz_avx2
#define QZ_NAME "avx2"
#define QZ_GETTER quantizers_avx2
#include "quantize_impl.h"
#endif
