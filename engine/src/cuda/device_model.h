// device_model.h - the weights on the GPU (private to engine/src/cuda/). Shapes as in model.h:
// matrices are (rows = out, cols = in); letters D, F, A, V, Hq, Hk, Hv, Dk, Dv as there.
#pragma once

#include "kernels.h"
#include "model.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sigma::cuda {

using sigmaops::kernels::DeviceMatrix;

struct DeviceLayer {
    const float* attn_norm = nullptr;  // (D) F32
    const float* ffn_norm = nullptr;   // (D) F32
    const float* bq = nullptr;         // (Hq*Dk) F32, qwen2 only
    const float* bk = nullptr;         // (Hk*Dk)
    const float* bv = nullptr;         // (Hv*Dv)
    DeviceMatrix wq;                   // (Hq*Dk, D)
    DeviceMatrix wq_gate, wq_up;       // (A, Hq*Dk), only if d_aug > 0
    DeviceMatrix wq_down;              // (Hq*Dk, A)
    DeviceMatrix wk;                   // (Hk*Dk, D)
    DeviceMatrix wv;                   // (Hv*Dv, D)
    DeviceMatrix wo;                   // (D, Hq*Dv)
    DeviceMatrix w_gate, w_up;         // (F, D)
    DeviceMatrix w_down;               // (D, F)
};

class DeviceModel {
public:
    DeviceModel() = default;
    DeviceModel(const DeviceModel&) = delete;
    DeviceModel& operator=(const DeviceModel&) = delete;
    ~DeviceModel();

    Hparams hp;
    int device = 0;
    std::string gpu_name;
    DeviceMatrix token_embd;           // (V, D)
    DeviceMatrix output;               // (V, D); the same storage as token_embd when tied
    const float* output_norm = nullptr;// (D)
    std::vector<DeviceLayer> layers;
    uint64_t bytes = 0;                          // device bytes of all weights
    std::map<std::string, int> stored_as;        // "F16" -> matrices stored so ("F32->F16" for converted)
    int64_t max_q8_elems = 0;                    // largest Q8_0 matrix (rows * cols), 0 = none
    void* arena = nullptr;                       // one cudaMalloc holding every weight
};

} // namespace sigma::cuda
