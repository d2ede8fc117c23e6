// Asynchronous global -> shared copies (cp.async, sm_80+), shared by the kernels that stage
// rows in shared memory (causal attention's K/V tiles, the selective-V select's group maxima).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sigmaops::kernels {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy through the L2 (coherent: safe for data the previous kernel
// wrote while a PDL kernel waited); src_bytes 0 fills the 16 bytes with zeros.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {  // "memory": no shared load moves above it
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

}  // namespace sigmaops::kernels
