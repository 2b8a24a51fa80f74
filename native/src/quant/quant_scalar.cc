#define QK_NS k_scalar
#define QK_NAME "scalar"
#define QK_GETTER kernels_scalar
#include "quant_impl.h"
