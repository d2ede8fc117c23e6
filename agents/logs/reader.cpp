// reader.cpp - stage 1 of the log pipeline: bytes -> cleaned lines, streamed.
//
// Memory: one raw chunk, one inflated chunk (ReadOptions::chunk_bytes each), and the line being
// assembled, which never grows past ReadOptions::max_line_bytes: the rest of a longer line is
// skipped as it streams by and only counted. gzip is recognised by its magic bytes and inflated
// with zlib (several members one after another are one stream, as gzip writes them); a stream
// that ends inside a member is a truncated file and ends the read with BadFile.
#include <logs/logs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace sigmaops::logs {

namespace {

// Where compressed-or-not bytes come from.
struct RawSource {
    int fd = -1;
    bool owns_fd = false;
    std::string memory;            // from_bytes
    std::size_t memory_pos = 0;
    bool is_memory = false;
    std::unique_ptr<ByteSource> producer;   // from_source

    // Bytes read into buf, 0 at the end, -1 on error (errno set, or producer->error()).
    long read(char* buf, std::size_t n) {
        if (producer) return producer->read(buf, n);
        if (is_memory) {
            const std::size_t k = std::min(n, memory.size() - memory_pos);
            std::memcpy(buf, memory.data() + memory_pos, k);
            memory_pos += k;
            return long(k);
        }
        for (;;) {
            const ssize_t k = ::read(fd, buf, n);
            if (k < 0 && errno == EINTR) continue;
            return long(k);
        }
    }
    void close() {
        if (owns_fd && fd >= 0) ::close(fd);
        fd = -1;
    }
};

struct FileEntry {
    std::string name;
    std::uint64_t size = 0;
};

} // namespace

struct LineReader::Impl {
    ReadOptions options;
    std::vector<FileEntry> files;     // names for open_files (opened lazily, in order)
    std::size_t i_file = 0;           // index of the file being read
    bool source_open = false;
    RawSource src;
    std::string current_name;
    std::optional<Error> error;
    std::uint64_t bytes_read = 0, bytes_total = 0;
    std::uint64_t n_lines = 0;
    bool single = false, single_used = false;   // from_fd / from_bytes

    // Decoding state of the current file.
    bool sniffed = false, gzip = false, in_member = false;
    z_stream zs{};
    bool zs_init = false;
    std::string raw;                  // compressed bytes
    std::size_t raw_pos = 0, raw_len = 0;
    bool raw_eof = false;

    std::string out;                  // decoded bytes
    std::size_t out_pos = 0, out_len = 0;
    bool file_done = false;

    std::string pending;              // the line being assembled (capped)
    std::uint64_t pending_bytes = 0;  // its length in the input
    bool pending_cut = false;

    ~Impl() {
        if (zs_init) inflateEnd(&zs);
        src.close();
    }

    void fail(ErrorCode code, std::string msg) {
        if (!error) error = Error{code, std::move(msg)};
    }

    bool fill_raw() {
        if (raw_eof) return false;
        raw.resize(options.chunk_bytes);
        const long k = src.read(raw.data(), raw.size());
        if (k < 0) {
            if (src.producer) {
                std::optional<Error> e = src.producer->error();
                fail(e ? e->code : ErrorCode::Io, e ? e->message : "reading " + current_name + " failed");
            } else {
                fail(ErrorCode::Io, "reading " + current_name + ": " + std::strerror(errno));
            }
            return false;
        }
        if (k == 0) {
            raw_eof = true;
            // A producer that ended badly (journalctl's exit status) ends the stream with its error.
            if (src.producer)
                if (std::optional<Error> e = src.producer->error()) fail(e->code, e->message);
            return false;
        }
        raw_pos = 0;
        raw_len = std::size_t(k);
        bytes_read += std::uint64_t(k);
        return true;
    }

    // Refills `out` with decoded bytes; false at the end of this file (or on error).
    bool fill_out() {
        out_pos = out_len = 0;
        if (error) return false;
        if (raw_pos >= raw_len && !fill_raw()) {
            if (gzip && in_member)
                fail(ErrorCode::BadFile, current_name + ": the gzip stream ends early (truncated .gz file); "
                                         "lines up to the cut were read");
            return false;
        }
        if (!sniffed) {
            sniffed = true;
            // Wait for a second byte to decide (a one-byte first read is possible on pipes).
            if (raw_len - raw_pos == 1 && std::uint8_t(raw[raw_pos]) == 0x1f) {
                std::string first = raw.substr(raw_pos, 1);
                if (fill_raw()) { raw.insert(0, first); raw_len += 1; }
                else { raw = first; raw_pos = 0; raw_len = 1; }
            }
            gzip = raw_len - raw_pos >= 2 && std::uint8_t(raw[raw_pos]) == 0x1f && std::uint8_t(raw[raw_pos + 1]) == 0x8b;
        }
        if (!gzip) {
            out.swap(raw);
            out_pos = raw_pos;
            out_len = raw_len;
            raw_pos = raw_len = 0;
            return true;
        }
        out.resize(options.chunk_bytes);
        for (;;) {
            if (!in_member) {
                // Bytes after a member: another member, or trailing zeros some tools write.
                while (raw_pos < raw_len && raw[raw_pos] == '\0') ++raw_pos;
                if (raw_pos >= raw_len) {
                    if (!fill_raw()) return out_len > 0;
                    continue;
                }
                if (!zs_init) {
                    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
                        fail(ErrorCode::Generic, "zlib: cannot initialise the inflater");
                        return false;
                    }
                    zs_init = true;
                } else {
                    inflateReset(&zs);
                }
                in_member = true;
            }
            zs.next_in = reinterpret_cast<Bytef*>(raw.data() + raw_pos);
            zs.avail_in = uInt(raw_len - raw_pos);
            zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_len);
            zs.avail_out = uInt(out.size() - out_len);
            const int rc = inflate(&zs, Z_NO_FLUSH);
            raw_pos = raw_len - zs.avail_in;
            out_len = out.size() - zs.avail_out;
            if (rc == Z_STREAM_END) {
                in_member = false;
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                fail(ErrorCode::BadFile, current_name + ": damaged gzip data (" +
                                             std::string(zs.msg ? zs.msg : "inflate error") + ")");
                return out_len > 0;
            }
            if (out_len == out.size()) return true;
            if (raw_pos >= raw_len && !fill_raw()) {
                if (in_member)
                    fail(ErrorCode::BadFile, current_name + ": the gzip stream ends early (truncated .gz file); "
                                                 "lines up to the cut were read");
                return out_len > 0;
            }
        }
    }

    void reset_decoder() {
        sniffed = gzip = in_member = false;
        raw_pos = raw_len = 0;
        raw_eof = false;
        out_pos = out_len = 0;
        file_done = false;
    }

    // Opens the next file of the set; false when there is none (or on error).
    bool open_next_file() {
        if (single) {   // one fd or memory source, opened at creation
            if (single_used) return false;
            single_used = source_open = true;
            reset_decoder();
            return true;
        }
        if (source_open) {
            src.close();
            source_open = false;
            ++i_file;
        }
        if (i_file >= files.size()) return false;
        const std::string& name = files[i_file].name;
        const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fail(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Io,
                 "cannot open " + name + ": " + std::strerror(errno));
            return false;
        }
        src.fd = fd;
        src.owns_fd = true;
        current_name = name;
        source_open = true;
        reset_decoder();
        return true;
    }

    void append_capped(const char* p, std::size_t n) {
        pending_bytes += n;
        if (pending_cut) return;
        const std::size_t room = options.max_line_bytes - std::min(options.max_line_bytes, pending.size());
        if (n <= room) { pending.append(p, n); return; }
        pending.append(p, room);
        pending_cut = true;
    }

    void emit(Line& line) {
        std::string_view raw_line = pending;
        if (!raw_line.empty() && raw_line.back() == '\r' && !pending_cut) raw_line.remove_suffix(1);
        if (pending_cut) {
            // Do not end inside a UTF-8 sequence: drop a trailing partial character.
            std::size_t end = raw_line.size(), back = 0;
            while (back < 4 && end > 0 && (std::uint8_t(raw_line[end - 1]) & 0xC0) == 0x80) { --end; ++back; }
            if (end > 0 && std::uint8_t(raw_line[end - 1]) >= 0xC0) {
                const std::uint8_t lead = std::uint8_t(raw_line[end - 1]);
                const std::size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
                if (back < need) raw_line = raw_line.substr(0, end - 1);
            }
        }
        line.repaired = clean_line(raw_line, line.text);
        line.number = ++n_lines;
        line.file_index = std::uint32_t(i_file);
        line.original_bytes = pending_bytes - (pending_bytes > 0 && !pending.empty() && pending.back() == '\r' && !pending_cut ? 1 : 0);
        line.truncated = pending_cut;
        pending.clear();
        pending_bytes = 0;
        pending_cut = false;
    }

    bool next(Line& line) {
        for (;;) {
            if (!source_open && !open_next_file()) return false;
            if (out_pos >= out_len) {
                if (file_done || !fill_out()) {
                    file_done = true;
                    if (pending_bytes > 0 || pending_cut) {   // last line of the file without '\n'
                        emit(line);
                        return true;
                    }
                    if (error) return false;
                    if (!open_next_file()) return false;
                    continue;
                }
            }
            const char* begin = out.data() + out_pos;
            const char* end = out.data() + out_len;
            const char* nl = static_cast<const char*>(std::memchr(begin, '\n', std::size_t(end - begin)));
            if (!nl) {
                append_capped(begin, std::size_t(end - begin));
                out_pos = out_len;
                continue;
            }
            if (pending.empty() && pending_bytes == 0) {
                // The common case: the whole line is in the chunk.
                const std::size_t n = std::size_t(nl - begin);
                if (n <= options.max_line_bytes) {
                    std::string_view raw_line(begin, n);
                    if (!raw_line.empty() && raw_line.back() == '\r') raw_line.remove_suffix(1);
                    line.repaired = clean_line(raw_line, line.text);
                    line.number = ++n_lines;
                    line.file_index = std::uint32_t(i_file);
                    line.original_bytes = raw_line.size();
                    line.truncated = false;
                    out_pos += n + 1;
                    return true;
                }
            }
            append_capped(begin, std::size_t(nl - begin));
            out_pos += std::size_t(nl - begin) + 1;
            emit(line);
            return true;
        }
    }
};

LineReader::LineReader(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
LineReader::LineReader(LineReader&&) noexcept = default;
LineReader& LineReader::operator=(LineReader&&) noexcept = default;
LineReader::~LineReader() = default;

Expected<LineReader> LineReader::open(const std::string& path, ReadOptions options) {
    return open_files({path}, options);
}

Expected<LineReader> LineReader::open_files(const std::vector<std::string>& paths, ReadOptions options) {
    if (paths.empty()) return unexpected(ErrorCode::InvalidArgument, "no log files given");
    if (options.max_line_bytes == 0 || options.chunk_bytes < 64)
        return unexpected(ErrorCode::InvalidArgument, "max_line_bytes must be > 0 and chunk_bytes >= 64");
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    for (const std::string& p : paths) {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0)
            return unexpected(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Io,
                              "cannot open " + p + ": " + std::strerror(errno));
        if (S_ISDIR(st.st_mode)) return unexpected(ErrorCode::InvalidArgument, p + " is a directory, not a log file");
        impl->files.push_back({p, S_ISREG(st.st_mode) ? std::uint64_t(st.st_size) : 0});
        impl->bytes_total += S_ISREG(st.st_mode) ? std::uint64_t(st.st_size) : 0;
    }
    impl->current_name = paths.front();
    return LineReader(std::move(impl));
}

LineReader LineReader::from_fd(int fd, std::string name, ReadOptions options) {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->single = true;
    impl->src.fd = fd;
    impl->src.owns_fd = false;
    impl->current_name = std::move(name);
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) impl->bytes_total = std::uint64_t(st.st_size);
    return LineReader(std::move(impl));
}

LineReader LineReader::from_bytes(std::string_view bytes, std::string name, ReadOptions options) {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->single = true;
    impl->src.is_memory = true;
    impl->src.memory.assign(bytes);
    impl->current_name = std::move(name);
    impl->bytes_total = bytes.size();
    return LineReader(std::move(impl));
}

LineReader LineReader::from_source(std::unique_ptr<ByteSource> source, std::string name, ReadOptions options) {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->single = true;
    impl->bytes_total = source ? source->size_hint() : 0;
    impl->src.producer = std::move(source);
    if (!impl->src.producer) impl->src.is_memory = true;   // nothing to read: an empty stream
    impl->current_name = std::move(name);
    return LineReader(std::move(impl));
}

bool LineReader::next(Line& line) { return m_impl->next(line); }
const std::optional<Error>& LineReader::error() const { return m_impl->error; }
std::uint64_t LineReader::bytes_read() const { return m_impl->bytes_read; }
std::uint64_t LineReader::bytes_total() const { return m_impl->bytes_total; }
const std::string& LineReader::current_name() const { return m_impl->current_name; }

std::vector<std::string> rotated_set(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path base(path);
    const std::string stem = base.filename().string();
    std::map<long, std::string, std::greater<long>> rotated;   // N -> name, oldest (largest N) first
    std::error_code ec;
    fs::path dir = base.parent_path();
    if (dir.empty()) dir = ".";
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() <= stem.size() + 1 || name.compare(0, stem.size(), stem) != 0 || name[stem.size()] != '.')
            continue;
        std::string_view rest = std::string_view(name).substr(stem.size() + 1);
        if (rest.size() > 3 && rest.substr(rest.size() - 3) == ".gz") rest.remove_suffix(3);
        if (rest.empty() || rest.size() > 6 || !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        const long n = std::stol(std::string(rest));
        const std::string full = (base.parent_path() / name).string();
        // syslog.1 and syslog.1.gz both present: keep the plain one (logrotate's delaycompress).
        auto [pos, fresh] = rotated.emplace(n, full);
        if (!fresh && full.size() < pos->second.size()) pos->second = full;
    }
    std::vector<std::string> out;
    for (auto& [n, name] : rotated) out.push_back(name);
    if (fs::exists(base, ec)) out.push_back(path);
    return out;
}

bool clean_line(std::string_view raw, std::string& out) {
    // Fast path: printable ASCII and TAB only.
    bool plain = true;
    for (unsigned char c : raw)
        if ((c < 0x20 && c != '\t') || c >= 0x7F) { plain = false; break; }
    if (plain) {
        out.assign(raw);
        return false;
    }
    out.clear();
    out.reserve(raw.size());
    bool changed = false;
    const std::size_t n = raw.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = static_cast<unsigned char>(raw[i]);
        if (c == 0x1B) {   // ESC: CSI "ESC [ params final", OSC "ESC ] ... BEL|ESC \", or ESC + one char
            changed = true;
            if (i + 1 < n && raw[i + 1] == '[') {
                std::size_t j = i + 2;
                while (j < n && (std::uint8_t(raw[j]) < 0x40 || std::uint8_t(raw[j]) > 0x7E) && j - i < 64) ++j;
                i = std::min(n, j + 1);
            } else if (i + 1 < n && raw[i + 1] == ']') {
                std::size_t j = i + 2;
                while (j < n && raw[j] != '\a' && !(raw[j] == 0x1B && j + 1 < n && raw[j + 1] == '\\') && j - i < 512) ++j;
                i = j < n && raw[j] == 0x1B ? j + 2 : j + 1;
                i = std::min(i, n);
            } else {
                i = std::min(n, i + 2);
            }
            continue;
        }
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t') || c == 0x7F) { out.push_back(' '); changed = true; }
            else out.push_back(char(c));
            ++i;
            continue;
        }
        // A UTF-8 sequence: check its length, continuation bytes, overlongs and surrogates.
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        bool ok = len > 0 && i + len <= n;
        for (std::size_t k = 1; ok && k < len; ++k) {
            const unsigned char cc = static_cast<unsigned char>(raw[i + k]);
            if ((cc & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            ok = false;
        if (ok && cp >= 0x80 && cp < 0xA0) {   // C1 controls
            out.push_back(' ');
            changed = true;
            i += len;
            continue;
        }
        if (!ok) {
            out += "\xEF\xBF\xBD";
            changed = true;
            ++i;
            continue;
        }
        out.append(raw.substr(i, len));
        i += len;
    }
    return changed;
}

} // namespace sigmaops::logs
