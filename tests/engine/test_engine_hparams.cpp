// Hyperparameters through the key table (arch/arch.h): key names, required keys that are
// missing, optional keys' fallbacks, and the architecture registry.
#include <catch2/catch.hpp>

#include "arch/arch.h"
#include "gguf/gguf.h"

#include <sigma/engine.h>

#include <filesystem>
#include <functional>
#include <unistd.h>

using namespace sigma;
using arch::Key;

namespace {

// A file with only metadata: `arch`'s keys from `u32s` and `f32s` (names relative to "arch.").
std::unique_ptr<gguf::File> metadata_file(const std::string& arch_name, const std::vector<std::pair<std::string, uint32_t>>& u32s,
                                          const std::vector<std::pair<std::string, float>>& f32s, std::vector<uint8_t>& bytes) {
    gguf::Writer w;
    w.set_string("general.architecture", arch_name);
    for (const auto& [k, v] : u32s) w.set_u32(arch_name + "." + k, v);
    for (const auto& [k, v] : f32s) w.set_f32(arch_name + "." + k, v);
    bytes = w.to_bytes();
    return gguf::File::from_memory(bytes.data(), bytes.size());
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Exception& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("key names follow the GGUF convention", "[engine][hparams]") {
    CHECK(arch::key_name(Key::AttentionHeadCountK, "sigma") == "sigma.attention.head_count_k");
    CHECK(arch::key_name(Key::AttentionHeadCountKv, "qwen2") == "qwen2.attention.head_count_kv");
    CHECK(arch::key_name(Key::AttentionLayerNormRmsEps, "llama") == "llama.attention.layer_norm_rms_epsilon");
    CHECK(arch::key_name(Key::RopeDimensionCount, "sigma") == "sigma.rope.dimension_count");
    CHECK(arch::key_name(Key::GeneralArchitecture, "sigma") == "general.architecture");
}

TEST_CASE("optional keys take their fallbacks, required ones are named when missing", "[engine][hparams]") {
    const std::vector<std::pair<std::string, uint32_t>> llama_u32 = {
        {"context_length", 512}, {"embedding_length", 256}, {"block_count", 2}, {"feed_forward_length", 512},
        {"attention.head_count", 8}};
    std::vector<uint8_t> bytes;
    auto f = metadata_file("llama", llama_u32, {{"attention.layer_norm_rms_epsilon", 1e-6f}}, bytes);
    const Hparams hp = arch::Llama::hparams(*f);
    CHECK(hp.arch == "llama");
    CHECK(hp.n_q == 8);
    CHECK(hp.n_k == 8);          // head_count_kv absent: multi-head attention
    CHECK(hp.n_v == 8);
    CHECK(hp.d_qk == 32);        // key_length absent: d_model / n_q
    CHECK(hp.d_v == 32);
    CHECK(hp.d_rot == 32);
    CHECK(hp.rope_base == 10000.f);
    CHECK(hp.eps == 1e-6f);
    CHECK(hp.rope == RopeStyle::Interleaved);

    auto g = metadata_file("llama", llama_u32, {}, bytes);
    CHECK(error_of([&] { arch::Llama::hparams(*g); }) == "key llama.attention.layer_norm_rms_epsilon missing");

    // Sigma requires its K and V head counts.
    auto s = metadata_file("sigma",
                           {{"context_length", 512}, {"embedding_length", 256}, {"block_count", 2}, {"feed_forward_length", 512},
                            {"attention.head_count", 8}},
                           {{"attention.layer_norm_rms_epsilon", 1e-6f}, {"rope.freq_base", 10000.f}}, bytes);
    CHECK(error_of([&] { arch::Sigma::hparams(*s); }) == "key sigma.attention.head_count_k missing");
}

TEST_CASE("the registry knows every architecture and names them for an unknown one", "[engine][hparams]") {
    for (const char* name : {"sigma", "llama", "qwen2"}) {
        const ArchLoader* a = find_arch(name);
        REQUIRE(a);
        CHECK(std::string(a->name) == name);
    }
    CHECK(find_arch("gpt2") == nullptr);
    CHECK(arch_names() == "sigma, llama, qwen2");

    namespace fs = std::filesystem;
    const fs::path p = fs::temp_directory_path() / ("sigmaops-hparams-" + std::to_string(::getpid()) + ".gguf");
    gguf::Writer w;
    w.set_string("general.architecture", "gpt2");
    w.write(p.string());
    auto m = Model::load(p.string());
    fs::remove(p);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == ErrorCode::Unsupported);
    CHECK_THAT(m.error().message, Catch::Contains("architecture 'gpt2' is not supported (supported: sigma, llama, qwen2)"));
}
