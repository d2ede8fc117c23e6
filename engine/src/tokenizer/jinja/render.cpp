// tokenizer/jinja/render.cpp - the tree-walking interpreter of the Jinja2 subset (jinja.h): scopes,
// statements, Python operator semantics, and the filters, tests, globals and str/dict methods
// that real chat templates use, each following jinja2 3.x / CPython behaviour.
// Scoping as in jinja2: a for loop's body gets a fresh scope per iteration (a `set` inside it is
// not seen after it; namespace() is the way out), `if` opens none, a macro sees its parameters and
// the template's top-level variables.

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/jinja.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

namespace sigma::jinja {

namespace {

// ---------------------------------------------------------------- UTF-8 and Python str helpers

std::vector<uint32_t> decode_utf8(std::string_view s) {
    std::vector<uint32_t> cps;
    cps.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (i + size_t(n) > s.size()) n = 1;
        uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + size_t(k)]) & 0x3F);
        cps.push_back(cp);
        i += size_t(n);
    }
    return cps;
}

void encode_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
    }
}

std::string encode_utf8(const std::vector<uint32_t>& cps) {
    std::string out;
    for (uint32_t cp : cps) encode_utf8(cp, out);
    return out;
}

// Python's str.isspace() set.
bool py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// str.strip/lstrip/rstrip; `chars` null = whitespace.
std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right) {
    const auto cps = decode_utf8(s);
    const auto set = chars ? decode_utf8(*chars) : std::vector<uint32_t>{};
    const auto strip_it = [&](uint32_t c) { return chars ? std::find(set.begin(), set.end(), c) != set.end() : py_space(c); };
    size_t b = 0, e = cps.size();
    if (left) while (b < e && strip_it(cps[b])) ++b;
    if (right) while (e > b && strip_it(cps[e - 1])) --e;
    return encode_utf8(std::vector<uint32_t>(cps.begin() + long(b), cps.begin() + long(e)));
}

uint32_t ascii_upper(uint32_t c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
bool is_cased(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string str_upper(const std::string& s) { std::string o = s; for (auto& c : o) c = char(ascii_upper(static_cast<unsigned char>(c))); return o; }
std::string str_lower(const std::string& s) { std::string o = s; for (auto& c : o) c = char(ascii_lower(static_cast<unsigned char>(c))); return o; }

// Python's str.title(): a cased letter after an uncased one is upper-cased, others lower-cased.
std::string py_title(const std::string& s) {
    std::string o = s;
    bool prev_cased = false;
    for (auto& ch : o) {
        const uint32_t c = static_cast<unsigned char>(ch);
        ch = char(prev_cased ? ascii_lower(c) : ascii_upper(c));
        prev_cased = is_cased(c);
    }
    return o;
}

// jinja2's title filter: words start after runs of '-', whitespace, '(', '{', '[', '<'.
std::string jinja_title(const std::string& s) {
    std::string o = s;
    bool start = true;
    for (auto& ch : o) {
        const char c = ch;
        const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_space(static_cast<unsigned char>(c));
        if (sep) { start = true; continue; }
        ch = char(start ? ascii_upper(static_cast<unsigned char>(c)) : ascii_lower(static_cast<unsigned char>(c)));
        start = false;
    }
    return o;
}

std::string py_capitalize(const std::string& s) {
    std::string o = str_lower(s);
    if (!o.empty()) o[0] = char(ascii_upper(static_cast<unsigned char>(o[0])));
    return o;
}

std::string py_replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
    std::string out;
    if (from.empty()) {   // Python inserts `to` between every character
        const auto cps = decode_utf8(s);
        int64_t n = 0;
        for (uint32_t cp : cps) {
            if (count < 0 || n < count) { out += to; ++n; }
            encode_utf8(cp, out);
        }
        if (count < 0 || n < count) out += to;
        return out;
    }
    size_t pos = 0;
    int64_t n = 0;
    for (;;) {
        const size_t at = s.find(from, pos);
        if (at == std::string::npos || (count >= 0 && n >= count)) break;
        out.append(s, pos, at - pos);
        out += to;
        pos = at + from.size();
        ++n;
    }
    out.append(s, pos, std::string::npos);
    return out;
}

Value str_list(const std::vector<std::string>& parts) {
    Array a;
    for (const auto& p : parts) a.emplace_back(p);
    return Value::array(std::move(a));
}

// str.split(sep=None, maxsplit=-1)
std::vector<std::string> py_split(const std::string& s, const std::string* sep, int64_t maxsplit) {
    std::vector<std::string> parts;
    if (sep) {
        size_t pos = 0;
        for (;;) {
            const size_t at = s.find(*sep, pos);
            if (at == std::string::npos || (maxsplit >= 0 && int64_t(parts.size()) >= maxsplit)) break;
            parts.push_back(s.substr(pos, at - pos));
            pos = at + sep->size();
        }
        parts.push_back(s.substr(pos));
        return parts;
    }
    const auto cps = decode_utf8(s);
    size_t i = 0;
    while (i < cps.size()) {
        while (i < cps.size() && py_space(cps[i])) ++i;
        if (i >= cps.size()) break;
        if (maxsplit >= 0 && int64_t(parts.size()) >= maxsplit) {
            size_t e = cps.size();
            while (e > i && py_space(cps[e - 1])) --e;
            parts.push_back(encode_utf8(std::vector<uint32_t>(cps.begin() + long(i), cps.begin() + long(e))));
            break;
        }
        size_t j = i;
        while (j < cps.size() && !py_space(cps[j])) ++j;
        parts.push_back(encode_utf8(std::vector<uint32_t>(cps.begin() + long(i), cps.begin() + long(j))));
        i = j;
    }
    return parts;
}

std::string html_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&#34;"; break;
        case '\'': o += "&#39;"; break;
        default: o += c;
        }
    }
    return o;
}

// Python slice.indices(): the selected positions of a sequence of length n.
std::vector<int64_t> slice_positions(int64_t n, const Value* start, const Value* stop, const Value* step) {
    const int64_t st = step && !step->is_none() ? step->as_int() : 1;
    if (st == 0) throw std::runtime_error("slice step cannot be zero");
    const int64_t lower = st > 0 ? 0 : -1, upper = st > 0 ? n : n - 1;
    const auto norm = [&](const Value* v, int64_t dflt) {
        if (!v || v->is_none()) return dflt;
        int64_t x = v->as_int();
        if (x < 0) { x += n; if (x < lower) x = lower; }
        else if (x > upper) x = upper;
        return x;
    };
    const int64_t b = norm(start, st > 0 ? lower : upper), e = norm(stop, st > 0 ? upper : lower);
    std::vector<int64_t> pos;
    for (int64_t i = b; st > 0 ? i < e : i > e;) {
        pos.push_back(i);
        if (__builtin_add_overflow(i, st, &i)) break;
    }
    return pos;
}

// ---------------------------------------------------------------- the interpreter

struct Scope {
    std::unordered_map<std::string, Value> vars;
};

enum class Flow { Normal, Break, Continue };

}  // namespace

class Interpreter {
public:
    Interpreter(const std::string& src, const Limits& limits, std::time_t now)
        : m_src(src), m_lim(limits), m_now(now ? now : std::time(nullptr)) {}

    std::string run(const Node& root, const Value& context) {
        m_scopes.emplace_back();
        if (context.is_object())
            for (const auto& [k, v] : context.obj().entries) m_scopes[0].vars[k] = v;
        std::string out;
        m_out = &out;
        exec(root);
        return out;
    }

    [[noreturn]] void fail(const std::string& msg, size_t pos) const {
        const auto [l, c] = line_column(m_src, pos);
        throw Error(msg, pos, l, c);
    }

    // Renders `body` in a scope holding `params`; returns what it printed (macro calls).
    std::string render_macro(const Node& macro, CallArgs& args, size_t pos) {
        if (++m_macro_depth > m_lim.max_macro_depth)
            fail("macro calls nested more than " + std::to_string(m_lim.max_macro_depth) + " deep (endless recursion?)", pos);
        Scope scope;
        const size_t n_params = macro.names.size(), n_defaults = macro.kids.size();
        if (args.positional.size() > n_params)
            fail("macro '" + macro.name + "' takes " + std::to_string(n_params) + " arguments, " +
                 std::to_string(args.positional.size()) + " given", pos);
        for (size_t i = 0; i < n_params; ++i) {
            const std::string& p = macro.names[i];
            if (i < args.positional.size()) { scope.vars[p] = args.positional[i]; continue; }
            auto kw = std::find_if(args.keyword.begin(), args.keyword.end(), [&](auto& e) { return e.first == p; });
            if (kw != args.keyword.end()) { scope.vars[p] = kw->second; continue; }
            if (i + n_defaults >= n_params) scope.vars[p] = eval(*macro.kids[i + n_defaults - n_params]);
            else scope.vars[p] = Value::undefined("parameter '" + p + "' was not provided");
        }
        for (const auto& [k, v] : args.keyword) {
            if (k == "caller") { scope.vars["caller"] = v; continue; }
            if (std::find(macro.names.begin(), macro.names.end(), k) == macro.names.end())
                fail("macro '" + macro.name + "' takes no keyword argument '" + k + "'", pos);
        }
        const size_t saved_floor = m_floor;
        m_scopes.push_back(std::move(scope));
        m_floor = m_scopes.size() - 1;
        std::string out;
        std::string* saved_out = m_out;
        m_out = &out;
        try {
            exec(*macro.body);
        } catch (...) {
            m_out = saved_out; m_scopes.pop_back(); m_floor = saved_floor; --m_macro_depth;
            throw;
        }
        m_out = saved_out;
        m_scopes.pop_back();
        m_floor = saved_floor;
        --m_macro_depth;
        return out;
    }

    size_t max_items() const { return m_lim.max_items; }
    size_t max_depth() const { return m_lim.max_depth; }
    size_t max_output() const { return m_lim.max_output; }
    std::time_t now() const { return m_now; }

    Value apply_test(const std::string& name, const Value& v, const std::vector<Value>& args, size_t pos);
    Value apply_filter(const std::string& name, const Value& v, CallArgs& args, size_t pos);

private:
    const std::string& m_src;
    const Limits& m_lim;
    std::time_t m_now;
    std::vector<Scope> m_scopes;
    size_t m_floor = 0;       // lookups see scopes [m_floor, end) and scope 0 (inside a macro)
    std::string* m_out = nullptr;
    uint64_t m_steps = 0;
    size_t m_depth = 0;
    size_t m_macro_depth = 0;

    struct Depth {
        Interpreter& in;
        Depth(Interpreter& i, size_t pos) : in(i) {
            if (++in.m_depth > in.m_lim.max_depth)
                in.fail("evaluation nested more than " + std::to_string(in.m_lim.max_depth) + " deep", pos);
            if (++in.m_steps > in.m_lim.max_steps)
                in.fail("template exceeded " + std::to_string(in.m_lim.max_steps) + " evaluation steps (endless or huge loop?)", pos);
        }
        ~Depth() { --in.m_depth; }
    };

    void emit(const std::string& s, size_t pos) {
        m_out->append(s);
        if (m_out->size() > m_lim.max_output)
            fail("template output exceeds " + std::to_string(m_lim.max_output) + " bytes", pos);
    }

    Value lookup(const std::string& name) const {
        for (size_t i = m_scopes.size(); i-- > m_floor;) {
            auto it = m_scopes[i].vars.find(name);
            if (it != m_scopes[i].vars.end()) return it->second;
        }
        if (m_floor > 0) {
            auto it = m_scopes[0].vars.find(name);
            if (it != m_scopes[0].vars.end()) return it->second;
        }
        return global(name);
    }
    Value global(const std::string& name) const;
    void assign(const std::string& name, Value v) { m_scopes.back().vars[name] = std::move(v); }

    // ------------------------------------------------------------ statements
    Flow exec(const Node& n) {
        Depth d(*this, n.pos);
        switch (n.kind) {
        case NodeKind::Body:
            for (const auto& k : n.kids) {
                const Flow f = exec(*k);
                if (f != Flow::Normal) return f;
            }
            return Flow::Normal;
        case NodeKind::Text: emit(n.value.str(), n.pos); return Flow::Normal;
        case NodeKind::Output: emit(eval(*n.kids[0]).to_str(), n.pos); return Flow::Normal;
        case NodeKind::If:
            if (eval(*n.kids[0]).truthy()) return exec(*n.body);
            return n.else_body ? exec(*n.else_body) : Flow::Normal;
        case NodeKind::For: return exec_for(n);
        case NodeKind::Set: {
            Value v = eval(*n.kids[0]);
            if (n.names.size() == 1) { assign(n.names[0], std::move(v)); return Flow::Normal; }
            unpack(n.names, v, n.pos, [&](const std::string& k, Value x) { assign(k, std::move(x)); });
            return Flow::Normal;
        }
        case NodeKind::SetAttr: {
            Value ns = lookup(n.name);
            if (!ns.is_object() || !ns.obj().is_namespace)
                fail("cannot assign attribute '" + n.attr + "' on '" + n.name + "': not a namespace()", n.pos);
            Value v = eval(*n.kids[0]);
            check_namespace_attr(v, n.pos);
            ns.obj_mut().set(n.attr, std::move(v));
            return Flow::Normal;
        }
        case NodeKind::SetBlock: {
            Value v(capture(*n.body));
            if (!n.kids.empty()) v = apply_filter_chain(*n.kids[0], v);
            assign(n.name, std::move(v));
            return Flow::Normal;
        }
        case NodeKind::FilterBlock: {
            const Value v = apply_filter_chain(*n.kids[0], Value(capture(*n.body)));
            emit(v.to_str(), n.pos);
            return Flow::Normal;
        }
        case NodeKind::Macro: {
            auto fn = std::make_shared<Function>();
            fn->name = n.name;
            const Node* macro = &n;
            const size_t pos = n.pos;
            fn->call = [macro, pos](Interpreter& in, CallArgs& args) { return Value(in.render_macro(*macro, args, pos)); };
            assign(n.name, Value::function(std::move(fn)));
            return Flow::Normal;
        }
        case NodeKind::CallBlock: {
            // {% call m(args) %}body{% endcall %}: m's caller() renders body where the call stands.
            auto site = std::make_shared<Scope>();
            if (m_floor > 0) site->vars = m_scopes[0].vars;
            for (size_t i = m_floor; i < m_scopes.size(); ++i)
                for (const auto& [k, v] : m_scopes[i].vars) site->vars[k] = v;
            const Node* body = n.body.get();
            auto caller = make_caller(site, body);
            const Node& call = *n.kids[0];
            const Value callee = eval(*call.kids[0]);
            CallArgs args = eval_args(call);
            args.keyword.emplace_back("caller", Value::function(std::move(caller)));
            if (!callee.is_function()) fail("{% call %} needs a macro", n.pos);
            emit(callee.fn().call(*this, args).to_str(), n.pos);
            return Flow::Normal;
        }
        case NodeKind::Break: return Flow::Break;
        case NodeKind::Continue: return Flow::Continue;
        default: fail("internal error: expression used as a statement", n.pos);
        }
    }

    std::shared_ptr<Function> make_caller(std::shared_ptr<Scope> site, const Node* body) {
        auto fn = std::make_shared<Function>();
        fn->name = "caller";
        fn->call = [site, body](Interpreter& in, CallArgs&) {
            const size_t saved_floor = in.m_floor;
            in.m_scopes.push_back(*site);
            in.m_floor = in.m_scopes.size() - 1;
            std::string out;
            try { out = in.capture(*body); } catch (...) { in.m_scopes.pop_back(); in.m_floor = saved_floor; throw; }
            in.m_scopes.pop_back();
            in.m_floor = saved_floor;
            return Value(std::move(out));
        };
        return fn;
    }

public:
    // What a namespace attribute may hold: no namespace (so values stay acyclic) and bounded depth.
    void check_namespace_attr(const Value& v, size_t pos) const {
        if (v.holds_namespace()) fail("a namespace() attribute cannot hold a namespace", pos);
        check_depth(v, pos);
    }
    void check_depth(const Value& v, size_t pos) const {
        if (v.depth() > m_lim.max_depth)
            fail("value nested more than " + std::to_string(m_lim.max_depth) + " levels deep", pos);
    }

private:
    std::string capture(const Node& body) {
        std::string out;
        std::string* saved = m_out;
        m_out = &out;
        try { exec(body); } catch (...) { m_out = saved; throw; }
        m_out = saved;
        return out;
    }

    Value apply_filter_chain(const Node& f, Value v) {
        if (f.kids[0]) v = apply_filter_chain(*f.kids[0], v);
        CallArgs args = eval_args(f);
        return apply_filter(f.name, v, args, f.pos);
    }

    template <class F>
    void unpack(const std::vector<std::string>& names, const Value& v, size_t pos, F&& bind) {
        const std::vector<Value> items = iterate(v, pos);
        if (items.size() != names.size())
            fail(std::string(items.size() < names.size() ? "not enough" : "too many") + " values to unpack (expected " +
                 std::to_string(names.size()) + ", got " + std::to_string(items.size()) + ")", pos);
        for (size_t i = 0; i < names.size(); ++i) bind(names[i], items[i]);
    }

    Flow exec_for(const Node& n) {
        const Value seq = eval(*n.kids[0]);
        std::vector<Value> items = iterate(seq, n.kids[0]->pos);
        const auto bind = [&](Scope& s, const Value& item) {
            if (n.names.size() == 1) s.vars[n.names[0]] = item;
            else unpack(n.names, item, n.pos, [&](const std::string& k, Value x) { s.vars[k] = std::move(x); });
        };
        if (n.kids[1]) {   // {% for x in xs if cond %}: filtered before loop.length is known
            std::vector<Value> kept;
            for (const auto& item : items) {
                m_scopes.emplace_back();
                bind(m_scopes.back(), item);
                bool keep = false;
                try { keep = eval(*n.kids[1]).truthy(); } catch (...) { m_scopes.pop_back(); throw; }
                m_scopes.pop_back();
                if (keep) kept.push_back(item);
            }
            items = std::move(kept);
        }
        if (items.empty()) return n.else_body ? exec(*n.else_body) : Flow::Normal;
        const int64_t len = int64_t(items.size());
        for (int64_t i = 0; i < len; ++i) {
            if (++m_steps > m_lim.max_steps)
                fail("template exceeded " + std::to_string(m_lim.max_steps) + " evaluation steps (endless or huge loop?)", n.pos);
            m_scopes.emplace_back();
            Scope& s = m_scopes.back();
            bind(s, items[size_t(i)]);
            auto loop = std::make_shared<Object>();
            loop->set("index", Value(i + 1));
            loop->set("index0", Value(i));
            loop->set("revindex", Value(len - i));
            loop->set("revindex0", Value(len - i - 1));
            loop->set("first", Value(i == 0));
            loop->set("last", Value(i == len - 1));
            loop->set("length", Value(len));
            loop->set("depth", Value(1));
            loop->set("depth0", Value(0));
            loop->set("previtem", i > 0 ? items[size_t(i - 1)] : Value::undefined("there is no previous item"));
            loop->set("nextitem", i + 1 < len ? items[size_t(i + 1)] : Value::undefined("there is no next item"));
            auto cycle = std::make_shared<Function>();
            cycle->name = "loop.cycle";
            cycle->call = [i](Interpreter&, CallArgs& a) {
                if (a.positional.empty()) throw std::runtime_error("no items for cycling given");
                return a.positional[size_t(i) % a.positional.size()];
            };
            loop->set("cycle", Value::function(std::move(cycle)));
            s.vars["loop"] = Value::object(std::move(loop));
            Flow f;
            try { f = exec(*n.body); } catch (...) { m_scopes.pop_back(); throw; }
            m_scopes.pop_back();
            if (f == Flow::Break) break;
        }
        return Flow::Normal;
    }

public:
    std::vector<Value> iterate(const Value& v, size_t pos) const {
        switch (v.kind()) {
        case Value::Kind::Undefined: return {};
        case Value::Kind::Array: return v.items();
        case Value::Kind::Object: {
            std::vector<Value> keys;
            for (const auto& e : v.obj().entries) keys.emplace_back(e.first);
            return keys;
        }
        case Value::Kind::String: {
            std::vector<Value> chars;
            for (uint32_t cp : decode_utf8(v.str())) { std::string c; encode_utf8(cp, c); chars.emplace_back(std::move(c)); }
            return chars;
        }
        default: fail(std::string("'") + v.type_name() + "' object is not iterable", pos);
        }
    }

    // ------------------------------------------------------------ expressions
    CallArgs eval_args(const Node& n) {
        CallArgs a;
        for (size_t i = 1; i < n.kids.size(); ++i) a.positional.push_back(eval(*n.kids[i]));
        for (const auto& [k, e] : n.kw) {
            Value v = eval(*e);
            if (k == "*") {          // f(*args)
                for (auto& x : iterate(v, e->pos)) a.positional.push_back(std::move(x));
            } else if (k == "**") {  // f(**kwargs)
                if (!v.is_object()) fail("argument after ** must be a mapping", e->pos);
                for (const auto& [key, x] : v.obj().entries) a.keyword.emplace_back(key, x);
            } else {
                a.keyword.emplace_back(k, std::move(v));
            }
        }
        return a;
    }

    Value eval(const Node& n) {
        Depth d(*this, n.pos);
        try {
            return eval_inner(n);
        } catch (const Error& e) {
            if (e.line() != 0) throw;
            const auto [l, c] = line_column(m_src, n.pos);   // raise_exception(): give it a position
            Error located(e.message(), n.pos, l, c);
            if (e.raised()) located.set_raised();
            throw located;
        } catch (const std::exception& e) {
            fail(e.what(), n.pos);
        }
    }

    Value eval_inner(const Node& n) {
        switch (n.kind) {
        case NodeKind::Literal: return n.value;
        case NodeKind::Name: return lookup(n.name);
        case NodeKind::Attr: return get_attr(eval(*n.kids[0]), n.attr, n.kids[0].get());
        case NodeKind::Index: return get_item(eval(*n.kids[0]), eval(*n.kids[1]), n.kids[0].get());
        case NodeKind::Slice: {
            const Value obj = eval(*n.kids[0]);
            Value b, e, s;
            if (n.kids[1]) b = eval(*n.kids[1]);
            if (n.kids[2]) e = eval(*n.kids[2]);
            if (n.kids[3]) s = eval(*n.kids[3]);
            for (const Value* x : {&b, &e, &s})
                if (!x->is_undefined() && !x->is_none() && !x->is_int() && !x->is_bool())
                    throw std::runtime_error("slice indices must be integers or None");
            const Value* pb = n.kids[1] ? &b : nullptr;
            const Value* pe = n.kids[2] ? &e : nullptr;
            const Value* ps = n.kids[3] ? &s : nullptr;
            if (obj.is_undefined()) undefined_error(obj);
            if (obj.is_string()) {
                const auto cps = decode_utf8(obj.str());
                std::string out;
                for (int64_t i : slice_positions(int64_t(cps.size()), pb, pe, ps)) encode_utf8(cps[size_t(i)], out);
                return Value(std::move(out));
            }
            if (obj.is_array()) {
                Array out;
                for (int64_t i : slice_positions(int64_t(obj.items().size()), pb, pe, ps)) out.push_back(obj.items()[size_t(i)]);
                return Value::array(std::move(out), obj.is_tuple());
            }
            throw std::runtime_error(std::string("'") + obj.type_name() + "' object is not subscriptable");
        }
        case NodeKind::Call: {
            const Value callee = eval(*n.kids[0]);
            CallArgs args = eval_args(n);
            if (callee.is_undefined()) undefined_error(callee);
            if (!callee.is_function()) throw std::runtime_error(std::string("'") + callee.type_name() + "' object is not callable");
            return callee.fn().call(*this, args);
        }
        case NodeKind::Filter: {
            const Value v = eval(*n.kids[0]);
            CallArgs args = eval_args(n);
            return apply_filter(n.name, v, args, n.pos);
        }
        case NodeKind::Test: {
            const Value v = eval(*n.kids[0]);
            CallArgs args = eval_args(n);
            const bool r = apply_test(n.name, v, args.positional, n.pos).truthy();
            return Value(n.negated ? !r : r);
        }
        case NodeKind::Unary: {
            const Value v = eval(*n.kids[0]);
            if (n.name == "not") return Value(!v.truthy());
            if (v.is_undefined()) undefined_error(v);
            if (!v.is_number()) throw std::runtime_error("bad operand type for unary " + n.name + ": '" + v.type_name() + "'");
            if (n.name == "+") return v.is_bool() ? Value(v.as_int()) : v;
            if (v.is_float()) return Value(-v.as_double());
            if (v.as_int() == INT64_MIN) throw std::runtime_error("integer overflow");
            return Value(-v.as_int());
        }
        case NodeKind::Binary: {
            if (n.name == "and") {
                Value a = eval(*n.kids[0]);
                return a.truthy() ? eval(*n.kids[1]) : a;
            }
            if (n.name == "or") {
                Value a = eval(*n.kids[0]);
                return a.truthy() ? a : eval(*n.kids[1]);
            }
            return binary(n.name, eval(*n.kids[0]), eval(*n.kids[1]));
        }
        case NodeKind::Compare: {
            Value left = eval(*n.kids[0]);
            for (size_t i = 0; i < n.names.size(); ++i) {
                Value right = eval(*n.kids[i + 1]);
                if (!compare(n.names[i], left, right)) return Value(false);
                left = std::move(right);
            }
            return Value(true);
        }
        case NodeKind::CondExpr:
            if (eval(*n.kids[0]).truthy()) return eval(*n.kids[1]);
            return n.kids[2] ? eval(*n.kids[2]) : Value::undefined("the inline if-expression had no else");
        case NodeKind::List: case NodeKind::Tuple: {
            Array a;
            for (const auto& k : n.kids) a.push_back(eval(*k));
            Value v = Value::array(std::move(a), n.kind == NodeKind::Tuple);
            check_depth(v, n.pos);
            return v;
        }
        case NodeKind::Dict: {
            auto obj = std::make_shared<Object>();
            for (size_t i = 0; i + 1 < n.kids.size(); i += 2) {
                const Value k = eval(*n.kids[i]);
                if (!k.is_string()) throw std::runtime_error("dict keys must be strings in chat templates");
                obj->set(k.str(), eval(*n.kids[i + 1]));
            }
            Value v = Value::object(std::move(obj));
            check_depth(v, n.pos);
            return v;
        }
        default: throw std::runtime_error("internal error: statement used as an expression");
        }
    }

    [[noreturn]] static void undefined_error(const Value& v) {
        throw std::runtime_error(v.str().empty() ? std::string("value is undefined") : v.str());
    }

    Value bound_method(const Value& self, const std::string& name) const;

    Value get_attr(const Value& obj, const std::string& name, const Node* expr) const {
        (void)expr;
        switch (obj.kind()) {
        case Value::Kind::Undefined: undefined_error(obj);
        case Value::Kind::Object: {
            if (obj.obj().is_namespace) {
                if (const Value* v = obj.obj().find(name)) return *v;
                return Value::undefined("'Namespace' object has no attribute '" + name + "'");
            }
            Value m = bound_method(obj, name);
            if (!m.is_undefined()) return m;
            if (const Value* v = obj.obj().find(name)) return *v;
            return Value::undefined("'dict object' has no attribute '" + name + "'");
        }
        case Value::Kind::String: case Value::Kind::Array: {
            Value m = bound_method(obj, name);
            if (!m.is_undefined()) return m;
            return Value::undefined(std::string("'") + obj.type_name() + " object' has no attribute '" + name + "'");
        }
        case Value::Kind::None: return Value::undefined("'None' has no attribute '" + name + "'");
        default: return Value::undefined(std::string("'") + obj.type_name() + " object' has no attribute '" + name + "'");
        }
    }

    Value get_item(const Value& obj, const Value& key, const Node* expr) const {
        switch (obj.kind()) {
        case Value::Kind::Undefined: undefined_error(obj);
        case Value::Kind::Array: case Value::Kind::String:
            if (key.is_int() || key.is_bool()) {
                if (obj.is_string()) {
                    const auto cps = decode_utf8(obj.str());
                    int64_t i = key.as_int();
                    if (i < 0) i += int64_t(cps.size());
                    if (i < 0 || i >= int64_t(cps.size())) return Value::undefined("'str object' has no element " + key.repr());
                    std::string c;
                    encode_utf8(cps[size_t(i)], c);
                    return Value(std::move(c));
                }
                int64_t i = key.as_int();
                if (i < 0) i += int64_t(obj.items().size());
                if (i < 0 || i >= int64_t(obj.items().size()))
                    return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + key.repr());
                return obj.items()[size_t(i)];
            }
            if (key.is_string()) return get_attr(obj, key.str(), expr);
            return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + key.repr());
        case Value::Kind::Object:
            if (key.is_string()) {
                if (const Value* v = obj.obj().find(key.str())) return *v;
                return get_attr(obj, key.str(), expr);
            }
            return Value::undefined("'dict object' has no element " + key.repr());
        case Value::Kind::None: return Value::undefined("'None' has no element " + key.repr());
        default: return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + key.repr());
        }
    }

    // Python <, <=, >, >=
    static int order(const Value& a, const Value& b, const char* op) {
        if (a.is_undefined()) undefined_error(a);
        if (b.is_undefined()) undefined_error(b);
        if (a.is_number() && b.is_number()) {
            if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
            return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double() ? 1 : 0;
        }
        if (a.is_string() && b.is_string()) return a.str() < b.str() ? -1 : a.str() > b.str() ? 1 : 0;
        if (a.is_array() && b.is_array() && a.is_tuple() == b.is_tuple()) {
            const auto& x = a.items();
            const auto& y = b.items();
            for (size_t i = 0; i < x.size() && i < y.size(); ++i)
                if (!(x[i] == y[i])) return order(x[i], y[i], op);
            return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
        }
        throw std::runtime_error(std::string("'") + op + "' not supported between instances of '" + a.type_name() +
                                 "' and '" + b.type_name() + "'");
    }

    static bool contains(const Value& container, const Value& item) {
        switch (container.kind()) {
        case Value::Kind::Undefined: return false;
        case Value::Kind::String:
            if (!item.is_string())
                throw std::runtime_error(std::string("'in <string>' requires string as left operand, not ") + item.type_name());
            return container.str().find(item.str()) != std::string::npos;
        case Value::Kind::Array:
            return std::any_of(container.items().begin(), container.items().end(), [&](const Value& x) { return x == item; });
        case Value::Kind::Object: return item.is_string() && container.obj().find(item.str()) != nullptr;
        default: throw std::runtime_error(std::string("argument of type '") + container.type_name() + "' is not iterable");
        }
    }

    static bool compare(const std::string& op, const Value& a, const Value& b) {
        if (op == "==") return a == b;
        if (op == "!=") return !(a == b);
        if (op == "in") return contains(b, a);
        if (op == "notin") return !contains(b, a);
        const int c = order(a, b, op.c_str());
        if (op == "<") return c < 0;
        if (op == "<=") return c <= 0;
        if (op == ">") return c > 0;
        return c >= 0;
    }

    Value binary(const std::string& op, const Value& a, const Value& b) const {
        if (op == "~") {
            std::string s = a.to_str() + b.to_str();
            check_size(s.size());
            return Value(std::move(s));
        }
        if (a.is_undefined()) undefined_error(a);
        if (b.is_undefined()) undefined_error(b);
        const auto type_error = [&]() -> Value {
            throw std::runtime_error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
        };
        if (a.is_number() && b.is_number()) {
            const bool floats = a.is_float() || b.is_float();
            if (op == "/") {
                if (b.as_double() == 0) throw std::runtime_error("division by zero");
                return Value(a.as_double() / b.as_double());
            }
            if (floats) {
                const double x = a.as_double(), y = b.as_double();
                if (op == "+") return Value(x + y);
                if (op == "-") return Value(x - y);
                if (op == "*") return Value(x * y);
                if (op == "**") return Value(std::pow(x, y));
                if (y == 0) throw std::runtime_error("float division by zero");
                if (op == "//") return Value(std::floor(x / y));
                if (op == "%") { double m = std::fmod(x, y); if (m != 0 && ((m < 0) != (y < 0))) m += y; return Value(m); }
                return type_error();
            }
            const int64_t x = a.as_int(), y = b.as_int();
            int64_t r = 0;
            const auto overflow = [] { throw std::runtime_error("integer overflow"); };
            if (op == "+") { if (__builtin_add_overflow(x, y, &r)) overflow(); return Value(r); }
            if (op == "-") { if (__builtin_sub_overflow(x, y, &r)) overflow(); return Value(r); }
            if (op == "*") { if (__builtin_mul_overflow(x, y, &r)) overflow(); return Value(r); }
            if (op == "**") {
                if (y < 0) return Value(std::pow(double(x), double(y)));
                if (x == 0) return Value(int64_t(y == 0 ? 1 : 0));
                if (x == 1) return Value(int64_t(1));
                if (x == -1) return Value(int64_t(y % 2 ? -1 : 1));
                r = 1;
                for (int64_t i = 0; i < y; ++i)   // |x| >= 2: overflows within 63 steps
                    if (__builtin_mul_overflow(r, x, &r)) overflow();
                return Value(r);
            }
            if (y == 0) throw std::runtime_error("integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) overflow();
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) { --q; m += y; }
            if (op == "//") return Value(q);
            if (op == "%") return Value(m);
            return type_error();
        }
        if (op == "+") {
            if (a.is_string() && b.is_string()) {
                check_size(a.str().size() + b.str().size());
                return Value(a.str() + b.str());
            }
            if (a.is_array() && b.is_array() && a.is_tuple() == b.is_tuple()) {
                if (a.items().size() + b.items().size() > m_lim.max_items) throw std::runtime_error("list too long");
                Array r = a.items();
                r.insert(r.end(), b.items().begin(), b.items().end());
                return Value::array(std::move(r), a.is_tuple());
            }
            if (a.is_string() || b.is_string())
                throw std::runtime_error(std::string("can only concatenate str (not \"") + (a.is_string() ? b : a).type_name() + "\") to str");
            return type_error();
        }
        if (op == "*" && (a.is_string() || a.is_array() || b.is_string() || b.is_array())) {
            const Value& seq = a.is_string() || a.is_array() ? a : b;
            const Value& cnt = a.is_string() || a.is_array() ? b : a;
            if (!cnt.is_int() && !cnt.is_bool()) return type_error();
            const int64_t n = std::max<int64_t>(0, cnt.as_int());
            if (seq.is_string()) {
                if (n > 0 && seq.str().size() > m_lim.max_output / size_t(n)) check_size(m_lim.max_output + 1);
                std::string r;
                for (int64_t i = 0; i < n; ++i) r += seq.str();
                return Value(std::move(r));
            }
            if (n > 0 && seq.items().size() > m_lim.max_items / size_t(n)) throw std::runtime_error("list too long");
            Array r;
            for (int64_t i = 0; i < n; ++i) r.insert(r.end(), seq.items().begin(), seq.items().end());
            return Value::array(std::move(r), seq.is_tuple());
        }
        return type_error();
    }

    void check_size(size_t n) const {
        if (n > m_lim.max_output)
            throw std::runtime_error("string longer than " + std::to_string(m_lim.max_output) + " bytes");
    }
};

namespace {

// ---------------------------------------------------------------- argument helpers

const Value* arg(const CallArgs& a, size_t index, const char* name) {
    for (const auto& [k, v] : a.keyword)
        if (k == name) return &v;
    return index < a.positional.size() ? &a.positional[index] : nullptr;
}
Value arg_or(const CallArgs& a, size_t index, const char* name, Value dflt) {
    const Value* v = arg(a, index, name);
    return v ? *v : std::move(dflt);
}
const std::string& need_str(const Value& v, const char* what) {
    if (!v.is_string()) throw std::runtime_error(std::string(what) + " must be a string, not " + v.type_name());
    return v.str();
}
std::shared_ptr<Function> make_fn(std::string name, std::function<Value(Interpreter&, CallArgs&)> f) {
    auto fn = std::make_shared<Function>();
    fn->name = std::move(name);
    fn->call = std::move(f);
    return fn;
}

// Attribute path "a.b.0" as jinja2's make_attrgetter reads it.
Value attr_path(Interpreter& in, const Value& item, const std::string& path) {
    Value cur = item;
    size_t pos = 0;
    while (pos <= path.size()) {
        const size_t dot = path.find('.', pos);
        const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        cur = in.get_item(cur, numeric ? Value(int64_t(std::stoll(part))) : Value(part), nullptr);
        if (dot == std::string::npos) break;
        pos = dot + 1;
    }
    return cur;
}

void namespace_attr_ok(const Interpreter& in, const Value& v) {
    if (v.holds_namespace()) throw std::runtime_error("a namespace() attribute cannot hold a namespace");
    if (v.depth() > in.max_depth()) throw std::runtime_error("value nested more than " + std::to_string(in.max_depth()) + " levels deep");
}

std::string strftime_value(std::time_t t, const std::string& fmt) {
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[512];
    const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    return std::string(buf, n);
}

}  // namespace

Value Interpreter::global(const std::string& name) const {
    static const std::unordered_map<std::string, Value> globals = [] {
        std::unordered_map<std::string, Value> g;
        g["range"] = Value::function(make_fn("range", [](Interpreter& in, CallArgs& a) {
            int64_t start = 0, stop = 0, step = 1;
            for (const auto& v : a.positional)
                if (!v.is_int() && !v.is_bool()) throw std::runtime_error(std::string("range() takes integers, not ") + v.type_name());
            if (a.positional.size() == 1) stop = a.positional[0].as_int();
            else if (a.positional.size() >= 2) {
                start = a.positional[0].as_int();
                stop = a.positional[1].as_int();
                if (a.positional.size() >= 3) step = a.positional[2].as_int();
            } else throw std::runtime_error("range expected at least 1 argument");
            if (step == 0) throw std::runtime_error("range() arg 3 must not be zero");
            Array r;
            for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
                if (r.size() >= in.max_items()) throw std::runtime_error("range() too long (more than " + std::to_string(in.max_items()) + " items)");
                r.emplace_back(i);
                if (__builtin_add_overflow(i, step, &i)) break;
            }
            return Value::array(std::move(r));
        }));
        g["namespace"] = Value::function(make_fn("namespace", [](Interpreter& in, CallArgs& a) {
            auto obj = std::make_shared<Object>();
            obj->is_namespace = true;
            for (const auto& v : a.positional) {
                if (!v.is_object()) throw std::runtime_error("namespace() takes keyword arguments or a dict");
                for (const auto& [k, x] : v.obj().entries) { namespace_attr_ok(in, x); obj->set(k, x); }
            }
            for (const auto& [k, v] : a.keyword) { namespace_attr_ok(in, v); obj->set(k, v); }
            return Value::object(std::move(obj));
        }));
        g["dict"] = Value::function(make_fn("dict", [](Interpreter&, CallArgs& a) {
            auto obj = std::make_shared<Object>();
            for (const auto& v : a.positional)
                if (v.is_object()) for (const auto& [k, x] : v.obj().entries) obj->set(k, x);
            for (const auto& [k, v] : a.keyword) obj->set(k, v);
            return Value::object(std::move(obj));
        }));
        g["raise_exception"] = Value::function(make_fn("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
            Error e(a.positional.empty() ? std::string() : a.positional[0].to_str(), 0, 0, 0);
            e.set_raised();
            throw e;
        }));
        g["strftime_now"] = Value::function(make_fn("strftime_now", [](Interpreter& in, CallArgs& a) {
            return Value(strftime_value(in.now(), need_str(arg_or(a, 0, "format", Value("")), "strftime_now() format")));
        }));
        return g;
    }();
    auto it = globals.find(name);
    if (it != globals.end()) return it->second;
    return Value::undefined("'" + name + "' is undefined");
}

Value Interpreter::bound_method(const Value& self, const std::string& name) const {
    using Fn = std::function<Value(Interpreter&, CallArgs&)>;
    Fn f;
    if (self.is_string()) {
        const std::string s = self.str();
        if (name == "strip" || name == "lstrip" || name == "rstrip") {
            const bool l = name != "rstrip", r = name != "lstrip";
            f = [s, l, r](Interpreter&, CallArgs& a) {
                const Value* c = arg(a, 0, "chars");
                if (c && !c->is_none()) return Value(py_strip(s, &need_str(*c, "strip() chars"), l, r));
                return Value(py_strip(s, nullptr, l, r));
            };
        } else if (name == "split") {
            f = [s](Interpreter&, CallArgs& a) {
                const Value* sep = arg(a, 0, "sep");
                const int64_t maxsplit = arg_or(a, 1, "maxsplit", Value(-1)).as_int();
                if (sep && !sep->is_none()) {
                    if (need_str(*sep, "split() separator").empty()) throw std::runtime_error("empty separator");
                    return str_list(py_split(s, &sep->str(), maxsplit));
                }
                return str_list(py_split(s, nullptr, maxsplit));
            };
        } else if (name == "startswith" || name == "endswith") {
            const bool start = name == "startswith";
            f = [s, start](Interpreter&, CallArgs& a) {
                const Value p = arg_or(a, 0, "prefix", Value());
                const auto test = [&](const Value& x) {
                    const std::string& t = need_str(x, "startswith()/endswith() argument");
                    if (t.size() > s.size()) return false;
                    return start ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
                };
                if (p.is_array()) return Value(std::any_of(p.items().begin(), p.items().end(), test));
                return Value(test(p));
            };
        } else if (name == "upper") f = [s](Interpreter&, CallArgs&) { return Value(str_upper(s)); };
        else if (name == "lower") f = [s](Interpreter&, CallArgs&) { return Value(str_lower(s)); };
        else if (name == "title") f = [s](Interpreter&, CallArgs&) { return Value(py_title(s)); };
        else if (name == "capitalize") f = [s](Interpreter&, CallArgs&) { return Value(py_capitalize(s)); };
        else if (name == "replace") {
            f = [s](Interpreter& in, CallArgs& a) {
                const Value from = arg_or(a, 0, "old", Value()), to = arg_or(a, 1, "new", Value());
                std::string r = py_replace(s, need_str(from, "replace() old"), need_str(to, "replace() new"),
                                           arg_or(a, 2, "count", Value(-1)).as_int());
                if (r.size() > in.max_output()) throw std::runtime_error("string too long");
                return Value(std::move(r));
            };
        } else if (name == "find") {
            f = [s](Interpreter&, CallArgs& a) {
                const size_t at = s.find(need_str(arg_or(a, 0, "sub", Value()), "find() argument"));
                return Value(at == std::string::npos ? int64_t(-1) : int64_t(utf8_length(s.substr(0, at))));
            };
        } else if (name == "count") {
            f = [s](Interpreter&, CallArgs& a) {
                const std::string& t = need_str(arg_or(a, 0, "sub", Value()), "count() argument");
                if (t.empty()) return Value(int64_t(utf8_length(s) + 1));
                int64_t n = 0;
                for (size_t p = s.find(t); p != std::string::npos; p = s.find(t, p + t.size())) ++n;
                return Value(n);
            };
        } else if (name == "join") {
            f = [s](Interpreter& in, CallArgs& a) {
                std::string out;
                bool first = true;
                for (const auto& x : in.iterate(arg_or(a, 0, "iterable", Value()), 0)) {
                    if (!first) out += s;
                    first = false;
                    out += need_str(x, "join() item");
                    if (out.size() > in.max_output()) throw std::runtime_error("string too long");
                }
                return Value(std::move(out));
            };
        } else if (name == "splitlines") {
            f = [s](Interpreter&, CallArgs&) {
                std::vector<std::string> parts;
                size_t pos = 0;
                while (pos < s.size()) {
                    size_t e = s.find_first_of("\r\n", pos);
                    if (e == std::string::npos) { parts.push_back(s.substr(pos)); break; }
                    parts.push_back(s.substr(pos, e - pos));
                    pos = e + ((s[e] == '\r' && e + 1 < s.size() && s[e + 1] == '\n') ? 2 : 1);
                }
                return str_list(parts);
            };
        } else if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum" || name == "isupper" || name == "islower") {
            f = [s, name](Interpreter&, CallArgs&) {
                if (s.empty()) return Value(false);
                bool any_cased = false;
                for (unsigned char c : s) {
                    const bool digit = c >= '0' && c <= '9', alpha = is_cased(c), space = py_space(c);
                    if (name == "isdigit" && !digit) return Value(false);
                    if (name == "isspace" && !space) return Value(false);
                    if (name == "isalpha" && !alpha) return Value(false);
                    if (name == "isalnum" && !alpha && !digit) return Value(false);
                    if (name == "isupper" && c >= 'a' && c <= 'z') return Value(false);
                    if (name == "islower" && c >= 'A' && c <= 'Z') return Value(false);
                    any_cased = any_cased || alpha;
                }
                return Value(name == "isupper" || name == "islower" ? any_cased : true);
            };
        }
    } else if (self.is_object() && !self.obj().is_namespace) {
        const Value obj = self;
        if (name == "items") {
            f = [obj](Interpreter&, CallArgs&) {
                Array r;
                for (const auto& [k, v] : obj.obj().entries) r.push_back(Value::array({Value(k), v}, true));
                return Value::array(std::move(r));
            };
        } else if (name == "keys") {
            f = [obj](Interpreter&, CallArgs&) {
                Array r;
                for (const auto& e : obj.obj().entries) r.emplace_back(e.first);
                return Value::array(std::move(r));
            };
        } else if (name == "values") {
            f = [obj](Interpreter&, CallArgs&) {
                Array r;
                for (const auto& e : obj.obj().entries) r.push_back(e.second);
                return Value::array(std::move(r));
            };
        } else if (name == "get") {
            f = [obj](Interpreter&, CallArgs& a) {
                const Value k = arg_or(a, 0, "key", Value());
                if (k.is_string())
                    if (const Value* v = obj.obj().find(k.str())) return *v;
                return arg_or(a, 1, "default", Value::none());
            };
        }
    }
    if (!f) return Value();
    return Value::function(make_fn(name, std::move(f)));
}

Value Interpreter::apply_test(const std::string& name, const Value& v, const std::vector<Value>& args, size_t pos) {
    const auto a0 = [&]() -> const Value& {
        if (args.empty()) fail("test '" + name + "' needs an argument", pos);
        return args[0];
    };
    if (name == "defined") return Value(!v.is_undefined());
    if (name == "undefined") return Value(v.is_undefined());
    if (name == "none") return Value(v.is_none());
    if (name == "boolean") return Value(v.is_bool());
    if (name == "true") return Value(v.is_bool() && v.as_bool());
    if (name == "false") return Value(v.is_bool() && !v.as_bool());
    if (name == "integer") return Value(v.is_int());
    if (name == "float") return Value(v.is_float());
    if (name == "number") return Value(v.is_number());
    if (name == "string") return Value(v.is_string());
    if (name == "mapping") return Value(v.is_object() && !v.obj().is_namespace);
    if (name == "iterable") return Value(v.is_undefined() || v.is_string() || v.is_array() || (v.is_object() && !v.obj().is_namespace));
    if (name == "sequence") return Value(v.is_string() || v.is_array() || (v.is_object() && !v.obj().is_namespace));
    if (name == "callable") return Value(v.is_function());
    if (name == "sameas") {
        const Value& o = a0();
        if (v.kind() != o.kind()) return Value(false);
        if (v.is_array()) return Value(&v.items() == &o.items());
        if (v.is_object()) return Value(v.obj_ptr() == o.obj_ptr());
        return Value(v == o);
    }
    if (name == "eq" || name == "equalto" || name == "==") return Value(v == a0());
    if (name == "ne" || name == "!=") return Value(!(v == a0()));
    if (name == "lt" || name == "lessthan" || name == "<") return Value(compare("<", v, a0()));
    if (name == "le" || name == "<=") return Value(compare("<=", v, a0()));
    if (name == "gt" || name == "greaterthan" || name == ">") return Value(compare(">", v, a0()));
    if (name == "ge" || name == ">=") return Value(compare(">=", v, a0()));
    if (name == "in") return Value(contains(a0(), v));
    if (name == "odd" || name == "even" || name == "divisibleby") {
        if (!v.is_int() && !v.is_bool()) fail("test '" + name + "' needs an integer", pos);
        if (name == "divisibleby") {
            const int64_t d = a0().as_int();
            if (d == 0) fail("divisibleby 0", pos);
            if (d == -1) return Value(true);
            return Value(v.as_int() % d == 0);
        }
        return Value((v.as_int() % 2 != 0) == (name == "odd"));
    }
    if (name == "lower") return Value(v.is_string() && str_lower(v.str()) == v.str());
    if (name == "upper") return Value(v.is_string() && str_upper(v.str()) == v.str());
    if (name == "escaped") return Value(false);
    fail("unknown test '" + name + "'", pos);
}

Value Interpreter::apply_filter(const std::string& name, const Value& v, CallArgs& a, size_t pos) {
    const auto need_string = [&]() -> std::string {
        if (v.is_undefined()) return std::string();
        return v.to_str();
    };
    const auto seq = [&]() { return iterate(v, pos); };
    if (name == "trim") {
        const Value* c = arg(a, 0, "chars");
        const std::string s = need_string();
        return Value(c && !c->is_none() ? py_strip(s, &need_str(*c, "trim() chars"), true, true) : py_strip(s, nullptr, true, true));
    }
    if (name == "tojson") {   // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
        const bool ensure_ascii = arg_or(a, 0, "ensure_ascii", Value(false)).truthy();
        const Value ind = arg_or(a, 1, "indent", Value::none());
        const Value seps = arg_or(a, 2, "separators", Value::none());
        const bool sort_keys = arg_or(a, 3, "sort_keys", Value(false)).truthy();
        if (!ind.is_none() && !ind.is_int()) fail("tojson indent must be an integer", pos);
        std::string item_sep, key_sep;
        if (!seps.is_none()) {
            if (!seps.is_array() || seps.items().size() != 2 || !seps.items()[0].is_string() || !seps.items()[1].is_string())
                fail("tojson separators must be a pair of strings", pos);
            item_sep = seps.items()[0].str();
            key_sep = seps.items()[1].str();
        }
        std::string s = v.to_json(ind.is_none() ? -1 : int(std::clamp<int64_t>(ind.as_int(), 0, 64)), sort_keys,
                                  seps.is_none() ? nullptr : &item_sep, seps.is_none() ? nullptr : &key_sep, ensure_ascii);
        if (s.size() > m_lim.max_output) fail("tojson output too long", pos);
        return Value(std::move(s));
    }
    if (name == "length" || name == "count") {
        if (v.is_string()) return Value(int64_t(utf8_length(v.str())));
        if (v.is_array()) return Value(int64_t(v.items().size()));
        if (v.is_object()) return Value(int64_t(v.obj().entries.size()));
        if (v.is_undefined()) return Value(0);
        fail(std::string("object of type '") + v.type_name() + "' has no len()", pos);
    }
    if (name == "upper") return Value(str_upper(need_string()));
    if (name == "lower") return Value(str_lower(need_string()));
    if (name == "title") return Value(jinja_title(need_string()));
    if (name == "capitalize") return Value(py_capitalize(need_string()));
    if (name == "string") return Value(v.to_str());
    if (name == "safe") return v;
    if (name == "escape" || name == "e" || name == "forceescape") return Value(html_escape(v.to_str()));
    if (name == "replace") {
        const Value from = arg_or(a, 0, "old", Value()), to = arg_or(a, 1, "new", Value());
        std::string r = py_replace(need_string(), from.to_str(), to.to_str(), arg_or(a, 2, "count", Value::none()).is_none() ? -1 : arg_or(a, 2, "count", Value()).as_int());
        if (r.size() > m_lim.max_output) fail("replace() result too long", pos);
        return Value(std::move(r));
    }
    if (name == "join") {
        const std::string sep = arg_or(a, 0, "d", Value("")).to_str();
        const Value* attr = arg(a, 1, "attribute");
        std::string out;
        bool first = true;
        for (const auto& x : seq()) {
            if (!first) out += sep;
            first = false;
            out += (attr && !attr->is_none() ? attr_path(*this, x, attr->to_str()) : x).to_str();
            if (out.size() > m_lim.max_output) fail("join() result too long", pos);
        }
        return Value(std::move(out));
    }
    if (name == "first") {
        const auto items = seq();
        return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
    }
    if (name == "last") {
        const auto items = seq();
        return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
    }
    if (name == "default" || name == "d") {
        const bool boolean = arg_or(a, 1, "boolean", Value(false)).truthy();
        if (v.is_undefined() || (boolean && !v.truthy())) return arg_or(a, 0, "default_value", Value(""));
        return v;
    }
    if (name == "int") {
        const Value dflt = arg_or(a, 0, "default", Value(0));
        if (v.is_int()) return v;
        if (v.is_bool()) return Value(v.as_int());
        if (v.is_float()) return std::isfinite(v.as_double()) ? Value(v.as_int()) : dflt;
        if (v.is_string()) {
            const std::string s = py_strip(v.str(), nullptr, true, true);
            try {
                size_t used = 0;
                const long long i = std::stoll(s, &used, int(arg_or(a, 1, "base", Value(10)).as_int()));
                if (used == s.size()) return Value(int64_t(i));
                const double d = std::stod(s, &used);
                if (used == s.size() && std::isfinite(d)) return Value(Value(d).as_int());
            } catch (const std::exception&) {
            }
        }
        return dflt;
    }
    if (name == "float") {
        const Value dflt = arg_or(a, 0, "default", Value(0.0));
        if (v.is_number()) return Value(v.as_double());
        if (v.is_string()) {
            try {
                size_t used = 0;
                const std::string s = py_strip(v.str(), nullptr, true, true);
                const double d = std::stod(s, &used);
                if (used == s.size()) return Value(d);
            } catch (const std::exception&) {
            }
        }
        return dflt;
    }
    if (name == "abs") {
        if (v.is_float()) return Value(std::fabs(v.as_double()));
        if (v.is_number()) {
            if (v.as_int() == INT64_MIN) fail("integer overflow", pos);
            return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
        }
        fail("abs() needs a number", pos);
    }
    if (name == "round") {
        if (!v.is_number()) fail("round() needs a number", pos);
        const int64_t prec = arg_or(a, 0, "precision", Value(0)).as_int();
        const std::string method = arg_or(a, 1, "method", Value("common")).to_str();
        const double m = std::pow(10.0, double(prec)), x = v.as_double() * m;
        const double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
        return Value(r / m);
    }
    if (name == "list") return Value::array(seq());
    if (name == "items") {
        if (v.is_undefined()) return Value::array({});
        if (!v.is_object()) fail("items() needs a mapping", pos);
        Array r;
        for (const auto& [k, x] : v.obj().entries) r.push_back(Value::array({Value(k), x}, true));
        return Value::array(std::move(r));
    }
    if (name == "dictsort") {
        if (!v.is_object()) fail("dictsort needs a mapping", pos);
        const bool cs = arg_or(a, 0, "case_sensitive", Value(false)).truthy();
        const bool by_value = arg_or(a, 1, "by", Value("key")).to_str() == "value";
        const bool rev = arg_or(a, 2, "reverse", Value(false)).truthy();
        Array r;
        for (const auto& [k, x] : v.obj().entries) r.push_back(Value::array({Value(k), x}, true));
        std::stable_sort(r.begin(), r.end(), [&](const Value& p, const Value& q) {
            Value x = p.items()[by_value ? 1 : 0], y = q.items()[by_value ? 1 : 0];
            if (!cs && x.is_string()) x = Value(str_lower(x.str()));
            if (!cs && y.is_string()) y = Value(str_lower(y.str()));
            return rev ? order(y, x, "<") < 0 : order(x, y, "<") < 0;
        });
        return Value::array(std::move(r));
    }
    if (name == "sort") {
        const bool rev = arg_or(a, 0, "reverse", Value(false)).truthy();
        const bool cs = arg_or(a, 1, "case_sensitive", Value(false)).truthy();
        const Value attr = arg_or(a, 2, "attribute", Value::none());
        Array r = seq();
        const auto key = [&](const Value& x) {
            Value k = attr.is_none() ? x : attr_path(*this, x, attr.to_str());
            return !cs && k.is_string() ? Value(str_lower(k.str())) : k;
        };
        std::stable_sort(r.begin(), r.end(), [&](const Value& p, const Value& q) {
            return rev ? order(key(q), key(p), "<") < 0 : order(key(p), key(q), "<") < 0;
        });
        return Value::array(std::move(r));
    }
    if (name == "reverse") {
        if (v.is_string()) {
            auto cps = decode_utf8(v.str());
            std::reverse(cps.begin(), cps.end());
            return Value(encode_utf8(cps));
        }
        Array r = seq();
        std::reverse(r.begin(), r.end());
        return Value::array(std::move(r));
    }
    if (name == "unique") {
        Array r;
        for (const auto& x : seq())
            if (std::none_of(r.begin(), r.end(), [&](const Value& y) { return x == y; })) r.push_back(x);
        return Value::array(std::move(r));
    }
    if (name == "min" || name == "max") {
        const auto items = seq();
        if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
        Value best = items[0];
        for (const auto& x : items)
            if ((name == "min" && order(x, best, "<") < 0) || (name == "max" && order(x, best, ">") > 0)) best = x;
        return best;
    }
    if (name == "sum") {
        const Value attr = arg_or(a, 0, "attribute", Value::none());
        Value total = arg_or(a, 1, "start", Value(0));
        for (const auto& x : seq()) total = binary("+", total, attr.is_none() ? x : attr_path(*this, x, attr.to_str()));
        return total;
    }
    if (name == "map") {
        Array r;
        const Value* attr = arg(a, 99, "attribute");
        if (attr) {
            const Value* dflt = arg(a, 99, "default");
            for (const auto& x : seq()) {
                Value y = attr_path(*this, x, attr->to_str());
                r.push_back(y.is_undefined() && dflt ? *dflt : y);
            }
            return Value::array(std::move(r));
        }
        if (a.positional.empty()) fail("map() needs a filter name or attribute=", pos);
        const std::string filter = need_str(a.positional[0], "map() filter name");
        CallArgs rest;
        rest.positional.assign(a.positional.begin() + 1, a.positional.end());
        rest.keyword = a.keyword;
        for (const auto& x : seq()) r.push_back(apply_filter(filter, x, rest, pos));
        return Value::array(std::move(r));
    }
    if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
        const bool by_attr = name == "selectattr" || name == "rejectattr";
        const bool keep_if = name == "select" || name == "selectattr";
        size_t i = 0;
        std::string attr;
        if (by_attr) {
            if (a.positional.empty()) fail(name + "() needs an attribute name", pos);
            attr = a.positional[i++].to_str();
        }
        std::string test;
        if (i < a.positional.size()) test = need_str(a.positional[i++], "test name");
        const std::vector<Value> targs(a.positional.begin() + long(i), a.positional.end());
        Array r;
        for (const auto& x : seq()) {
            const Value y = by_attr ? attr_path(*this, x, attr) : x;
            const bool ok = test.empty() ? y.truthy() : apply_test(test, y, targs, pos).truthy();
            if (ok == keep_if) r.push_back(x);
        }
        return Value::array(std::move(r));
    }
    if (name == "attr") return get_attr(v, arg_or(a, 0, "name", Value("")).to_str(), nullptr);
    if (name == "indent") {
        const Value w = arg_or(a, 0, "width", Value(4));
        const std::string ind = w.is_string() ? w.str() : std::string(size_t(std::clamp<int64_t>(w.as_int(), 0, 256)), ' ');
        const bool first = arg_or(a, 1, "first", Value(false)).truthy();
        const bool blank = arg_or(a, 2, "blank", Value(false)).truthy();
        std::vector<std::string> lines;
        const std::string s = need_string() + "\n";
        size_t p = 0;
        while (p < s.size()) {
            const size_t e = s.find('\n', p);
            lines.push_back(s.substr(p, e - p));
            p = e + 1;
        }
        std::string out;
        for (size_t k = 0; k < lines.size(); ++k) {
            if (k > 0) { out += '\n'; if (blank || !lines[k].empty()) out += ind; }
            out += lines[k];
        }
        if (first) out = ind + out;
        if (out.size() > m_lim.max_output) fail("indent() result too long", pos);
        return Value(std::move(out));
    }
    if (name == "wordcount") return Value(int64_t(py_split(need_string(), nullptr, -1).size()));
    if (name == "format") {
        const std::string f = need_string();
        std::string out;
        size_t k = 0;
        for (size_t p = 0; p < f.size(); ++p) {
            if (f[p] != '%' || p + 1 >= f.size()) { out += f[p]; continue; }
            const char c = f[++p];
            if (c == '%') { out += '%'; continue; }
            if (k >= a.positional.size()) fail("not enough arguments for format string", pos);
            const Value& x = a.positional[k++];
            if (c == 's') out += x.to_str();
            else if (c == 'r') out += x.repr();
            else if (c == 'd' || c == 'i') { if (!x.is_number()) fail("%d format: a number is required", pos); out += std::to_string(x.as_int()); }
            else fail(std::string("unsupported format character '") + c + "'", pos);
        }
        return Value(std::move(out));
    }
    fail("unknown filter '" + name + "'", pos);
}

Template::Template(std::string_view source, Limits limits) : m_limits(limits) {
    m_source.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            m_source += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            m_source += source[i];
        }
    }
    if (!m_source.empty() && m_source.back() == '\n') m_source.pop_back();   // keep_trailing_newline=False
    m_root = parse_template(m_source, m_limits.max_depth);
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const Value& context, std::time_t now) const {
    Interpreter in(m_source, m_limits, now);
    try {
        return in.run(*m_root, context);
    } catch (const Error&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw Error("out of memory while rendering", 0, 1, 1);
    }
}

}  // namespace sigma::jinja
