// test_gguf_hostile.cpp - truncated, corrupt and hostile GGUF files: each must give a
// sigma::Exception whose message names the problem, never a crash or a huge allocation.
// Every image is copied into a buffer of exactly its size so an over-read is visible to ASan.
#include <catch2/catch.hpp>

#include "gguf/gguf.h"
#include "sigma/expected.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

using namespace sigma::gguf;

namespace {

// Builds GGUF images byte by byte, independently of the Writer, so broken files can be made.
struct Bytes {
    std::vector<uint8_t> b;
    Bytes& raw(const void* p, size_t n) {
        const size_t at = b.size();
        b.resize(at + n);
        if (n) std::memcpy(b.data() + at, p, n);
        return *this;
    }
    Bytes& u32(uint32_t v) { return raw(&v, 4); }
    Bytes& u64(uint64_t v) { return raw(&v, 8); }
    Bytes& str(const std::string& s) { u64(s.size()); return raw(s.data(), s.size()); }
    Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) { raw("GGUF", 4); u32(version); u64(n_tensors); return u64(n_kv); }
    Bytes& kv_u32(const std::string& k, uint32_t v) { str(k); u32(uint32_t(ValueType::U32)); return u32(v); }
    Bytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name);
        u32(uint32_t(ne.size()));
        for (uint64_t d : ne) u64(d);
        u32(type);
        return u64(offset);
    }
    Bytes& pad(size_t a = 32) { b.resize((b.size() + a - 1) / a * a, 0); return *this; }
    Bytes& zeros(size_t n) { b.resize(b.size() + n, 0); return *this; }
};

// Parses `img[0..n)` from an exact-size heap copy; returns the exception message ("" if none).
std::string parse_error(const std::vector<uint8_t>& img, size_t n, sigma::ErrorCode* code = nullptr) {
    std::unique_ptr<uint8_t[]> copy(new uint8_t[n ? n : 1]);
    if (n) std::memcpy(copy.get(), img.data(), n);
    try {
        auto f = File::from_memory(copy.get(), n);
        return "";
    } catch (const sigma::Exception& e) {
        if (code) *code = e.code();
        return e.what();
    }
}
std::string parse_error(const std::vector<uint8_t>& img) { return parse_error(img, img.size()); }

// A small valid file: two keys, two tensors whose data ends exactly at the end of the file (no
// trailing padding), so that cutting it at any byte leaves it invalid.
std::vector<uint8_t> small_valid() {
    Bytes b;
    b.header(2, 2).kv_u32("a.n", 7);
    b.str("a.s").u32(uint32_t(ValueType::STRING)).str("hello");
    b.tensor("x", {8}, uint32_t(GgmlType::F32), 0).tensor("y", {32}, uint32_t(GgmlType::Q8_0), 32).pad();
    b.zeros(32);   // x: 32 bytes
    b.zeros(34);   // y: one Q8_0 block
    return b.b;
}

} // namespace

TEST_CASE("the small valid file parses", "[gguf][hostile]") {
    const auto img = small_valid();
    CHECK(parse_error(img) == "");
    auto f = File::from_memory(img.data(), img.size());
    CHECK(f->get_string("a.s") == std::string("hello"));
    CHECK(f->find_tensor("y")->n_bytes == 34);
}

TEST_CASE("a file truncated at every byte position is rejected with a clear message", "[gguf][hostile]") {
    const auto img = small_valid();
    for (size_t n = 0; n < img.size(); ++n) {
        const std::string msg = parse_error(img, n);
        INFO("truncated to " << n << " bytes: " << msg);
        REQUIRE(!msg.empty());
        const bool clear = msg.find("truncated") != std::string::npos || msg.find("not a GGUF file") != std::string::npos ||
                           msg.find("past the end of the file") != std::string::npos;
        CHECK(clear);
        CHECK(msg.rfind("<memory>: ", 0) == 0);
    }
}

TEST_CASE("hostile headers give clear errors", "[gguf][hostile]") {
    struct Case {
        const char* name;
        std::vector<uint8_t> img;
        const char* expect;
    };
    std::vector<Case> cases;
    auto add = [&](const char* name, Bytes b, const char* expect) { cases.push_back({name, b.b, expect}); };

    add("bad magic", Bytes().raw("GGJT", 4).u32(3).zeros(16), "not a GGUF file: starts with 47 47 4a 54 (\"GGJT\")");
    add("zip", Bytes().raw("PK\3\4", 4).zeros(16), "ZIP archive");
    add("version 1", Bytes().header(0, 0, 1), "GGUF version 1 is not supported");
    add("version 9", Bytes().header(0, 0, 9), "unsupported GGUF version 9");
    add("big-endian", Bytes().header(0, 0, 0x03000000u), "big-endian");
    add("huge kv count", Bytes().header(0, 1ull << 60).zeros(64), "claims 1152921504606846976 metadata entries");
    add("huge tensor count", Bytes().header(1ull << 40, 0).zeros(64), "claims 1099511627776 tensors");
    add("huge string length", Bytes().header(0, 1).u64(1ull << 62).raw("abcdefghijklmnop", 16),
        "metadata key #0 at offset 24 claims 4611686018427387904 bytes");
    add("huge array count",
        Bytes().header(0, 1).str("arr").u32(uint32_t(ValueType::ARRAY)).u32(uint32_t(ValueType::U32)).u64(1ull << 60).zeros(16),
        "metadata key 'arr' claims 1152921504606846976 u32 elements");
    add("huge string array",
        Bytes().header(0, 1).str("arr").u32(uint32_t(ValueType::ARRAY)).u32(uint32_t(ValueType::STRING)).u64(100).zeros(64),
        "claims 100 string elements");
    add("huge string in array",
        Bytes().header(0, 1).str("arr").u32(uint32_t(ValueType::ARRAY)).u32(uint32_t(ValueType::STRING)).u64(1).u64(~0ull),
        "metadata key 'arr' element 0 at offset");
    add("unknown value type", Bytes().header(0, 1).str("k").u32(77).zeros(8), "metadata key 'k' has unknown value type 77");
    add("unknown array element type", Bytes().header(0, 1).str("k").u32(uint32_t(ValueType::ARRAY)).u32(40).u64(1).zeros(8),
        "array of unknown element type 40");
    {
        // The outer tag is one ARRAY; each level adds element type ARRAY and count 1.
        Bytes c;
        c.header(0, 1).str("deep").u32(uint32_t(ValueType::ARRAY));
        for (int i = 0; i < 20; ++i) c.u32(uint32_t(ValueType::ARRAY)).u64(1);
        c.zeros(64);
        add("deep nesting", c, "nests arrays more than 8 deep");
    }
    add("duplicate key", Bytes().header(0, 2).kv_u32("a", 1).kv_u32("a", 2), "duplicate metadata key 'a' at offset");
    add("empty key", Bytes().header(0, 1).kv_u32("", 1), "metadata key #0 at offset 24 is empty");
    add("bad alignment", Bytes().header(0, 1).kv_u32("general.alignment", 48), "general.alignment must be a u32 power of two");
    add("zero alignment", Bytes().header(0, 1).kv_u32("general.alignment", 0), "power of two");
    add("string alignment",
        Bytes().header(0, 1).str("general.alignment").u32(uint32_t(ValueType::STRING)).str("32"), "power of two");
    add("n_dims 5", Bytes().header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(32), "tensor 't' has 5 dimensions (1 to 4 allowed)");
    add("n_dims 0", Bytes().header(1, 0).tensor("t", {}, 0, 0).pad().zeros(32), "tensor 't' has 0 dimensions");
    add("ne 0", Bytes().header(1, 0).tensor("t", {4, 0}, 0, 0).pad().zeros(32), "tensor 't' has invalid size 0 in dimension 1");
    add("ne negative", Bytes().header(1, 0).tensor("t", {~0ull}, 0, 0).pad().zeros(32), "invalid size -1 in dimension 0");
    add("ne overflow", Bytes().header(1, 0).tensor("t", {1ull << 40, 1ull << 40}, 0, 0).pad().zeros(32), "overflows 64 bits");
    add("byte size overflow", Bytes().header(1, 0).tensor("t", {1ull << 62}, 0, 0).pad().zeros(32), "byte size overflows");
    add("unknown type", Bytes().header(1, 0).tensor("t", {4}, 99, 0).pad().zeros(32), "tensor 't' has unknown tensor type id 99");
    add("removed type Q4_2", Bytes().header(1, 0).tensor("t", {32}, 4, 0).pad().zeros(32), "unknown tensor type id 4");
    add("partial block", Bytes().header(1, 0).tensor("t", {33}, uint32_t(GgmlType::Q8_0), 0).pad().zeros(64),
        "row length 33, not a multiple of the Q8_0 block size 32");
    add("misaligned offset", Bytes().header(1, 0).tensor("t", {4}, 0, 4).pad().zeros(64),
        "tensor 't' data offset 4 is not a multiple of the alignment 32");
    add("offset past end", Bytes().header(1, 0).tensor("blk.3.attn_k.weight", {1024}, 0, 1024).pad().zeros(64),
        "tensor 'blk.3.attn_k.weight' data [offset 1120, 4096 bytes] runs past the end of the file (160 bytes); the file is "
        "truncated - download it again");
    add("offset near 2^64", Bytes().header(1, 0).tensor("t", {4}, 0, ~0ull - 31).pad().zeros(64), "runs past the end of the file");
    add("data section past end", Bytes().header(1, 0).tensor("t", {4}, 0, 0), "data section would start at 64, past the end");
    add("duplicate tensor", Bytes().header(2, 0).tensor("t", {4}, 0, 0).tensor("t", {4}, 0, 32).pad().zeros(64),
        "duplicate tensor 't' at offset");
    add("empty tensor name", Bytes().header(1, 0).tensor("", {4}, 0, 0).pad().zeros(64), "tensor #0 at offset 24 has an empty name");
    add("overlapping tensors", Bytes().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {4}, 0, 32).pad().zeros(96),
        "tensors 'a' and 'b' overlap");

    for (const Case& c : cases) {
        sigma::ErrorCode code = sigma::ErrorCode::Generic;
        const std::string msg = parse_error(c.img, c.img.size(), &code);
        INFO(c.name << ": " << msg);
        CHECK_THAT(msg, Catch::Contains(c.expect));
        CHECK((code == sigma::ErrorCode::BadFile || code == sigma::ErrorCode::Unsupported));
    }
}

TEST_CASE("a hostile file on disk names the file", "[gguf][hostile]") {
    const auto dir = std::filesystem::temp_directory_path() / ("sigma_gguf_hostile_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "model.gguf").string();
    auto img = small_valid();
    img.resize(img.size() - 10);
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(img.data()), std::streamsize(img.size()));
    }
    try {
        File::open(path);
        FAIL("opened a truncated file");
    } catch (const sigma::Exception& e) {
        CHECK(e.code() == sigma::ErrorCode::BadFile);
        CHECK_THAT(e.what(), Catch::StartsWith(path + ": tensor 'y' data [offset ") && Catch::Contains("the file is truncated"));
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("random corruption of a valid file never crashes", "[gguf][hostile]") {
    const auto img = small_valid();
    std::mt19937 rng(1234);
    for (int iter = 0; iter < 20000; ++iter) {
        auto bad = img;
        const int n_flips = 1 + int(rng() % 4);
        for (int k = 0; k < n_flips; ++k) bad[rng() % bad.size()] = uint8_t(rng());
        std::unique_ptr<uint8_t[]> copy(new uint8_t[bad.size()]);
        std::memcpy(copy.get(), bad.data(), bad.size());
        try {
            auto f = File::from_memory(copy.get(), bad.size());
            for (const auto& t : f->tensors()) {
                REQUIRE(t.data >= copy.get());
                REQUIRE(t.data + t.n_bytes <= copy.get() + bad.size());
            }
        } catch (const sigma::Exception&) {
        }
    }
}
