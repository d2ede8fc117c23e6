// GEMV, one weight type: Q8_0 (see gemv.cuh).
#include <string>

#include "gemv.cuh"

namespace sigmaops::kernels::gemv_impl {
SIGMAOPS_GEMV_INSTANCE(DType::Q8_0)
}  // namespace sigmaops::kernels::gemv_impl
