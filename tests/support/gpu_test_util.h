// Helpers shared by the GPU test files (tests/gpu/test_gpu_*.cpp, built only with CUDA): whether a
// GPU is present (each case prints "skipped: no GPU" and passes without one), the quick mode
// that compute-sanitizer runs use, and a CUDA-call check that names the failing call. Kernel-only
// tests include just this (tools/bench/gpu_attention.sh builds them without the engine);
// gpu_model_util.h adds the engine-level helpers.
#pragma once

#include <cuda_runtime_api.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

namespace sigma::testing {

// True when the CUDA runtime sees at least one device; clears the error a machine without a
// driver or GPU leaves behind.
inline bool have_gpu() {
    int n = 0;
    const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();
    return ok;
}

// SIGMAOPS_TEST_QUICK=1 (anything but "0"): smaller grids, for compute-sanitizer.
inline bool quick() {
    const char* v = std::getenv("SIGMAOPS_TEST_QUICK");
    return v && *v && std::string(v) != "0";
}

}  // namespace sigma::testing

#define CUDA_OK(call)                                  \
    do {                                               \
        const cudaError_t e_ = (call);                 \
        INFO(#call << ": " << cudaGetErrorString(e_)); \
        REQUIRE(e_ == cudaSuccess);                    \
    } while (0)
