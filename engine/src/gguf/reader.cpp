// reader.cpp - the GGUF reader: memory-maps a file and validates its whole header up front.
//
// Layout (GGUF v2/v3, little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv, n_kv
// key/value pairs, n_tensors tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 type, u64
// offset), padding to the alignment, then the data section (tensor offsets are relative to it).
//
// Contract: after parse() returns, every TensorInfo's data lies inside the file, every count was
// bounded by the bytes that remain before memory was reserved for it, and the metadata is fully
// decoded. Any violation throws sigma::Exception(BadFile) naming the file, what is wrong and where.
#include "gguf/gguf.h"

#include "sigma/expected.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_map>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sigma::gguf {

namespace {

constexpr uint32_t kMaxNesting = 8;            // arrays of arrays deeper than this are rejected
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;    // empty key, type, 1-byte value
constexpr uint64_t kMinTensorBytes = 8 + 4 + 8 + 4 + 8;   // empty name, n_dims, one ne, type, offset
const char* const kTruncatedHint = "the file is truncated or corrupt - download or convert it again";

std::string hex_bytes(const uint8_t* p, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        if (i) out += ' ';
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

std::string printable(const uint8_t* p, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += (p[i] >= 32 && p[i] < 127) ? static_cast<char>(p[i]) : '.';
    return out;
}

// Clips a name from the file for messages (it may be megabytes of garbage).
std::string clip(const std::string& s) {
    std::string out = s.size() > 64 ? s.substr(0, 64) + "..." : s;
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 32) c = '?';
    return out;
}

} // namespace

struct File::Index {
    std::unordered_map<std::string, size_t> kv;
    std::unordered_map<std::string, size_t> tensors;
};

// Bounds-checked sequential reader over the file image; every read names what it reads so a
// truncation message says where the file ends.
class Cursor {
public:
    Cursor(const File& f, const uint8_t* base, size_t size)
        : m_file(f), m_base(base), m_size(size) {}
    uint64_t pos() const { return m_pos; }
    uint64_t remaining() const { return m_size - m_pos; }

    void need(uint64_t n, const std::string& what) const {
        if (n > remaining())
            fail("truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " + std::to_string(m_pos) +
                 " but the file ends at " + std::to_string(m_size) + "; " + kTruncatedHint);
    }
    const uint8_t* take(uint64_t n, const std::string& what) {
        need(n, what);
        const uint8_t* p = m_base + m_pos;
        m_pos += n;
        return p;
    }
    template <typename T>
    T read(const std::string& what) {
        T v;
        std::memcpy(&v, take(sizeof(T), what), sizeof(T));
        return v;
    }
    std::string read_string(const std::string& what) {
        const uint64_t at = m_pos;
        const uint64_t len = read<uint64_t>(what + " length");
        if (len > remaining())
            fail(what + " at offset " + std::to_string(at) + " claims " + std::to_string(len) + " bytes but only " +
                 std::to_string(remaining()) + " remain in the file; " + kTruncatedHint);
        const uint8_t* p = take(len, what);
        return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    }
    [[noreturn]] void fail(const std::string& what) const;

private:
    const File& m_file;
    const uint8_t* m_base;
    uint64_t m_size;
    uint64_t m_pos = 0;
};

// File::fail is private; Cursor reaches it through this friend-free trampoline.
namespace {
[[noreturn]] void throw_bad(const std::string& path, const std::string& what) {
    throw Exception(ErrorCode::BadFile, path + ": " + what);
}
} // namespace

void Cursor::fail(const std::string& what) const { throw_bad(m_file.path(), what); }

void File::fail(const std::string& what) const { throw_bad(m_path, what); }

File::~File() {
    if (m_map) munmap(m_map, m_size);
}

std::unique_ptr<File> File::from_memory(const uint8_t* data, size_t size) {
    std::unique_ptr<File> f(new File());
    f->m_base = data;
    f->m_size = size;
    f->parse();
    return f;
}

std::unique_ptr<File> File::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT)
            throw Exception(ErrorCode::NotFound, path + ": no such file; check the model path");
        throw Exception(ErrorCode::Io, path + ": cannot open: " + std::strerror(err));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Exception(ErrorCode::Io, path + ": cannot stat: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Exception(ErrorCode::BadFile, path + ": not a regular file (a directory or device?); expected a .gguf model file");
    }
    if (st.st_size == 0) {
        ::close(fd);
        throw Exception(ErrorCode::BadFile, path + ": the file is empty (0 bytes); " + kTruncatedHint);
    }
    const size_t size = static_cast<size_t>(st.st_size);
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);   // the mapping stays valid without the descriptor
    if (map == MAP_FAILED) throw Exception(ErrorCode::Io, path + ": cannot memory-map " + std::to_string(size) + " bytes: " + std::strerror(err));
    std::unique_ptr<File> f(new File());
    f->m_path = path;
    f->m_map = map;
    f->m_base = static_cast<const uint8_t*>(map);
    f->m_size = size;
    f->parse();   // on throw, ~File unmaps
    return f;
}

namespace {

// Decodes one value of `type` at the cursor. `what` names it for messages ("key 'x'").
Value read_value(Cursor& c, ValueType type, const std::string& what, uint32_t depth) {
    const size_t es = value_type_size(type);
    if (es != 0) {
        const uint8_t* p = c.take(es, what);
        std::vector<uint8_t> raw(p, p + es);
        switch (type) {
        case ValueType::U8: return Value::make_u8(raw[0]);
        case ValueType::I8: return Value::make_i8(static_cast<int8_t>(raw[0]));
        case ValueType::BOOL: return Value::make_bool(raw[0] != 0);
        default: break;
        }
        Value v = Value::make_scalar_array(type, std::move(raw), 1).array_element(0);
        return v;
    }
    if (type == ValueType::STRING) return Value::make_string(c.read_string(what));
    if (type != ValueType::ARRAY)
        c.fail(what + " has unknown value type " + std::to_string(static_cast<uint32_t>(type)) + " at offset " +
               std::to_string(c.pos() - 4) + "; the file is corrupt or written by a newer tool");
    if (depth >= kMaxNesting) c.fail(what + " nests arrays more than " + std::to_string(kMaxNesting) + " deep; the file is corrupt");
    const uint64_t at = c.pos();
    const uint32_t et_raw = c.read<uint32_t>(what + " element type");
    const ValueType et = static_cast<ValueType>(et_raw);
    const uint64_t n = c.read<uint64_t>(what + " element count");
    const size_t ees = value_type_size(et);
    const uint64_t min_elem = ees != 0 ? ees : et == ValueType::STRING ? 8 : et == ValueType::ARRAY ? 12 : 0;
    if (min_elem == 0)
        c.fail(what + " is an array of unknown element type " + std::to_string(et_raw) + " at offset " + std::to_string(at) +
               "; the file is corrupt");
    if (n > c.remaining() / min_elem)
        c.fail(what + " claims " + std::to_string(n) + " " + value_type_name(et) + " elements at offset " + std::to_string(at) +
               " but only " + std::to_string(c.remaining()) + " bytes remain in the file; " + kTruncatedHint);
    if (ees != 0) {
        const uint8_t* p = c.take(n * ees, what);
        return Value::make_scalar_array(et, std::vector<uint8_t>(p, p + n * ees), n);
    }
    if (et == ValueType::STRING) {
        std::vector<std::string> v;
        v.reserve(static_cast<size_t>(n));   // bounded: n <= remaining / 8
        for (uint64_t i = 0; i < n; ++i) v.push_back(c.read_string(what + " element " + std::to_string(i)));
        return Value::make_string_array(std::move(v));
    }
    std::vector<Value> v;   // not reserved: a Value is much larger than its 12-byte minimum
    for (uint64_t i = 0; i < n; ++i)
        v.push_back(read_value(c, ValueType::ARRAY, what + " element " + std::to_string(i), depth + 1));
    return Value::make_array_of_arrays(std::move(v));
}

} // namespace

void File::parse() {
    m_index = std::make_unique<Index>();
    Cursor c(*this, m_base, m_size);

    // Magic and version.
    if (m_size < 4)
        fail("not a GGUF file: only " + std::to_string(m_size) + " bytes long; " + kTruncatedHint);
    if (std::memcmp(m_base, "GGUF", 4) != 0) {
        std::string hint = "expected a .gguf model file";
        if (!std::memcmp(m_base, "lmgg", 4) || !std::memcmp(m_base, "fmgg", 4) || !std::memcmp(m_base, "tjgg", 4))
            hint = "this is a legacy GGML/GGJT model; convert it to GGUF with llama.cpp's conversion scripts";
        else if (!std::memcmp(m_base, "FUGG", 4))
            hint = "this looks like a big-endian GGUF file, which is not supported";
        else if (m_base[0] == 0x50 && m_base[1] == 0x4B)
            hint = "this is a ZIP archive (a PyTorch checkpoint?); convert it to GGUF first";
        else if (m_base[0] == '<' || m_base[0] == '{')
            hint = "this looks like text (an HTML error page or JSON?), not a model; download it again";
        fail("not a GGUF file: starts with " + hex_bytes(m_base, 4) + " (\"" + printable(m_base, 4) + "\"), expected \"GGUF\"; " + hint);
    }
    c.take(4, "magic");
    m_version = c.read<uint32_t>("version");
    if (m_version == 1)
        throw Exception(ErrorCode::Unsupported, m_path + ": GGUF version 1 is not supported (this build reads v2 and v3); "
                                                "re-convert the model with a current llama.cpp conversion script");
    if (m_version != 2 && m_version != 3) {
        std::string hint = "the file is corrupt or from a newer tool";
        if (m_version == 0x02000000u || m_version == 0x03000000u) hint = "the file looks big-endian, which is not supported";
        throw Exception(ErrorCode::Unsupported, m_path + ": unsupported GGUF version " + std::to_string(m_version) +
                                                    " (this build reads v2 and v3); " + hint);
    }
    const uint64_t n_tensors = c.read<uint64_t>("tensor count");
    const uint64_t n_kv = c.read<uint64_t>("metadata count");
    if (n_kv > c.remaining() / kMinKvBytes)
        fail("header claims " + std::to_string(n_kv) + " metadata entries but only " + std::to_string(c.remaining()) +
             " bytes follow; " + kTruncatedHint);
    if (n_tensors > (c.remaining() - n_kv * kMinKvBytes) / kMinTensorBytes)
        fail("header claims " + std::to_string(n_tensors) + " tensors but only " + std::to_string(c.remaining()) +
             " bytes follow; " + kTruncatedHint);

    // Metadata.
    m_kv.reserve(static_cast<size_t>(std::min<uint64_t>(n_kv, 4096)));   // grows past that as entries parse
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t at = c.pos();
        std::string key = c.read_string("metadata key #" + std::to_string(i));
        const std::string what = "metadata key '" + clip(key) + "'";
        if (key.empty()) fail("metadata key #" + std::to_string(i) + " at offset " + std::to_string(at) + " is empty; the file is corrupt");
        if (m_index->kv.count(key)) fail("duplicate " + what + " at offset " + std::to_string(at) + "; the file is corrupt");
        const uint32_t type = c.read<uint32_t>(what + " type");
        Value v = read_value(c, static_cast<ValueType>(type), what, 0);
        m_index->kv.emplace(key, m_kv.size());
        m_kv.emplace_back(std::move(key), std::move(v));
    }

    // Alignment.
    if (const Value* a = find("general.alignment")) {
        const auto u = a->as_u64();
        if (a->type() != ValueType::U32 || !u || *u == 0 || (*u & (*u - 1)) != 0)
            fail("general.alignment must be a u32 power of two, got " + a->describe() + "; the file is corrupt");
        m_alignment = static_cast<uint32_t>(*u);
    }

    // Tensor infos.
    m_tensors.reserve(static_cast<size_t>(std::min<uint64_t>(n_tensors, 4096)));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const uint64_t at = c.pos();
        TensorInfo t;
        t.name = c.read_string("tensor #" + std::to_string(i) + " name");
        const std::string what = "tensor '" + clip(t.name) + "'";
        if (t.name.empty()) fail("tensor #" + std::to_string(i) + " at offset " + std::to_string(at) + " has an empty name; the file is corrupt");
        if (m_index->tensors.count(t.name)) fail("duplicate " + what + " at offset " + std::to_string(at) + "; the file is corrupt");
        const uint32_t n_dims = c.read<uint32_t>(what + " dimension count");
        if (n_dims == 0 || n_dims > 4)
            fail(what + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed); the file is corrupt");
        t.n_dims = static_cast<int>(n_dims);
        int64_t n_el = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t ne = c.read<uint64_t>(what + " dimension " + std::to_string(d));
            if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                fail(what + " has invalid size " + std::to_string(static_cast<int64_t>(ne)) + " in dimension " +
                     std::to_string(d) + "; the file is corrupt");
            t.ne[d] = static_cast<int64_t>(ne);
            if (__builtin_mul_overflow(n_el, t.ne[d], &n_el))
                fail(what + " has an element count that overflows 64 bits; the file is corrupt");
        }
        const uint32_t type = c.read<uint32_t>(what + " type");
        if (!type_known(type))
            fail(what + " has unknown tensor type id " + std::to_string(type) +
                 "; the file is corrupt or uses a type newer than this build");
        t.type = static_cast<GgmlType>(type);
        if (t.ne[0] % block_size(t.type) != 0)
            fail(what + " has row length " + std::to_string(t.ne[0]) + ", not a multiple of the " + type_name(t.type) +
                 " block size " + std::to_string(block_size(t.type)) + "; the file is corrupt");
        const uint64_t n_blocks = static_cast<uint64_t>(n_el / block_size(t.type));
        const uint64_t bb = static_cast<uint64_t>(block_bytes(t.type));
        if (n_blocks > std::numeric_limits<uint64_t>::max() / bb)
            fail(what + " is too large (its byte size overflows 64 bits); the file is corrupt");
        t.n_bytes = n_blocks * bb;
        t.offset = c.read<uint64_t>(what + " data offset");
        if (t.offset % m_alignment != 0)
            fail(what + " data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                 std::to_string(m_alignment) + "; the file is corrupt");
        m_index->tensors.emplace(t.name, m_tensors.size());
        m_tensors.push_back(std::move(t));
    }

    // Data section: starts at the next multiple of the alignment after the header.
    const uint64_t header_end = c.pos();
    m_data_offset = header_end + (m_alignment - header_end % m_alignment) % m_alignment;
    if (!m_tensors.empty() && m_data_offset > m_size)
        fail("the header ends at " + std::to_string(header_end) + " but the data section would start at " +
             std::to_string(m_data_offset) + ", past the end of the file (" + std::to_string(m_size) + " bytes); " + kTruncatedHint);
    const uint64_t data_size = m_data_offset <= m_size ? m_size - m_data_offset : 0;
    for (TensorInfo& t : m_tensors) {
        if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
            std::string at = t.offset <= std::numeric_limits<uint64_t>::max() - m_data_offset
                                 ? std::to_string(m_data_offset + t.offset) : std::to_string(t.offset) + " (relative)";
            fail("tensor '" + clip(t.name) + "' data [offset " + at + ", " + std::to_string(t.n_bytes) +
                 " bytes] runs past the end of the file (" + std::to_string(m_size) + " bytes); the file is truncated - download it again");
        }
        t.data = m_base + m_data_offset + t.offset;
    }

    // Overlapping tensors mean a corrupt header (no writer shares data between tensors).
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(m_tensors.size());
    for (const TensorInfo& t : m_tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const TensorInfo* a = by_offset[i - 1];
        const TensorInfo* b = by_offset[i];
        if (a->offset + a->n_bytes > b->offset)
            fail("tensors '" + clip(a->name) + "' and '" + clip(b->name) + "' overlap in the data section; the file is corrupt");
    }
}

const Value* File::find(const std::string& key) const {
    auto it = m_index->kv.find(key);
    return it == m_index->kv.end() ? nullptr : &m_kv[it->second].second;
}

std::vector<std::string> File::keys() const {
    std::vector<std::string> out;
    out.reserve(m_kv.size());
    for (const auto& kv : m_kv) out.push_back(kv.first);
    return out;
}

const TensorInfo* File::find_tensor(const std::string& name) const {
    auto it = m_index->tensors.find(name);
    return it == m_index->tensors.end() ? nullptr : &m_tensors[it->second];
}

// ---- typed getters ----------------------------------------------------------------------------

namespace {

template <typename T>
T int_or_fail(const File& f, const std::string& key, const Value& v, const char* want) {
    if (!v.is_integer())
        throw_bad(f.path(), "metadata key '" + key + "' is " + v.describe() + ", expected " + want);
    if constexpr (std::is_signed_v<T>) {
        const auto i = v.as_i64();
        if (i && *i >= std::numeric_limits<T>::min() && *i <= std::numeric_limits<T>::max()) return static_cast<T>(*i);
    } else {
        const auto u = v.as_u64();
        if (u && *u <= std::numeric_limits<T>::max()) return static_cast<T>(*u);
    }
    throw_bad(f.path(), "metadata key '" + key + "' value " + v.describe() + " does not fit in " + want);
}

} // namespace

std::optional<uint32_t> File::get_u32(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    return int_or_fail<uint32_t>(*this, key, *v, "u32");
}

std::optional<uint64_t> File::get_u64(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    return int_or_fail<uint64_t>(*this, key, *v, "u64");
}

std::optional<int32_t> File::get_i32(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    return int_or_fail<int32_t>(*this, key, *v, "i32");
}

std::optional<float> File::get_f32(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    const auto d = v->as_f64();
    if (!d) fail("metadata key '" + key + "' is " + v->describe() + ", expected a number (f32)");
    return static_cast<float>(*d);
}

std::optional<bool> File::get_bool(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    const auto b = v->as_bool();
    if (!b) fail("metadata key '" + key + "' is " + v->describe() + ", expected bool");
    return *b;
}

std::optional<std::string> File::get_string(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type() != ValueType::STRING) fail("metadata key '" + key + "' is " + v->describe() + ", expected string");
    return v->as_string();
}

std::optional<std::vector<std::string>> File::get_string_array(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type() != ValueType::ARRAY || v->array_type() != ValueType::STRING)
        fail("metadata key '" + key + "' is " + v->describe() + ", expected an array of string");
    return v->array_strings();
}

std::optional<std::vector<float>> File::get_f32_array(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type() != ValueType::ARRAY || (v->array_type() != ValueType::F32 && v->array_type() != ValueType::F64))
        fail("metadata key '" + key + "' is " + v->describe() + ", expected an array of f32");
    std::vector<float> out(static_cast<size_t>(v->array_size()));
    const uint8_t* p = v->raw().data();
    for (size_t i = 0; i < out.size(); ++i) {
        if (v->array_type() == ValueType::F32) std::memcpy(&out[i], p + 4 * i, 4);
        else { double d; std::memcpy(&d, p + 8 * i, 8); out[i] = static_cast<float>(d); }
    }
    return out;
}

std::optional<std::vector<int32_t>> File::get_i32_array(const std::string& key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    const ValueType et = v->array_type();
    const bool int_elems = value_type_size(et) != 0 && et != ValueType::F32 && et != ValueType::F64 && et != ValueType::BOOL;
    if (v->type() != ValueType::ARRAY || !int_elems)
        fail("metadata key '" + key + "' is " + v->describe() + ", expected an array of integers");
    std::vector<int32_t> out(static_cast<size_t>(v->array_size()));
    if (et == ValueType::I32) {
        if (!out.empty()) std::memcpy(out.data(), v->raw().data(), out.size() * 4);
        return out;
    }
    for (size_t i = 0; i < out.size(); ++i) {
        const Value e = v->array_element(i);
        const auto x = e.as_i64();
        if (!x || *x < std::numeric_limits<int32_t>::min() || *x > std::numeric_limits<int32_t>::max())
            fail("metadata key '" + key + "' element " + std::to_string(i) + " (" + e.describe() + ") does not fit in i32");
        out[i] = static_cast<int32_t>(*x);
    }
    return out;
}

} // namespace sigma::gguf
