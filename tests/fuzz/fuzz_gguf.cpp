// fuzz_gguf.cpp - libFuzzer target for the GGUF reader (engine/src/gguf).
//
// Contract under test: File::from_memory on any byte string either throws sigma::Exception or
// returns a File whose metadata can be walked and whose tensors' first rows can be dequantized
// without reading outside the input. ASan/UBSan turn any violation into a crash.
// Build and run: see docs/fuzzing.md.
#include "gguf/gguf.h"
#include "sigma/expected.h"

#include <cstddef>
#include <cstdint>
#include <vector>

using namespace sigma::gguf;

namespace {

// Touches every part of a value so lazy conversions run too.
size_t walk(const Value& v) {
    size_t h = v.describe().size();
    if (v.type() == ValueType::STRING) return h + v.as_string().size();
    if (v.type() != ValueType::ARRAY) return h + (v.as_u64() ? 1 : 0) + (v.as_f64() ? 2 : 0);
    if (v.array_type() == ValueType::STRING) {
        for (const auto& s : v.array_strings()) h += s.size();
    } else if (v.array_type() == ValueType::ARRAY) {
        for (const auto& e : v.array_values()) h += walk(e);
    } else if (v.array_size() > 0) {
        h += walk(v.array_element(0)) + walk(v.array_element(v.array_size() - 1));
    }
    return h;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto f = File::from_memory(data, size);
        size_t h = 0;
        for (const std::string& k : f->keys()) {
            const Value* v = f->find(k);
            if (v) h += walk(*v);
            // The typed getters must throw cleanly on any type mismatch.
            try { (void)f->get_u32(k); } catch (const sigma::Exception&) {}
            try { (void)f->get_f32(k); } catch (const sigma::Exception&) {}
            try { (void)f->get_string_array(k); } catch (const sigma::Exception&) {}
            try { (void)f->get_i32_array(k); } catch (const sigma::Exception&) {}
            try { (void)f->get_f32_array(k); } catch (const sigma::Exception&) {}
        }
        std::vector<float> row;
        for (const TensorInfo& t : f->tensors()) {
            if (f->find_tensor(t.name) != &t) __builtin_trap();
            if (t.data < data || t.data + t.n_bytes > data + size) __builtin_trap();
            if (!type_readable(t.type)) continue;
            const int64_t n = t.ne[0];
            if (n > (1 << 20)) continue;   // keep each run cheap; the row is in bounds anyway
            row.resize(static_cast<size_t>(n));
            try {
                dequantize_row(t.type, t.data, row.data(), n);
            } catch (const sigma::Exception&) {
            }
        }
        (void)h;
    } catch (const sigma::Exception&) {
    }
    return 0;
}
