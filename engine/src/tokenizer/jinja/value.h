// tokenizer/jinja/value.h - the values a chat template computes with, shaped after the Python
// objects jinja2 sees when transformers' apply_chat_template renders a template: None, bool,
// int, float, str, list/tuple, dict (insertion-ordered), jinja2's Undefined, callables and
// namespace(). Printing, comparison and JSON follow Python's str()/repr()/==/json.dumps so that
// output is byte-identical to jinja2's. Arrays and dicts are shared and immutable (as in jinja2's
// ImmutableSandboxedEnvironment); only a namespace's attributes can change.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sigma::jinja {

class Value;
struct Object;
struct Function;
using Array = std::vector<Value>;

class Value {
public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Function };

    Value() = default;                                        // Undefined
    static Value undefined(std::string hint = {}) { Value v; v.m_str = std::move(hint); return v; }
    static Value none() { Value v; v.m_kind = Kind::None; return v; }
    Value(bool b) : m_kind(Kind::Bool), m_int(b) {}
    Value(int i) : m_kind(Kind::Int), m_int(i) {}
    Value(int64_t i) : m_kind(Kind::Int), m_int(i) {}
    Value(double f) : m_kind(Kind::Float), m_float(f) {}
    Value(std::string s) : m_kind(Kind::String), m_str(std::move(s)) {}
    Value(const char* s) : m_kind(Kind::String), m_str(s) {}
    Value(std::string_view s) : m_kind(Kind::String), m_str(s) {}
    static Value array(Array items, bool tuple = false);
    static Value object(std::shared_ptr<Object> obj);
    static Value function(std::shared_ptr<Function> fn);

    Kind kind() const { return m_kind; }
    bool is_undefined() const { return m_kind == Kind::Undefined; }
    bool is_none() const { return m_kind == Kind::None; }
    bool is_bool() const { return m_kind == Kind::Bool; }
    bool is_int() const { return m_kind == Kind::Int; }           // not bool
    bool is_float() const { return m_kind == Kind::Float; }
    bool is_number() const { return m_kind == Kind::Int || m_kind == Kind::Float || m_kind == Kind::Bool; }
    bool is_string() const { return m_kind == Kind::String; }
    bool is_array() const { return m_kind == Kind::Array; }
    bool is_tuple() const { return m_kind == Kind::Array && m_tuple; }
    bool is_object() const { return m_kind == Kind::Object; }
    bool is_function() const { return m_kind == Kind::Function; }

    bool as_bool() const { return m_int != 0; }
    // bool/int/float; a float is truncated, saturating at the int64 range (NaN gives 0).
    int64_t as_int() const {
        if (m_kind != Kind::Float) return m_int;
        if (!(m_float == m_float)) return 0;
        if (m_float >= 9.2e18) return INT64_MAX;
        if (m_float <= -9.2e18) return INT64_MIN;
        return int64_t(m_float);
    }
    double as_double() const { return m_kind == Kind::Float ? m_float : double(m_int); }
    const std::string& str() const { return m_str; }                // string value, or an Undefined's hint
    const Array& items() const { return *m_array; }
    const Object& obj() const { return *m_object; }
    Object& obj_mut() const { return *m_object; }                   // namespaces only
    const std::shared_ptr<Object>& obj_ptr() const { return m_object; }
    const Function& fn() const { return *m_fn; }
    // Nesting depth of lists/dicts (0 for scalars), fixed when the container is made, and whether
    // a namespace() is inside. Namespaces are the only mutable values; the interpreter never lets
    // one hold another (directly or in a container), so values stay acyclic and their depth
    // bounded (printing, JSON, == and freeing recurse over it).
    uint32_t depth() const { return m_depth; }
    bool holds_namespace() const { return m_has_ns; }

    bool truthy() const;                  // Python bool()
    std::string to_str() const;           // Python str() (Undefined prints as "")
    std::string repr() const;             // Python repr()
    // json.dumps(v, ensure_ascii=False, indent=indent, separators=(item_sep, key_sep),
    // sort_keys=sort_keys), as transformers' tojson filter calls it; indent < 0 means None, null
    // separators mean json's defaults (", " or "," with an indent, and ": "). Throws
    // std::runtime_error for an Undefined or a function.
    std::string to_json(int indent = -1, bool sort_keys = false, const std::string* item_sep = nullptr,
                        const std::string* key_sep = nullptr, bool ensure_ascii = false) const;
    const char* type_name() const;        // Python type name for messages ("dict object"...)

    // Python ==.
    friend bool operator==(const Value& a, const Value& b);

private:
    Kind m_kind = Kind::Undefined;
    bool m_tuple = false;
    bool m_has_ns = false;
    uint32_t m_depth = 0;
    int64_t m_int = 0;
    double m_float = 0;
    std::string m_str;
    std::shared_ptr<const Array> m_array;
    std::shared_ptr<Object> m_object;
    std::shared_ptr<Function> m_fn;
};

// A dict: keys are strings (JSON objects, template dict literals), kept in insertion order.
// `is_namespace` marks namespace(): its attributes may be assigned by `set ns.x = ...`.
struct Object {
    std::vector<std::pair<std::string, Value>> entries;
    std::unordered_map<std::string, size_t> index;   // built once there are more than 16 keys
    bool is_namespace = false;

    const Value* find(const std::string& key) const;
    void set(const std::string& key, Value v);
};

class Interpreter;
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
};

// A callable: a global (range, namespace, raise_exception...), a bound method ("x".strip) or a
// macro. `call` receives the interpreter so macros can render.
struct Function {
    std::string name;
    std::function<Value(Interpreter&, CallArgs&)> call;
};

// Formats a double as Python's repr() does (shortest round trip, "1.0", "1e+16", "1e-05").
std::string py_float_repr(double f);
// Number of code points of UTF-8 text (Python len()).
size_t utf8_length(std::string_view s);

// Builds a value from JSON text (objects keep their key order). Throws std::runtime_error.
Value value_from_json(std::string_view json);

}  // namespace sigma::jinja
