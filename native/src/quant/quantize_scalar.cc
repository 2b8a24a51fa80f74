#define QZ_NS qz_scalar
#define QZ_NAME "scalar"
#define QZ_GETTER quantizers_scalar
#include "quantize_impl.h"
