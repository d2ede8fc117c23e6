// writer.cpp - the GGUF v3 writer: collects metadata and tensors, then streams the file to disk.
//
// Contract: write() either leaves a complete, fsynced file at `path` or leaves `path` untouched
// (temp file in the same directory, fsync, rename, fsync of the directory). The file is streamed
// through a 1 MiB buffer, so writing costs the tensors already held plus that buffer.
#include "gguf/gguf.h"

#include "sigma/expected.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sigma::gguf {

namespace {
struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;   // already in `type`
};
} // namespace

struct Writer::Impl {
    std::vector<std::pair<std::string, Value>> kv;
    std::unordered_map<std::string, size_t> kv_index;
    std::vector<PendingTensor> tensors;
    std::unordered_map<std::string, size_t> tensor_index;
};

Writer::Writer() : m(std::make_unique<Impl>()) {}
Writer::~Writer() = default;
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;

void Writer::set(const std::string& key, Value v) {
    if (key.empty()) throw Exception(ErrorCode::InvalidArgument, "gguf writer: empty metadata key");
    auto it = m->kv_index.find(key);
    if (it != m->kv_index.end()) {
        m->kv[it->second].second = std::move(v);
        return;
    }
    m->kv_index.emplace(key, m->kv.size());
    m->kv.emplace_back(key, std::move(v));
}

void Writer::set_u32(const std::string& k, uint32_t v) { set(k, Value::make_u32(v)); }
void Writer::set_i32(const std::string& k, int32_t v) { set(k, Value::make_i32(v)); }
void Writer::set_u64(const std::string& k, uint64_t v) { set(k, Value::make_u64(v)); }
void Writer::set_f32(const std::string& k, float v) { set(k, Value::make_f32(v)); }
void Writer::set_bool(const std::string& k, bool v) { set(k, Value::make_bool(v)); }
void Writer::set_string(const std::string& k, const std::string& v) { set(k, Value::make_string(v)); }
void Writer::set_string_array(const std::string& k, const std::vector<std::string>& v) { set(k, Value::make_string_array(v)); }
void Writer::set_f32_array(const std::string& k, const std::vector<float>& v) { set(k, Value::make_f32_array(v)); }
void Writer::set_i32_array(const std::string& k, const std::vector<int32_t>& v) { set(k, Value::make_i32_array(v)); }

namespace {

[[noreturn]] void bad_arg(const std::string& what) { throw Exception(ErrorCode::InvalidArgument, "gguf writer: " + what); }

// Checks a tensor shape and returns its element count.
int64_t check_shape(const std::string& name, GgmlType type, const std::vector<int64_t>& ne) {
    if (name.empty()) bad_arg("empty tensor name");
    if (!type_known(static_cast<uint32_t>(type)))
        bad_arg("tensor '" + name + "': unknown type id " + std::to_string(static_cast<uint32_t>(type)));
    if (ne.empty() || ne.size() > 4) bad_arg("tensor '" + name + "': " + std::to_string(ne.size()) + " dimensions (1 to 4 allowed)");
    int64_t n = 1;
    for (int64_t d : ne) {
        if (d <= 0) bad_arg("tensor '" + name + "': dimension " + std::to_string(d) + " must be > 0");
        if (__builtin_mul_overflow(n, d, &n)) bad_arg("tensor '" + name + "': element count overflows");
    }
    if (ne[0] % block_size(type) != 0)
        bad_arg("tensor '" + name + "': ne[0] = " + std::to_string(ne[0]) + " is not a multiple of the " + type_name(type) +
                " block size " + std::to_string(block_size(type)));
    return n;
}

using Sink = std::function<void(const void*, size_t)>;

void put_u32(const Sink& s, uint32_t v) { s(&v, 4); }
void put_u64(const Sink& s, uint64_t v) { s(&v, 8); }
void put_string(const Sink& s, const std::string& v) {
    put_u64(s, v.size());
    s(v.data(), v.size());
}

// Writes a value's payload (no type tag for scalars; arrays carry element type and count).
void put_value(const Sink& s, const Value& v) {
    switch (v.type()) {
    case ValueType::STRING: put_string(s, v.as_string()); return;
    case ValueType::ARRAY:
        put_u32(s, static_cast<uint32_t>(v.array_type()));
        put_u64(s, v.array_size());
        if (v.array_type() == ValueType::STRING)
            for (const std::string& e : v.array_strings()) put_string(s, e);
        else if (v.array_type() == ValueType::ARRAY)
            for (const Value& e : v.array_values()) put_value(s, e);
        else
            s(v.raw().data(), v.raw().size());
        return;
    default: s(v.raw().data(), v.raw().size()); return;
    }
}

uint64_t align_up(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }

constexpr size_t kBufferBytes = size_t(1) << 20;

} // namespace

void Writer::add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne, const void* data,
                        size_t n_bytes) {
    const int64_t n = check_shape(name, type, ne);
    if (m->tensor_index.count(name)) bad_arg("duplicate tensor name '" + name + "'");
    const uint64_t want = row_bytes(type, n);
    if (want != n_bytes)
        bad_arg("tensor '" + name + "': " + std::to_string(n_bytes) + " bytes given, " + type_name(type) + " of this shape needs " +
                std::to_string(want));
    if (n_bytes > 0 && !data) bad_arg("tensor '" + name + "': null data");
    PendingTensor t{name, type, ne, {}};
    t.data.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + n_bytes);
    m->tensor_index.emplace(name, m->tensors.size());
    m->tensors.push_back(std::move(t));
}

void Writer::add_tensor_f32(const std::string& name, GgmlType type, const std::vector<int64_t>& ne, const float* data) {
    const int64_t n = check_shape(name, type, ne);
    const int64_t n_row = ne[0];
    const int64_t n_rows = n / n_row;
    const uint64_t rb = row_bytes(type, n_row);
    std::vector<uint8_t> out(static_cast<size_t>(rb * static_cast<uint64_t>(n_rows)));
    for (int64_t r = 0; r < n_rows; ++r) quantize_row(type, data + r * n_row, out.data() + static_cast<uint64_t>(r) * rb, n_row);
    add_tensor(name, type, ne, out.data(), out.size());
}

namespace {

// Streams the whole GGUF v3 file into `sink`.
void serialize(const std::vector<std::pair<std::string, Value>>& kv, const std::vector<PendingTensor>& tensors,
               const Sink& sink) {
    // Alignment: general.alignment when set, else 32.
    uint64_t alignment = 32;
    for (const auto& [key, a] : kv) {
        if (key != "general.alignment") continue;
        const auto u = a.as_u64();
        if (a.type() != ValueType::U32 || !u || *u == 0 || (*u & (*u - 1)) != 0)
            bad_arg("general.alignment must be a u32 power of two, got " + a.describe());
        alignment = *u;
    }
    uint64_t pos = 0;
    const Sink counted = [&](const void* p, size_t n) {
        sink(p, n);
        pos += n;
    };
    // Header, metadata, tensor infos.
    counted("GGUF", 4);
    put_u32(counted, 3);
    put_u64(counted, tensors.size());
    put_u64(counted, kv.size());
    for (const auto& [key, v] : kv) {
        put_string(counted, key);
        put_u32(counted, static_cast<uint32_t>(v.type()));
        put_value(counted, v);
    }
    uint64_t offset = 0;
    for (const PendingTensor& t : tensors) {
        put_string(counted, t.name);
        put_u32(counted, static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) put_u64(counted, static_cast<uint64_t>(d));
        put_u32(counted, static_cast<uint32_t>(t.type));
        put_u64(counted, offset);
        offset = align_up(offset + t.data.size(), alignment);
    }
    // Data: each tensor padded to the alignment (ggml pads the last one too).
    if (tensors.empty()) return;
    const std::vector<uint8_t> zeros(alignment, 0);
    counted(zeros.data(), align_up(pos, alignment) - pos);
    for (const PendingTensor& t : tensors) {
        counted(t.data.data(), t.data.size());
        counted(zeros.data(), align_up(t.data.size(), alignment) - t.data.size());
    }
}

} // namespace

std::vector<uint8_t> Writer::to_bytes() const {
    std::vector<uint8_t> out;
    serialize(m->kv, m->tensors, [&out](const void* p, size_t n) {
        out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    });
    return out;
}

void Writer::write(const std::string& path) const {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string tmp = path + ".tmp.XXXXXX";
    std::vector<char> tmpl(tmp.begin(), tmp.end());
    tmpl.push_back('\0');
    const int fd = mkstemp(tmpl.data());
    if (fd < 0) throw Exception(ErrorCode::Io, path + ": cannot create a temporary file in " + dir + ": " + std::strerror(errno));
    tmp = tmpl.data();
    auto fail = [&](const std::string& what) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw Exception(ErrorCode::Io, path + ": " + what + ": " + std::strerror(err));
    };
    fchmod(fd, 0644);
    std::vector<uint8_t> buf;
    buf.reserve(kBufferBytes);
    auto flush = [&]() {
        size_t done = 0;
        while (done < buf.size()) {
            const ssize_t w = ::write(fd, buf.data() + done, buf.size() - done);
            if (w < 0) {
                if (errno == EINTR) continue;
                fail("write failed (disk full?)");
            }
            done += static_cast<size_t>(w);
        }
        buf.clear();
    };
    try {
        serialize(m->kv, m->tensors, [&](const void* p, size_t n) {
            const uint8_t* b = static_cast<const uint8_t*>(p);
            while (n > 0) {
                const size_t k = std::min(n, kBufferBytes - buf.size());
                buf.insert(buf.end(), b, b + k);
                b += k;
                n -= k;
                if (buf.size() == kBufferBytes) flush();
            }
        });
        flush();
    } catch (const Exception& e) {
        if (e.code() == ErrorCode::Io) throw;   // fail() already cleaned up
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (fsync(fd) != 0) fail("fsync failed");
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw Exception(ErrorCode::Io, path + ": close failed: " + std::strerror(err));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw Exception(ErrorCode::Io, path + ": cannot rename the temporary file into place: " + std::strerror(err));
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {   // best effort: makes the rename durable
        fsync(dfd);
        ::close(dfd);
    }
}

} // namespace sigma::gguf
