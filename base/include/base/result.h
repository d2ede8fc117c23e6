// base/result.h - the result and error type every layer returns at its public API: a small
// C++20 stand-in for std::expected (C++23). The engine and every agent use it, so it lives below
// both; neither layer's errors need the other's headers.
//
// Errors carry a message written for the user ("what went wrong, and what to do next") and a
// machine-readable code. Code that throws internally (the engine) throws sigmaops::Exception and
// adds the stage on the way up; public entry points catch and return Expected<T>.
#pragma once

#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace sigmaops {

// Error codes are coarse on purpose: callers branch on them, users read the message. A layer
// that needs a new kind of failure adds it here, in its group.
enum class ErrorCode {
    // Any layer.
    Generic,        // anything not covered below
    InvalidArgument,// a bad flag, option or parameter value
    NotFound,       // file, model, host, session... does not exist
    BadFile,        // the file exists but is corrupt, truncated or of the wrong kind
    Unsupported,    // valid but not supported by this build (type, architecture, backend)
    Io,             // read/write/OS error
    Cancelled,      // the caller asked to stop
    // Language models (engine, agents/llm).
    ContextFull,    // the context window is exhausted
    // Hosts (agents/remote).
    Network,        // DNS, refused, timeout
    Auth,           // authentication failed
    HostKey,        // host key unknown/changed/refused
    // Stored data (agents/history).
    Database,       // SQLite error
    TooNew,         // a file/database written by a newer version
};

struct Error {
    ErrorCode code = ErrorCode::Generic;
    std::string message;
};

// The exception code that throws internally uses; public APIs convert it into Error.
class Exception : public std::runtime_error {
public:
    Exception(ErrorCode code, const std::string& msg) : std::runtime_error(msg), m_code(code) {}
    explicit Exception(const std::string& msg) : std::runtime_error(msg), m_code(ErrorCode::Generic) {}
    ErrorCode code() const { return m_code; }
    Error error() const { return Error{m_code, what()}; }
private:
    ErrorCode m_code;
};

// Rethrows `e` with `stage` prepended: "loading hyperparameters: key ... missing".
[[noreturn]] inline void rethrow_with_stage(const std::string& stage, const Exception& e) {
    throw Exception(e.code(), stage + ": " + e.what());
}

struct Unexpected {
    Error error;
};
inline Unexpected unexpected(ErrorCode code, std::string message) {
    return Unexpected{Error{code, std::move(message)}};
}
inline Unexpected unexpected(Error e) { return Unexpected{std::move(e)}; }

// Expected<T>: either a value or an Error. Expected<void> carries only success or an Error.
template <typename T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
    Expected(Unexpected u) : m_v(std::in_place_index<1>, std::move(u.error)) {}
    bool has_value() const { return m_v.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { check(); return std::get<0>(m_v); }
    const T& value() const& { check(); return std::get<0>(m_v); }
    T&& value() && { check(); return std::get<0>(std::move(m_v)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(m_v); }
    template <typename U> T value_or(U&& def) const& { return has_value() ? std::get<0>(m_v) : T(std::forward<U>(def)); }
private:
    void check() const { if (!has_value()) throw Exception(error().code, error().message); }
    std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Expected<void> {
public:
    Expected() = default;
    Expected(Unexpected u) : m_err(std::move(u.error)), m_ok(false) {}
    bool has_value() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    void value() const { if (!m_ok) throw Exception(m_err.code, m_err.message); }
    const Error& error() const { return m_err; }
private:
    Error m_err;
    bool m_ok = true;
};

// Runs f() and converts a thrown Exception / std::exception into an Error.
template <typename F>
auto catch_to_expected(F&& f) -> Expected<std::invoke_result_t<F>> {
    try {
        if constexpr (std::is_void_v<std::invoke_result_t<F>>) { f(); return {}; }
        else return f();
    } catch (const Exception& e) {
        return unexpected(e.code(), e.what());
    } catch (const std::bad_alloc&) {
        return unexpected(ErrorCode::Generic, "out of memory");
    } catch (const std::exception& e) {
        return unexpected(ErrorCode::Generic, e.what());
    }
}

} // namespace sigmaops
