// GEMV, one weight type: BF16 (see gemv.cuh).
#include <string>

#include "gemv.cuh"

namespace sigmaops::kernels::gemv_impl {
SIGMAOPS_GEMV_INSTANCE(DType::BF16)
}  // namespace sigmaops::kernels::gemv_impl
