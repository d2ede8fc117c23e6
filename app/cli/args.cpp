// args.cpp - the strict parser (args.h).
#include "args.h"

#include <cctype>
#include <cstdio>

namespace sigmaops::cli {

namespace {

const Flag k_help{"--help", "-h", "", "show this help"};

const Flag* find(const std::vector<Flag>& flags, const std::string& n) {
    if (n == k_help.name || n == k_help.alias) return &k_help;
    for (const Flag& f : flags) {
        if (f.name == n || (!f.alias.empty() && f.alias == n)) return &f;
        for (const std::string& old : f.old_names)
            if (old == n) return &f;
    }
    return nullptr;
}

// "0 and 100", not std::to_string's "0.000000 and 100.000000".
std::string number(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
}

} // namespace

Args::Args(const std::vector<std::string>& argv, const std::vector<Flag>& flags) {
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--") {
            m_n_before_separator = m_positional.size();
            for (++i; i < argv.size(); ++i) m_positional.push_back(argv[i]);
            break;
        }
        // "-" (stdin) and negative numbers are arguments, not options.
        const bool option = a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1])) && a[1] != '.';
        if (!option) {
            m_positional.push_back(a);
            m_n_before_separator = m_positional.size();
            continue;
        }
        std::string name = a, inline_value;
        bool has_inline = false;
        if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            name = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
            has_inline = true;
        }
        const Flag* f = find(flags, name);
        if (!f) throw UsageError("unknown option '" + name + "'");
        if (f->value.empty()) {
            if (has_inline) throw UsageError("option " + f->name + " takes no value");
            m_values[f->name] = "1";
        } else if (has_inline) {
            m_values[f->name] = inline_value;
        } else {
            if (i + 1 >= argv.size()) throw UsageError("option " + f->name + " needs a value (" + f->value + ")");
            m_values[f->name] = argv[++i];
        }
    }
}

std::string Args::get(const std::string& name, const std::string& def) const {
    auto it = m_values.find(name);
    return it == m_values.end() ? def : it->second;
}

long long Args::get_int(const std::string& name, long long def, long long lo, long long hi) const {
    if (!has(name)) return def;
    const std::string v = get(name);
    size_t used = 0;
    long long x = 0;
    try { x = std::stoll(v, &used); } catch (...) { used = 0; }
    if (used != v.size() || v.empty()) throw UsageError(name + " expects an integer, got '" + v + "'");
    if (x < lo || x > hi)
        throw UsageError(name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got '" + v + "'");
    return x;
}

double Args::get_double(const std::string& name, double def, double lo, double hi) const {
    if (!has(name)) return def;
    const std::string v = get(name);
    size_t used = 0;
    double x = 0;
    try { x = std::stod(v, &used); } catch (...) { used = 0; }
    if (used != v.size() || v.empty()) throw UsageError(name + " expects a number, got '" + v + "'");
    if (!(x >= lo && x <= hi)) throw UsageError(name + " must be between " + number(lo) + " and " + number(hi) + ", got '" + v + "'");
    return x;
}

void Args::at_most(size_t n) const {
    if (m_positional.size() > n) throw UsageError("unexpected argument '" + m_positional[n] + "'");
}

} // namespace sigmaops::cli
