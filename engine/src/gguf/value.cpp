// value.cpp - GGUF metadata values: construction, typed access with range checks, descriptions.
//
// Scalars and scalar arrays keep their little-endian file bytes; accessors convert on demand so
// a 128K-entry token-type array costs its file size, not 128K Value objects.
#include "gguf/gguf.h"

#include "sigma/expected.h"

#include <cstring>
#include <limits>

namespace sigma::gguf {

namespace {

template <typename T>
std::vector<uint8_t> bytes_of(T v) {
    std::vector<uint8_t> out(sizeof(T));
    std::memcpy(out.data(), &v, sizeof(T));   // little-endian hosts only (x86-64, aarch64)
    return out;
}

template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

// Reads one scalar of `type` at `p` as a signed/unsigned 128-bit-free pair: returns true and sets
// exactly one of *u / *i (is_signed tells which) for integer types.
bool load_integer(ValueType type, const uint8_t* p, bool* is_signed, uint64_t* u, int64_t* i) {
    switch (type) {
    case ValueType::U8: *is_signed = false; *u = load<uint8_t>(p); return true;
    case ValueType::U16: *is_signed = false; *u = load<uint16_t>(p); return true;
    case ValueType::U32: *is_signed = false; *u = load<uint32_t>(p); return true;
    case ValueType::U64: *is_signed = false; *u = load<uint64_t>(p); return true;
    case ValueType::I8: *is_signed = true; *i = load<int8_t>(p); return true;
    case ValueType::I16: *is_signed = true; *i = load<int16_t>(p); return true;
    case ValueType::I32: *is_signed = true; *i = load<int32_t>(p); return true;
    case ValueType::I64: *is_signed = true; *i = load<int64_t>(p); return true;
    default: return false;
    }
}

std::optional<uint64_t> scalar_u64(ValueType type, const uint8_t* p) {
    bool s;
    uint64_t u;
    int64_t i;
    if (!load_integer(type, p, &s, &u, &i)) return std::nullopt;
    if (!s) return u;
    if (i < 0) return std::nullopt;
    return static_cast<uint64_t>(i);
}

std::optional<int64_t> scalar_i64(ValueType type, const uint8_t* p) {
    bool s;
    uint64_t u;
    int64_t i;
    if (!load_integer(type, p, &s, &u, &i)) return std::nullopt;
    if (s) return i;
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
}

[[noreturn]] void misuse(const std::string& what) { throw Exception(ErrorCode::InvalidArgument, "gguf value: " + what); }

} // namespace

const char* value_type_name(ValueType type) {
    switch (type) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
    }
    return "unknown";
}

size_t value_type_size(ValueType type) {
    switch (type) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    default: return 0;
    }
}

#define SIGMA_GGUF_SCALAR(fn, VT, CT)      \
    Value Value::fn(CT v) {                \
        Value r;                           \
        r.m_type = ValueType::VT;          \
        r.m_raw = bytes_of<CT>(v);         \
        return r;                          \
    }
SIGMA_GGUF_SCALAR(make_u8, U8, uint8_t)
SIGMA_GGUF_SCALAR(make_i8, I8, int8_t)
SIGMA_GGUF_SCALAR(make_u16, U16, uint16_t)
SIGMA_GGUF_SCALAR(make_i16, I16, int16_t)
SIGMA_GGUF_SCALAR(make_u32, U32, uint32_t)
SIGMA_GGUF_SCALAR(make_i32, I32, int32_t)
SIGMA_GGUF_SCALAR(make_u64, U64, uint64_t)
SIGMA_GGUF_SCALAR(make_i64, I64, int64_t)
SIGMA_GGUF_SCALAR(make_f32, F32, float)
SIGMA_GGUF_SCALAR(make_f64, F64, double)
#undef SIGMA_GGUF_SCALAR

Value Value::make_bool(bool v) {
    Value r;
    r.m_type = ValueType::BOOL;
    r.m_raw = {static_cast<uint8_t>(v ? 1 : 0)};
    return r;
}

Value Value::make_string(std::string v) {
    Value r;
    r.m_type = ValueType::STRING;
    r.m_str = std::move(v);
    return r;
}

Value Value::make_string_array(std::vector<std::string> v) {
    Value r;
    r.m_type = ValueType::ARRAY;
    r.m_elem_type = ValueType::STRING;
    r.m_n = v.size();
    r.m_strings = std::move(v);
    return r;
}

Value Value::make_f32_array(const std::vector<float>& v) {
    std::vector<uint8_t> raw(v.size() * 4);
    if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
    return make_scalar_array(ValueType::F32, std::move(raw), v.size());
}

Value Value::make_i32_array(const std::vector<int32_t>& v) {
    std::vector<uint8_t> raw(v.size() * 4);
    if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
    return make_scalar_array(ValueType::I32, std::move(raw), v.size());
}

Value Value::make_scalar_array(ValueType element_type, std::vector<uint8_t> raw, uint64_t n) {
    const size_t es = value_type_size(element_type);
    if (es == 0) misuse(std::string("make_scalar_array: ") + value_type_name(element_type) + " is not a scalar type");
    if (raw.size() / es != n || raw.size() % es != 0)
        misuse("make_scalar_array: " + std::to_string(raw.size()) + " bytes do not hold " + std::to_string(n) +
               " elements of " + value_type_name(element_type));
    Value r;
    r.m_type = ValueType::ARRAY;
    r.m_elem_type = element_type;
    r.m_n = n;
    r.m_raw = std::move(raw);
    return r;
}

Value Value::make_array_of_arrays(std::vector<Value> elements) {
    for (const Value& e : elements)
        if (e.type() != ValueType::ARRAY) misuse("make_array_of_arrays: every element must be an array");
    Value r;
    r.m_type = ValueType::ARRAY;
    r.m_elem_type = ValueType::ARRAY;
    r.m_n = elements.size();
    r.m_values = std::move(elements);
    return r;
}

bool Value::is_integer() const {
    switch (m_type) {
    case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
    case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64: return true;
    default: return false;
    }
}

std::optional<uint64_t> Value::as_u64() const {
    if (!is_integer()) return std::nullopt;
    return scalar_u64(m_type, m_raw.data());
}

std::optional<int64_t> Value::as_i64() const {
    if (!is_integer()) return std::nullopt;
    return scalar_i64(m_type, m_raw.data());
}

std::optional<double> Value::as_f64() const {
    if (m_type == ValueType::F32) return static_cast<double>(load<float>(m_raw.data()));
    if (m_type == ValueType::F64) return load<double>(m_raw.data());
    if (auto i = as_i64()) return static_cast<double>(*i);
    if (auto u = as_u64()) return static_cast<double>(*u);
    return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
    if (m_type != ValueType::BOOL) return std::nullopt;
    return m_raw[0] != 0;
}

const std::string& Value::as_string() const {
    if (m_type != ValueType::STRING) misuse(std::string("as_string on a ") + value_type_name(m_type));
    return m_str;
}

const std::vector<std::string>& Value::array_strings() const {
    if (m_type != ValueType::ARRAY || m_elem_type != ValueType::STRING)
        misuse("array_strings on a value that is not an array of strings");
    return m_strings;
}

const std::vector<Value>& Value::array_values() const {
    if (m_type != ValueType::ARRAY || m_elem_type != ValueType::ARRAY)
        misuse("array_values on a value that is not an array of arrays");
    return m_values;
}

Value Value::array_element(uint64_t i) const {
    if (m_type != ValueType::ARRAY) misuse("array_element on a non-array");
    if (i >= m_n) misuse("array_element " + std::to_string(i) + " out of range (size " + std::to_string(m_n) + ")");
    if (m_elem_type == ValueType::STRING) return make_string(m_strings[i]);
    if (m_elem_type == ValueType::ARRAY) return m_values[i];
    const size_t es = value_type_size(m_elem_type);
    Value r;
    r.m_type = m_elem_type;
    r.m_raw.assign(m_raw.begin() + static_cast<ptrdiff_t>(i * es), m_raw.begin() + static_cast<ptrdiff_t>((i + 1) * es));
    return r;
}

std::string Value::describe() const {
    if (m_type == ValueType::ARRAY)
        return "array of " + std::to_string(m_n) + " " + value_type_name(m_elem_type);
    if (m_type == ValueType::STRING) {
        std::string s = m_str.size() > 40 ? m_str.substr(0, 40) + "..." : m_str;
        return "string \"" + s + "\"";
    }
    std::string out = value_type_name(m_type);
    if (m_type == ValueType::BOOL) return out + (m_raw[0] ? " true" : " false");
    if (is_float()) return out + " " + std::to_string(*as_f64());
    if (auto i = as_i64()) return out + " " + std::to_string(*i);
    if (auto u = as_u64()) return out + " " + std::to_string(*u);
    return out;
}

} // namespace sigma::gguf
