#define MK_NS k_scalar
#define MK_NAME "scalar"
#define MK_GETTER kernels_scalar
#include "kernels_impl.h"
