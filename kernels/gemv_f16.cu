// GEMV, one weight type: F16 (see gemv.cuh).
#include <string>

#include "gemv.cuh"

namespace sigmaops::kernels::gemv_impl {
SIGMAOPS_GEMV_INSTANCE(DType::F16)
}  // namespace sigmaops::kernels::gemv_impl
