// test_gguf_fixtures.cpp - reads the golden model fixtures written by the independent Python
// writer (tools/ref/gguf_io.py): every file parses, every readable tensor dequantizes to finite
// values, and the F16/BF16/Q8_0 variants of sigma_augq match its F32 weights within each type's
// rounding bound (a cross-check of our decoders against another implementation's encoders).
#include <catch2/catch.hpp>

#include "gguf/gguf.h"
#include "sigma/expected.h"

#include <cmath>
#include <filesystem>

using namespace sigma::gguf;
namespace fs = std::filesystem;

namespace {
const fs::path kModels = fs::path(SIGMAOPS_FIXTURES) / "models";

std::vector<float> dequantize(const TensorInfo& t) {
    std::vector<float> out(static_cast<size_t>(t.n_elements()));
    dequantize_row(t.type, t.data, out.data(), t.n_elements());
    return out;
}
} // namespace

TEST_CASE("every fixture model parses and dequantizes to finite values", "[gguf][fixtures]") {
    if (!fs::exists(kModels)) {
        WARN("no fixtures at " << kModels << ": skipped");
        return;
    }
    int n_files = 0;
    for (const auto& e : fs::directory_iterator(kModels)) {
        if (e.path().extension() != ".gguf") continue;
        ++n_files;
        INFO(e.path());
        auto f = File::open(e.path().string());
        CHECK(f->get_string("general.architecture").has_value());
        CHECK_FALSE(f->tensors().empty());
        for (const TensorInfo& t : f->tensors()) {
            REQUIRE(type_readable(t.type));
            for (float v : dequantize(t)) REQUIRE(std::isfinite(v));
        }
    }
    CHECK(n_files > 0);
}

TEST_CASE("F16, BF16 and Q8_0 fixtures decode to their F32 twin within rounding", "[gguf][fixtures]") {
    const fs::path ref_path = kModels / "sigma_augq_f32.gguf";
    if (!fs::exists(ref_path)) {
        WARN("no sigma_augq fixtures: skipped");
        return;
    }
    auto ref = File::open(ref_path.string());
    for (const char* variant : {"f16", "bf16", "q8_0"}) {
        const fs::path p = kModels / (std::string("sigma_augq_") + variant + ".gguf");
        if (!fs::exists(p)) continue;
        INFO(p);
        auto f = File::open(p.string());
        REQUIRE(f->tensors().size() == ref->tensors().size());
        for (const TensorInfo& t : f->tensors()) {
            const TensorInfo* r = ref->find_tensor(t.name);
            REQUIRE(r);
            REQUIRE(r->n_elements() == t.n_elements());
            const std::vector<float> a = dequantize(*r), b = dequantize(t);
            for (size_t i = 0; i < a.size(); ++i) {
                float bound = 0.0f;
                switch (t.type) {
                case GgmlType::F32: bound = 0.0f; break;
                case GgmlType::F16: bound = std::fabs(a[i]) * (1.0f / 2048.0f) + 6e-8f; break;
                case GgmlType::BF16: bound = std::fabs(a[i]) * (1.0f / 256.0f); break;
                case GgmlType::Q8_0: {
                    const size_t blk = i / 32 * 32;
                    float amax = 0.0f;
                    for (size_t j = blk; j < blk + 32; ++j) amax = std::max(amax, std::fabs(a[j]));
                    bound = amax / 127.0f * 0.57f + 1e-7f;
                    break;
                }
                default: FAIL("unexpected type " << type_name(t.type));
                }
                if (std::fabs(a[i] - b[i]) > bound)
                    FAIL(t.name << "[" << i << "] " << type_name(t.type) << " " << b[i] << " vs F32 " << a[i]);
            }
        }
    }
}
