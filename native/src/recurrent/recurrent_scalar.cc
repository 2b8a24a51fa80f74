#define RK_NS r_scalar
#define RK_NAME "scalar"
#define RK_GETTER kernels_scalar
#include "recurrent_impl.h"
