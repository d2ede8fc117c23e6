// test_gguf_roundtrip.cpp - Writer -> file on disk -> File::open: every metadata type, every
// tensor type, typed-getter conversions and their errors, alignment, v2 files, atomic writes.
#include <catch2/catch.hpp>

#include "gguf/gguf.h"
#include "sigma/expected.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

using namespace sigma::gguf;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("sigma_gguf_test_" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<float> ramp(size_t n, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * float(i)) + 0.01f * float(i % 7);
    return v;
}

} // namespace

TEST_CASE("every metadata type round-trips through a real file", "[gguf][roundtrip]") {
    TempDir dir;
    Writer w;
    w.set("t.u8", Value::make_u8(200));
    w.set("t.i8", Value::make_i8(-100));
    w.set("t.u16", Value::make_u16(60000));
    w.set("t.i16", Value::make_i16(-30000));
    w.set_u32("t.u32", 4000000000u);
    w.set_i32("t.i32", -2000000000);
    w.set_f32("t.f32", 1.5e-3f);
    w.set_bool("t.bool", true);
    w.set_string("t.string", "héllo\nworld");
    w.set_string("t.empty", "");
    w.set_u64("t.u64", 0xFFFFFFFFFFFFull);
    w.set("t.i64", Value::make_i64(-5));
    w.set("t.f64", Value::make_f64(2.25));
    w.set_string_array("t.strings", {"a", "", "ccc"});
    w.set_f32_array("t.floats", {1.0f, -2.0f, 0.5f});
    w.set_i32_array("t.ints", {1, -2, 3});
    w.set_i32_array("t.no_ints", {});
    w.set("t.u8s", Value::make_scalar_array(ValueType::U8, {1, 2, 3}, 3));
    w.set("t.nested", Value::make_array_of_arrays({Value::make_i32_array({7}), Value::make_string_array({"x", "y"})}));
    w.set_u32("t.replaced", 1);
    w.set_u32("t.replaced", 2);   // replaces, keeps position
    const std::string path = dir.file("meta.gguf");
    w.write(path);

    auto f = File::open(path);
    CHECK(f->version() == 3);
    CHECK(f->alignment() == 32);
    CHECK(f->keys().size() == 20);
    CHECK(f->keys()[0] == "t.u8");
    CHECK(f->get_u32("t.u8") == 200u);
    CHECK(f->find("t.u8")->type() == ValueType::U8);
    CHECK(f->get_i32("t.i8") == -100);
    CHECK(f->find("t.u16")->type() == ValueType::U16);
    CHECK(f->get_u32("t.u16") == 60000u);
    CHECK(f->get_i32("t.i16") == -30000);
    CHECK(f->get_u32("t.u32") == 4000000000u);
    CHECK(f->get_i32("t.i32") == -2000000000);
    CHECK(f->get_f32("t.f32") == 1.5e-3f);
    CHECK(f->get_bool("t.bool") == true);
    CHECK(f->get_string("t.string") == std::string("héllo\nworld"));
    CHECK(f->get_string("t.empty") == std::string());
    CHECK(f->get_u64("t.u64") == 0xFFFFFFFFFFFFull);
    CHECK(f->find("t.i64")->as_i64() == -5);
    CHECK(f->find("t.f64")->type() == ValueType::F64);
    CHECK(f->get_f32("t.f64") == 2.25f);
    CHECK(f->get_string_array("t.strings") == std::vector<std::string>{"a", "", "ccc"});
    CHECK(f->get_f32_array("t.floats") == std::vector<float>{1.0f, -2.0f, 0.5f});
    CHECK(f->get_i32_array("t.ints") == std::vector<int32_t>{1, -2, 3});
    CHECK(f->get_i32_array("t.no_ints")->empty());
    CHECK(f->get_i32_array("t.u8s") == std::vector<int32_t>{1, 2, 3});
    const Value* nested = f->find("t.nested");
    REQUIRE(nested);
    CHECK(nested->array_type() == ValueType::ARRAY);
    REQUIRE(nested->array_values().size() == 2);
    CHECK(nested->array_values()[1].array_strings()[1] == "y");
    CHECK(nested->array_values()[0].array_element(0).as_i64() == 7);
    CHECK(f->get_u32("t.replaced") == 2u);
    CHECK(f->tensors().empty());
}

TEST_CASE("typed getters convert integers that fit and reject the rest", "[gguf][roundtrip]") {
    TempDir dir;
    Writer w;
    w.set_i32("neg", -1);
    w.set_u64("big", 1ull << 40);
    w.set_string("s", "x");
    w.set_u32("n", 7);
    w.set_f32_array("fa", {1.0f});
    w.write(dir.file("g.gguf"));
    auto f = File::open(dir.file("g.gguf"));
    CHECK_FALSE(f->get_u32("absent").has_value());
    CHECK_FALSE(f->has("absent"));
    CHECK(f->get_u64("n") == 7u);
    CHECK(f->get_i32("n") == 7);
    CHECK(f->get_f32("n") == 7.0f);
    CHECK(f->get_u64("big") == (1ull << 40));
    CHECK_THROWS_WITH(f->get_u32("neg"), Catch::Contains("'neg'") && Catch::Contains("does not fit in u32"));
    CHECK_THROWS_WITH(f->get_i32("big"), Catch::Contains("does not fit in i32"));
    CHECK_THROWS_WITH(f->get_u32("s"), Catch::Contains("'s' is string") && Catch::Contains("expected u32"));
    CHECK_THROWS_WITH(f->get_string("n"), Catch::Contains("expected string"));
    CHECK_THROWS_WITH(f->get_bool("n"), Catch::Contains("expected bool"));
    CHECK_THROWS_WITH(f->get_string_array("fa"), Catch::Contains("expected an array of string"));
    CHECK_THROWS_WITH(f->get_i32_array("fa"), Catch::Contains("expected an array of integers"));
    try {
        f->get_u32("s");
    } catch (const sigma::Exception& e) {
        CHECK(e.code() == sigma::ErrorCode::BadFile);
    }
}

TEST_CASE("every tensor type round-trips with aligned data", "[gguf][roundtrip]") {
    TempDir dir;
    const std::vector<float> a = ramp(64 * 3, 2.0f);
    Writer w;
    w.set_string("general.architecture", "sigma");
    w.add_tensor_f32("f32", GgmlType::F32, {64, 3}, a.data());
    w.add_tensor_f32("f16", GgmlType::F16, {64, 3}, a.data());
    w.add_tensor_f32("bf16", GgmlType::BF16, {64, 3}, a.data());
    w.add_tensor_f32("q8_0", GgmlType::Q8_0, {64, 3}, a.data());
    w.add_tensor_f32("q4_0", GgmlType::Q4_0, {64, 3}, a.data());
    w.add_tensor_f32("odd", GgmlType::F32, {3}, a.data());   // 12 bytes: padding follows
    // Raw blocks of every other type, carried byte for byte.
    std::mt19937 rng(7);
    std::map<std::string, std::vector<uint8_t>> raw;
    const GgmlType others[] = {GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_1, GgmlType::Q2_K,
                               GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K};
    for (GgmlType t : others) {
        std::vector<uint8_t> bytes(size_t(row_bytes(t, 512)));
        for (auto& b : bytes) b = uint8_t(rng());
        // Keep the fp16 scales finite so dequantized values can be compared.
        const std::string name = std::string("raw.") + type_name(t);
        w.add_tensor(name, t, {512, 1, 1}, bytes.data(), bytes.size());
        raw[name] = bytes;
    }
    const std::string path = dir.file("t.gguf");
    w.write(path);

    auto f = File::open(path);
    REQUIRE(f->tensors().size() == 16);
    CHECK(f->data_offset() % 32 == 0);
    for (const TensorInfo& t : f->tensors()) {
        CHECK(t.offset % 32 == 0);
        CHECK((t.data - f->base()) % 32 == 0);
        CHECK(t.n_bytes == row_bytes(t.type, t.n_elements()));
    }
    const TensorInfo* t = f->find_tensor("q8_0");
    REQUIRE(t);
    CHECK(t->type == GgmlType::Q8_0);
    CHECK(t->n_dims == 2);
    CHECK(t->ne[0] == 64);
    CHECK(t->ne[1] == 3);
    CHECK(t->ne[2] == 1);
    CHECK(t->n_elements() == 192);
    CHECK(f->find_tensor("nope") == nullptr);
    CHECK(f->find_tensor("raw.Q8_K")->n_dims == 3);

    std::vector<float> back(192);
    dequantize_row(GgmlType::F32, f->find_tensor("f32")->data, back.data(), 192);
    CHECK(back == a);
    dequantize_row(GgmlType::F16, f->find_tensor("f16")->data, back.data(), 192);
    for (size_t i = 0; i < a.size(); ++i) CHECK(back[i] == fp16_to_fp32(fp32_to_fp16(a[i])));
    dequantize_row(GgmlType::BF16, f->find_tensor("bf16")->data, back.data(), 192);
    for (size_t i = 0; i < a.size(); ++i) CHECK(back[i] == bf16_to_fp32(fp32_to_bf16(a[i])));
    dequantize_row(GgmlType::Q8_0, f->find_tensor("q8_0")->data, back.data(), 192);
    for (size_t i = 0; i < a.size(); ++i) CHECK(std::fabs(back[i] - a[i]) < 2.1f / 127.0f * 0.57f);
    dequantize_row(GgmlType::Q4_0, f->find_tensor("q4_0")->data, back.data(), 192);
    for (size_t i = 0; i < a.size(); ++i) CHECK(std::fabs(back[i] - a[i]) < 2.1f / 8.0f * 1.01f);
    for (const auto& [name, bytes] : raw) {
        const TensorInfo* r = f->find_tensor(name);
        REQUIRE(r);
        CHECK(std::memcmp(r->data, bytes.data(), bytes.size()) == 0);
    }
}

TEST_CASE("general.alignment is honoured and v2 files are read", "[gguf][roundtrip]") {
    const std::vector<float> a = ramp(40, 1.0f);
    Writer w;
    w.set_u32("general.alignment", 64);
    w.add_tensor_f32("x", GgmlType::F32, {5}, a.data());
    w.add_tensor_f32("y", GgmlType::F16, {8, 5}, a.data());
    std::vector<uint8_t> bytes = w.to_bytes();
    auto f = File::from_memory(bytes.data(), bytes.size());
    CHECK(f->alignment() == 64);
    CHECK(f->data_offset() % 64 == 0);
    CHECK(f->find_tensor("y")->offset == 64);
    CHECK(f->path() == "<memory>");

    bytes[4] = 2;   // version 2 has the same layout as v3 (v3 only added big-endian support)
    auto f2 = File::from_memory(bytes.data(), bytes.size());
    CHECK(f2->version() == 2);
    CHECK(f2->tensors().size() == 2);

    Writer bad;
    bad.set_u32("general.alignment", 48);
    CHECK_THROWS_WITH(bad.to_bytes(), Catch::Contains("power of two"));
}

TEST_CASE("writer rejects bad tensors", "[gguf][roundtrip]") {
    Writer w;
    float x[64] = {};
    CHECK_THROWS_WITH(w.add_tensor_f32("q", GgmlType::Q8_0, {31}, x), Catch::Contains("block size 32"));
    CHECK_THROWS_WITH(w.add_tensor_f32("q", GgmlType::F32, {1, 1, 1, 1, 1}, x), Catch::Contains("5 dimensions"));
    CHECK_THROWS_WITH(w.add_tensor_f32("q", GgmlType::F32, {0}, x), Catch::Contains("must be > 0"));
    CHECK_THROWS_WITH(w.add_tensor("q", GgmlType::F32, {4}, x, 15), Catch::Contains("15 bytes given"));
    w.add_tensor_f32("q", GgmlType::F32, {4}, x);
    CHECK_THROWS_WITH(w.add_tensor_f32("q", GgmlType::F32, {4}, x), Catch::Contains("duplicate tensor name 'q'"));
    CHECK_THROWS_WITH(w.add_tensor_f32("k", GgmlType::Q6_K, {256}, x), Catch::Contains("cannot convert F32 to Q6_K"));
}

TEST_CASE("write is atomic and reports I/O errors with the path", "[gguf][roundtrip]") {
    TempDir dir;
    const std::string path = dir.file("m.gguf");
    {
        std::ofstream old(path);
        old << "old contents";
    }
    Writer w;
    w.set_u32("a", 1);
    w.write(path);
    CHECK(File::open(path)->get_u32("a") == 1u);
    size_t n_files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) { (void)e; ++n_files; }
    CHECK(n_files == 1);   // no temp file left behind

    const std::string missing = dir.file("no/such/dir/m.gguf");
    try {
        w.write(missing);
        FAIL("write into a missing directory succeeded");
    } catch (const sigma::Exception& e) {
        CHECK(e.code() == sigma::ErrorCode::Io);
        CHECK_THAT(e.what(), Catch::Contains(missing));
    }
}

TEST_CASE("open reports missing, empty and non-GGUF files", "[gguf][roundtrip]") {
    TempDir dir;
    try {
        File::open(dir.file("absent.gguf"));
        FAIL("opened a missing file");
    } catch (const sigma::Exception& e) {
        CHECK(e.code() == sigma::ErrorCode::NotFound);
        CHECK_THAT(e.what(), Catch::Contains("absent.gguf") && Catch::Contains("no such file"));
    }
    { std::ofstream(dir.file("empty.gguf")); }
    CHECK_THROWS_WITH(File::open(dir.file("empty.gguf")), Catch::Contains("empty.gguf") && Catch::Contains("empty"));
    { std::ofstream(dir.file("page.gguf")) << "<html>404</html>"; }
    CHECK_THROWS_WITH(File::open(dir.file("page.gguf")),
                      Catch::Contains("page.gguf: not a GGUF file: starts with 3c 68 74 6d") && Catch::Contains("HTML"));
    CHECK_THROWS_WITH(File::open(dir.path.string()), Catch::Contains("not a regular file"));
}
