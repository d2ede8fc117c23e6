// tokenizer/jinja/value.cpp - Python's str/repr/==/json.dumps for template values (value.h).

#include "tokenizer/jinja/value.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace sigma::jinja {

const Value* Object::find(const std::string& key) const {
    if (index.empty()) {
        for (const auto& e : entries)
            if (e.first == key) return &e.second;
        return nullptr;
    }
    auto it = index.find(key);
    return it == index.end() ? nullptr : &entries[it->second].second;
}

void Object::set(const std::string& key, Value v) {
    if (index.empty()) {
        for (auto& e : entries)
            if (e.first == key) { e.second = std::move(v); return; }
        entries.emplace_back(key, std::move(v));
        if (entries.size() > 16)
            for (size_t i = 0; i < entries.size(); ++i) index.emplace(entries[i].first, i);
        return;
    }
    auto it = index.find(key);
    if (it != index.end()) { entries[it->second].second = std::move(v); return; }
    index.emplace(key, entries.size());
    entries.emplace_back(key, std::move(v));
}

Value Value::array(Array items, bool tuple) {
    Value v;
    v.m_kind = Kind::Array;
    v.m_tuple = tuple;
    for (const auto& x : items) {
        v.m_depth = std::max(v.m_depth, x.m_depth + 1);
        v.m_has_ns = v.m_has_ns || x.m_has_ns;
    }
    if (items.empty()) v.m_depth = 1;
    v.m_array = std::make_shared<const Array>(std::move(items));
    return v;
}

Value Value::object(std::shared_ptr<Object> obj) {
    Value v;
    v.m_kind = Kind::Object;
    v.m_depth = 1;
    v.m_has_ns = obj->is_namespace;
    for (const auto& [k, x] : obj->entries) {
        v.m_depth = std::max(v.m_depth, x.m_depth + 1);
        v.m_has_ns = v.m_has_ns || x.m_has_ns;
    }
    v.m_object = std::move(obj);
    return v;
}

Value Value::function(std::shared_ptr<Function> fn) {
    Value v;
    v.m_kind = Kind::Function;
    v.m_fn = std::move(fn);
    return v;
}

bool Value::truthy() const {
    switch (m_kind) {
    case Kind::Undefined: case Kind::None: return false;
    case Kind::Bool: case Kind::Int: return m_int != 0;
    case Kind::Float: return m_float != 0;
    case Kind::String: return !m_str.empty();
    case Kind::Array: return !m_array->empty();
    case Kind::Object: return m_object->is_namespace || !m_object->entries.empty();
    case Kind::Function: return true;
    }
    return false;
}

const char* Value::type_name() const {
    switch (m_kind) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Array: return m_tuple ? "tuple" : "list";
    case Kind::Object: return m_object->is_namespace ? "Namespace" : "dict";
    case Kind::Function: return "function";
    }
    return "object";
}

std::string py_float_repr(double f) {
    if (std::isnan(f)) return "nan";
    if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
    std::string s(buf, res.ptr);
    std::string sign;
    if (s[0] == '-') { sign = "-"; s.erase(0, 1); }
    const size_t e = s.find('e');
    std::string digits = s.substr(0, e);
    const int exp = std::stoi(s.substr(e + 1));
    if (digits.size() > 1) digits.erase(1, 1);   // drop the '.'
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    const int n = int(digits.size());
    std::string out;
    if (exp >= -4 && exp < 16) {
        if (exp >= n - 1) {
            out = digits + std::string(size_t(exp - (n - 1)), '0') + ".0";
        } else if (exp >= 0) {
            out = digits.substr(0, size_t(exp + 1)) + "." + digits.substr(size_t(exp + 1));
        } else {
            out = "0." + std::string(size_t(-exp - 1), '0') + digits;
        }
    } else {
        out = digits.substr(0, 1);
        if (n > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    }
    return sign + out;
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

namespace {

std::string repr_string(const std::string& s) {
    const char quote = s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
    std::string out(1, quote);
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == static_cast<unsigned char>(quote) || c == '\\') { out += '\\'; out += char(c); }
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) { char b[8]; std::snprintf(b, sizeof b, "\\x%02x", c); out += b; }
        else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0xA0) {
            // U+0080..U+00A0 are not printable: Python shows them as \x80..\xa0.
            char b[8]; std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(s[i + 1])); out += b; ++i;
        } else out += char(c);
    }
    out += quote;
    return out;
}

void json_string(const std::string& s, std::string& out, bool ensure_ascii = false) {
    out += '"';
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (ensure_ascii && c >= 0x80) {   // \uXXXX, surrogate pairs above the BMP
            const int n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
            uint32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : n == 4 ? (c & 0x07) : c;
            for (int k = 1; k < n && i + 1 < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F);
            char b[16];
            if (cp >= 0x10000) {
                cp -= 0x10000;
                std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                std::snprintf(b, sizeof b, "\\u%04x", cp);
            }
            out += b;
            continue;
        }
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); out += b; }
            else out += char(c);
        }
    }
    out += '"';
}

struct JsonStyle {
    int indent;
    bool sort_keys;
    std::string item_sep, key_sep;
    bool ensure_ascii;
};

void json_value(const Value& v, const JsonStyle& st, int level, std::string& out) {
    const int indent = st.indent;
    const auto newline = [&](int lvl) {
        if (indent < 0) return;
        out += '\n';
        out.append(size_t(indent) * size_t(lvl), ' ');
    };
    switch (v.kind()) {
    case Value::Kind::Undefined: throw std::runtime_error("Object of type Undefined is not JSON serializable");
    case Value::Kind::Function: throw std::runtime_error("Object of type function is not JSON serializable");
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.as_int()); return;
    case Value::Kind::Float: {
        const double f = v.as_double();
        if (std::isnan(f)) out += "NaN";
        else if (std::isinf(f)) out += f < 0 ? "-Infinity" : "Infinity";
        else out += py_float_repr(f);
        return;
    }
    case Value::Kind::String: json_string(v.str(), out, st.ensure_ascii); return;
    case Value::Kind::Array: {
        if (v.items().empty()) { out += "[]"; return; }
        out += '[';
        bool first = true;
        for (const auto& item : v.items()) {
            if (!first) out += st.item_sep;
            first = false;
            newline(level + 1);
            json_value(item, st, level + 1, out);
        }
        newline(level);
        out += ']';
        return;
    }
    case Value::Kind::Object: {
        if (v.obj().is_namespace) throw std::runtime_error("Object of type Namespace is not JSON serializable");
        if (v.obj().entries.empty()) { out += "{}"; return; }
        std::vector<const std::pair<std::string, Value>*> entries;
        for (const auto& e : v.obj().entries) entries.push_back(&e);
        if (st.sort_keys)
            std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
        out += '{';
        bool first = true;
        for (const auto* e : entries) {
            if (!first) out += st.item_sep;
            first = false;
            newline(level + 1);
            json_string(e->first, out, st.ensure_ascii);
            out += st.key_sep;
            json_value(e->second, st, level + 1, out);
        }
        newline(level);
        out += '}';
        return;
    }
    }
}

}  // namespace

std::string Value::to_str() const {
    switch (m_kind) {
    case Kind::Undefined: return {};
    case Kind::String: return m_str;
    default: return repr();
    }
}

std::string Value::repr() const {
    switch (m_kind) {
    case Kind::Undefined: return {};
    case Kind::None: return "None";
    case Kind::Bool: return m_int ? "True" : "False";
    case Kind::Int: return std::to_string(m_int);
    case Kind::Float: return py_float_repr(m_float);
    case Kind::String: return repr_string(m_str);
    case Kind::Array: {
        std::string out = m_tuple ? "(" : "[";
        for (size_t i = 0; i < m_array->size(); ++i) {
            if (i) out += ", ";
            out += (*m_array)[i].repr();
        }
        if (m_tuple && m_array->size() == 1) out += ",";
        out += m_tuple ? ")" : "]";
        return out;
    }
    case Kind::Object: {
        std::string out = m_object->is_namespace ? "<Namespace {" : "{";
        bool first = true;
        for (const auto& [k, v] : m_object->entries) {
            if (!first) out += ", ";
            first = false;
            out += repr_string(k) + ": " + v.repr();
        }
        out += m_object->is_namespace ? "}>" : "}";
        return out;
    }
    case Kind::Function: return "<function " + m_fn->name + ">";
    }
    return {};
}

std::string Value::to_json(int indent, bool sort_keys, const std::string* item_sep, const std::string* key_sep,
                           bool ensure_ascii) const {
    const JsonStyle st{indent, sort_keys, item_sep ? *item_sep : std::string(indent < 0 ? ", " : ","),
                       key_sep ? *key_sep : std::string(": "), ensure_ascii};
    std::string out;
    json_value(*this, st, 0, out);
    return out;
}

bool operator==(const Value& a, const Value& b) {
    using K = Value::Kind;
    if (a.is_number() && b.is_number()) {
        if (a.kind() != K::Float && b.kind() != K::Float) return a.m_int == b.m_int;
        return a.as_double() == b.as_double();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
    case K::Undefined: case K::None: return true;
    case K::String: return a.m_str == b.m_str;
    case K::Array:
        if (a.m_tuple != b.m_tuple || a.m_array->size() != b.m_array->size()) return false;
        for (size_t i = 0; i < a.m_array->size(); ++i)
            if (!((*a.m_array)[i] == (*b.m_array)[i])) return false;
        return true;
    case K::Object: {
        if (a.m_object == b.m_object) return true;
        if (a.m_object->is_namespace || b.m_object->is_namespace) return false;
        if (a.m_object->entries.size() != b.m_object->entries.size()) return false;
        for (const auto& [k, v] : a.m_object->entries) {
            const Value* o = b.m_object->find(k);
            if (!o || !(v == *o)) return false;
        }
        return true;
    }
    case K::Function: return a.m_fn == b.m_fn;
    default: return false;
    }
}

namespace {

Value from_json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: return Value(int64_t(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
        Array items;
        for (const auto& e : j) items.push_back(from_json(e));
        return Value::array(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
        auto obj = std::make_shared<Object>();
        for (const auto& [k, v] : j.items()) obj->set(k, from_json(v));
        return Value::object(std::move(obj));
    }
    default: throw std::runtime_error("unsupported JSON value");
    }
}

}  // namespace

Value value_from_json(std::string_view json) {
    try {
        return from_json(nlohmann::ordered_json::parse(json));
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(std::string("bad JSON: ") + e.what());
    }
}

}  // namespace sigma::jinja
