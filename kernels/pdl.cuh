// Programmatic dependent launch (sm_90), shared by the kernels that use it (gemv, rope,
// decode attention). A kernel launched with the attribute may start while the previous kernel
// on the stream is still running: it calls pdl_launch_dependents() to let its own successor do
// the same, may read only data that predecessor does not write, and calls pdl_wait() before
// anything else. Both device calls are no-ops in a kernel launched without the attribute.
#pragma once

#include <cuda_runtime.h>

namespace sigmaops::kernels {

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// A cudaLaunchKernelEx configuration with the programmatic-serialization attribute when `pdl`
// (attr is the caller's storage and must outlive the launch call).
inline cudaLaunchConfig_t pdl_launch_config(dim3 grid, dim3 block, size_t smem, cudaStream_t stream, bool pdl,
                                            cudaLaunchAttribute& attr) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr.val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = &attr;
    cfg.numAttrs = pdl ? 1 : 0;
    return cfg;
}

}  // namespace sigmaops::kernels
