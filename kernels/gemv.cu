// Public launcher of the decode GEMV (kernels.h): checks the problem, plans the blocks of the
// (up to 3) matrices and dispatches to the instantiation for the weight type (gemv_<type>.cu).
#include <cstdint>
#include <string>

#include "gemv.cuh"

namespace sigmaops::kernels {
namespace gemv_impl {
extern template Status run_gemv<DType::F16>(const Plan&, int);
extern template Status run_gemv<DType::BF16>(const Plan&, int);
extern template Status run_gemv<DType::Q8_0>(const Plan&, int);

}  // namespace gemv_impl

Status gemv(const GemvParams& p) {
    using namespace gemv_impl;
    const std::string name = "gemv: ";
    if (p.n_mat < 1 || p.n_mat > 3) return {name + "n_mat must be 1..3"};
    const DType type = p.w[0].type;
    const long long cols = p.w[0].cols;
    if (type != DType::F16 && type != DType::BF16 && type != DType::Q8_0)
        return {name + "weights must be F16, BF16 or Q8_0"};
    if (cols < 1 || cols > kMaxCols) return {name + "cols " + std::to_string(cols) + " outside 1.." + std::to_string(kMaxCols)};
    if (type == DType::Q8_0 && cols % 32 != 0) return {name + "Q8_0 needs cols % 32 == 0"};
    if (!p.x || (p.input == GemvInput::SwiGLU && !p.x2) || (p.input == GemvInput::RmsNorm && !p.norm))
        return {name + "missing input pointer (x, x2 for SwiGLU, norm for RmsNorm)"};
    auto misaligned = [](const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) != 0; };
    if (cols % 8 == 0 && (misaligned(p.x) || (p.x2 && misaligned(p.x2)) || (p.norm && misaligned(p.norm))))
        return {name + "x, x2 and norm must be 16-byte aligned"};
    if (p.shape < 0 || p.shape >= kNumShapes) return {name + "shape must be 0.." + std::to_string(kNumShapes - 1)};
    if (p.batch < 1 || p.batch > kGemvMaxBatch) return {name + "batch must be 1.." + std::to_string(kGemvMaxBatch)};
    if (p.batch > 1 && p.input != GemvInput::Plain) return {name + "a batch (batch > 1) takes a Plain input (normalize it first)"};
    if (p.batch > 1 && p.shape > 1) return {name + "a batch (batch > 1) has shapes 0..1"};
    const int shape = p.shape;
    const int rows_per_block = p.batch > 1 ? kBatchRowsFor[shape] : kShapes[shape].rows;
    Plan plan{};
    plan.p = p;
    int blocks = 0;
    for (int m = 0; m < 3; ++m) {
        plan.first[m] = blocks;
        if (m >= p.n_mat) continue;
        const DeviceMatrix& w = p.w[m];
        if (w.type != type || w.cols != cols) return {name + "the matrices of one launch must share type and cols"};
        if (!w.data || w.rows < 1 || (type == DType::Q8_0 && !w.scales) || !p.y[m])
            return {name + "matrix " + std::to_string(m) + ": null data/scales/y or no rows"};
        if (p.accumulate && p.bias[m]) return {name + "accumulate and bias are exclusive"};
        const long long b = (w.rows + rows_per_block - 1) / rows_per_block;
        if (blocks + b > (1LL << 30)) return {name + "too many rows"};
        blocks += int(b);
    }
    plan.first[3] = blocks;
    plan.total_blocks = blocks;
    plan.smem = 0;
    switch (type) {
        case DType::F16: return run_gemv<DType::F16>(plan, shape);
        case DType::BF16: return run_gemv<DType::BF16>(plan, shape);
        default: return run_gemv<DType::Q8_0>(plan, shape);
    }
}

}  // namespace sigmaops::kernels
