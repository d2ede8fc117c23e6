// The shipped default model, resources/models/sigma-ops-nano.gguf (issue 5), as the engine runs
// it: its logits on 32 held-out tokens against the PyTorch model that trained it (the same
// weights, dequantized; tools/train/eval.py on the GPU machine), once from the Q8_0 file and
// once from an F32 copy written here; its embedded tokenizer against the ids training used; and
// a chat reply in the format it was tuned on.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"

#include <sigma/engine.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

const fs::path k_model = fs::path(SIGMAOPS_SOURCE_DIR) / "resources" / "models" / "sigma-ops-nano.gguf";
const fs::path k_fixtures = fs::path(SIGMAOPS_FIXTURES) / "nano";

nlohmann::json manifest() {
    std::ifstream f(k_fixtures / "manifest.json");
    REQUIRE(f.good());
    return nlohmann::json::parse(f);
}

std::vector<float> read_f32(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    REQUIRE(f.good());
    f.seekg(0, std::ios::end);
    std::vector<float> v(size_t(f.tellg()) / sizeof(float));
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
    return v;
}

double max_logit_error(const fs::path& model_path, const std::vector<sigma::TokenId>& tokens, const std::vector<float>& ref) {
    auto model = sigma::Model::load(model_path.string());
    INFO(model_path << ": " << (model ? "" : model.error().message));
    REQUIRE(model);
    sigma::SessionOptions so;
    so.n_ctx = int(tokens.size());
    auto session = (*model)->new_session(so);
    REQUIRE(session);
    auto logits = (*session)->logits(tokens);
    REQUIRE(logits);
    REQUIRE(logits->size() == ref.size());
    double err = 0;
    for (size_t i = 0; i < ref.size(); ++i) err = std::max(err, double(std::fabs((*logits)[i] - ref[i])));
    return err;
}

// Writes `src` with every tensor dequantized to F32 (metadata copied as is).
void write_f32_copy(const fs::path& src, const fs::path& dst) {
    auto in = sigma::gguf::File::open(src.string());
    sigma::gguf::Writer w;
    for (const std::string& key : in->keys()) w.set(key, *in->find(key));
    std::vector<float> buf;
    for (const auto& t : in->tensors()) {
        buf.resize(size_t(t.n_elements()));
        const int64_t row = t.ne[0], n_rows = t.n_elements() / row;
        const uint64_t stride = sigma::gguf::row_bytes(t.type, row);
        for (int64_t r = 0; r < n_rows; ++r)
            sigma::gguf::dequantize_row(t.type, t.data + r * stride, buf.data() + r * row, row);
        std::vector<int64_t> ne(t.ne, t.ne + 4);
        while (ne.size() > 1 && ne.back() == 1) ne.pop_back();
        w.add_tensor_f32(t.name, sigma::gguf::GgmlType::F32, ne, buf.data());
    }
    w.write(dst.string());
}

}  // namespace

TEST_CASE("sigma-ops-nano: a DiffQKV model within the size budget", "[engine][nano]") {
    REQUIRE(fs::exists(k_model));
    CHECK(fs::file_size(k_model) <= 40'000'000);
    auto model = sigma::Model::load(k_model.string());
    REQUIRE(model);
    const auto& info = (*model)->info();
    CHECK(info.architecture == "sigma");
    CHECK(info.name == "sigma-ops-nano");
    CHECK(info.n_k < info.n_v);          // fewer K heads than V heads
    CHECK(info.d_aug > 0);               // augmented Q
    CHECK(info.tokenizer_model == "llama");
    CHECK(info.chat_format == "sigma");
}

TEST_CASE("sigma-ops-nano: logits match the PyTorch model on 32 held-out positions", "[engine][nano]") {
    const auto m = manifest();
    const auto tokens = m["tokens"].get<std::vector<sigma::TokenId>>();
    REQUIRE(tokens.size() == 32);
    const auto ref = read_f32(k_fixtures / m["logits"].get<std::string>());
    REQUIRE(ref.size() == tokens.size() * m["n_vocab"].get<size_t>());

    const double err_q8 = max_logit_error(k_model, tokens, ref);
    WARN("Q8_0 file: max abs logit error " << err_q8);
    CHECK(err_q8 <= 2e-2);

    const fs::path f32 = fs::temp_directory_path() / ("sigma-ops-nano-f32-" + std::to_string(::getpid()) + ".gguf");
    write_f32_copy(k_model, f32);
    const double err_f32 = max_logit_error(f32, tokens, ref);
    fs::remove(f32);
    WARN("F32 copy: max abs logit error " << err_f32);
    CHECK(err_f32 <= 1e-3);
}

TEST_CASE("sigma-ops-nano: the embedded tokenizer gives the ids training used", "[engine][nano]") {
    auto model = sigma::Model::load(k_model.string());
    REQUIRE(model);
    const auto tokens = manifest()["tokens"].get<std::vector<sigma::TokenId>>();
    // The fixture's ids came from tools/train (Python SentencePiece on the training tokenizer).
    auto text = (*model)->detokenize(tokens);
    REQUIRE(text);
    CHECK_THAT(*text, Catch::StartsWith("# /etc/adduser.conf (Debian package adduser)"));
    auto again = (*model)->tokenize(*text, true, false);
    REQUIRE(again);
    // The last id may merge differently when the text is cut mid-word; all before it must agree.
    REQUIRE(again->size() >= tokens.size() - 1);
    for (size_t i = 0; i + 1 < tokens.size(); ++i) CHECK((*again)[i] == tokens[i]);
}

TEST_CASE("sigma-ops-nano: answers a request with a shell code block and stops at <|end|>", "[engine][nano]") {
    auto model = sigma::Model::load(k_model.string());
    REQUIRE(model);
    auto prompt = (*model)->format_chat({{"system", "You are SigmaOps, a careful assistant for Linux system administrators. "
                                                    "Answer briefly; show shell commands in code blocks and say what they change."},
                                         {"user", "How do I show the disk usage of /var/log?"}},
                                        true);
    REQUIRE(prompt);
    auto session = (*model)->new_session();
    REQUIRE(session);
    sigma::SamplingParams p;
    p.temperature = 0;
    p.max_tokens = 96;
    auto reply = (*session)->generate(*prompt, p);
    REQUIRE(reply);
    INFO("reply: " << reply->text);
    CHECK_THAT(reply->text, Catch::StartsWith("```sh\n"));
    CHECK(reply->stop == sigma::StopReason::EndOfText);
}
