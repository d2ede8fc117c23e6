// cuda_check.h - checks for CUDA runtime, cuBLAS and kernel-launcher calls in the CUDA backend:
// a failure throws sigma::Exception naming the call and its file:line (and the CUDA error).
// Private to engine/src/cuda/ (includes CUDA headers).
#pragma once

#include "kernels.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <sigma/expected.h>

#include <string>

namespace sigma::cuda {

[[noreturn]] inline void fail(const std::string& what, const char* file, int line) {
    std::string f(file);
    if (auto at = f.find("engine/src/"); at != std::string::npos) f = f.substr(at);
    throw Exception(ErrorCode::Generic, "CUDA backend: " + what + " (" + f + ":" + std::to_string(line) + ")");
}

inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
    if (e != cudaSuccess) fail(std::string(call) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e), file, line);
}

inline void check_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
    if (s != CUBLAS_STATUS_SUCCESS) fail(std::string(call) + ": cuBLAS status " + std::to_string(int(s)), file, line);
}

inline void check_kernel(const sigmaops::kernels::Status& s, const char* file, int line) {
    if (!s.ok()) fail(s.error, file, line);
}

} // namespace sigma::cuda

#define SIGMA_CUDA(call) ::sigma::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define SIGMA_CUBLAS(call) ::sigma::cuda::check_cublas((call), #call, __FILE__, __LINE__)
#define SIGMA_KERNEL(call) ::sigma::cuda::check_kernel((call), __FILE__, __LINE__)
