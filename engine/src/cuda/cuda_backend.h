// cuda_backend.h - the engine's CUDA backend, as the rest of the engine sees it: plain C++, no
// CUDA types (engine.cpp includes it only when built with CUDA, SIGMA_HAVE_CUDA).
//
// DeviceModel: the weights uploaded once at Model::load and shared by every session (immutable).
//   F16/BF16 stay as they are; F32 tensors (and the types dequantized to F32 at load) become
//   F16, or BF16 for a tensor with a value beyond F16's range; Q8_0 is repacked for 16-byte
//   loads; norms and biases stay F32. See docs/architecture.md "CUDA backend" for the tolerance.
// A session's backend (new_cuda_forward): its own stream, cuBLAS handle, F16 K and V caches
//   (n_k*d_qk and n_v*d_v per token and layer), activations, and the decode step captured in
//   CUDA graphs.
// Errors: throws sigma::Exception naming the failing CUDA/cuBLAS call and its file:line, or
// ErrorCode::Unsupported for a shape the kernels do not handle.
#pragma once

#include "backend.h"
#include "model.h"

#include <memory>
#include <string>

namespace sigma::cuda {

class DeviceModel;

// Uploads the weights to the current CUDA device. Throws Unsupported without a usable GPU.
std::shared_ptr<const DeviceModel> upload_model(const Hparams& hp, const Weights& w);
// "NVIDIA H100 80GB HBM3, 3.67 GB of weights (F16 x 182, Q8_0 x 0 ...)"
std::string describe(const DeviceModel& m);
// Checks the session options against what the kernels support (throws Unsupported).
void check_session(const DeviceModel& m, int n_ctx, int selective_v);
// A session's forward backend with an n_ctx-position KV cache; selective_v as SessionOptions.
std::unique_ptr<ForwardBackend> new_cuda_forward(std::shared_ptr<const DeviceModel> m, int n_ctx, int selective_v);

} // namespace sigma::cuda
